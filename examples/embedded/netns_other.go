//go:build !linux

package main

import (
	"context"
	"errors"
	"io"
)

func canNetns() bool { return false }

func runNetns(context.Context, io.Writer, options) error {
	return errors.New("the namespace mode needs Linux")
}

const childEnv = "VIGIL_EMBEDDED_NODE"

func childMain(string) int { return 1 }
