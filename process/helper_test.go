package process

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// helperEnv makes the test binary run helperMain instead of the tests: a
// test starts it as another user to see what the kernel allows them.
const helperEnv = "VIGIL_PROCESS_HELPER"

// helperMain opens a process connector and prints "ok", "permission" (an
// error wrapping ErrPermission), or the error. With "rename:NAME" in
// helperEnv, it waits for a line on stdin, renames itself NAME, prints
// "renamed" and waits for the end of stdin.
func helperMain() int {
	if name, ok := strings.CutPrefix(os.Getenv(helperEnv), "rename:"); ok {
		r := bufio.NewReader(os.Stdin)
		if _, err := r.ReadString('\n'); err != nil {
			return 1
		}
		// Written by any thread, /proc/self/comm renames the process.
		if err := os.WriteFile("/proc/self/comm", []byte(name), 0); err != nil {
			fmt.Println(err)
			return 1
		}
		fmt.Println("renamed")
		_, _ = io.Copy(io.Discard, r)
		return 0
	}
	c, err := dialKernel(0)
	switch {
	case err == nil:
		c.close()
		fmt.Println("ok")
	case errors.Is(err, ErrPermission):
		fmt.Println("permission:", err)
	default:
		fmt.Println("error:", err)
	}
	return 0
}
