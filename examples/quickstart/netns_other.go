//go:build !linux

package main

import (
	"context"
	"errors"
	"io"
	"time"
)

func canNetns() bool { return false }

func runNetns(context.Context, io.Writer, time.Duration) error {
	return errors.New("the namespace mode needs Linux")
}
