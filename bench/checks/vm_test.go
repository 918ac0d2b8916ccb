//go:build linux

package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestVM is how bench/checks/vm runs the bench in tools/ipvsvm's VM,
// where keepalived's checker has IPVS: it runs /sbin/checks (the
// program, put there by the VM's --go-bin) with the arguments in
// CHECKS_VM_ARGS, its output on the console. Skipped anywhere else.
func TestVM(t *testing.T) {
	args := os.Getenv("CHECKS_VM_ARGS")
	if os.Getenv("IPVSVM") != "1" || args == "" {
		t.Skip("runs in tools/ipvsvm's VM only (bench/checks/vm)")
	}
	cmd := exec.Command("/sbin/checks", strings.Fields(args)...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("checks %s: %v", args, err)
	}
}
