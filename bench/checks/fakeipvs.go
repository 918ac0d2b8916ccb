//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// fakeIPVSSource is a stand-in for IPVS that lets keepalived's checker
// run where the kernel has none (-fake-ipvs), natively instead of in
// the TCG VM, where every instruction is emulated and keepalived, the
// Group and the raw loop are slowed unalike (bench/README.md,
// "keepalived's HTTP_GET, natively"). Preloaded into keepalived, it
// answers the IPVS socket options, which keepalived's libipvs uses when
// the kernel has no "IPVS" generic netlink family (libipvs.c,
// ipvs_init), as an empty IPVS that takes every change: GET_INFO and
// GET_VERSION describe IPVS 1.2.1 with no services, GET_SERVICE finds
// none (ESRCH, as the kernel for a service it does not have), the other
// GETs read zeros (no services, destinations or daemons), every SET
// succeeds and changes nothing. Any other socket option goes to libc.
//
// Checking does not touch IPVS: keepalived writes it at start (the
// virtual servers) and when a real server's state changes, which in the
// bench's window is never (no check fails). The checker's CPU per
// check is keepalived's own.
const fakeIPVSSource = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/ip_vs.h>

static int ipvs_option(int level, int name)
{
	return level == IPPROTO_IP && name >= IP_VS_BASE_CTL && name <= IP_VS_SO_SET_MAX;
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	static int (*next)(int, int, int, const void *, socklen_t);

	if (ipvs_option(level, name))
		return 0;
	if (!next)
		next = (int (*)(int, int, int, const void *, socklen_t))dlsym(RTLD_NEXT, "setsockopt");
	return next(fd, level, name, val, len);
}

int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	static int (*next)(int, int, int, void *, socklen_t *);

	if (ipvs_option(level, name) && name <= IP_VS_SO_GET_MAX) {
		if (!val || !len) {
			errno = EFAULT;
			return -1;
		}
		if (name == IP_VS_SO_GET_SERVICE) {
			errno = ESRCH;
			return -1;
		}
		memset(val, 0, *len);
		if (name == IP_VS_SO_GET_INFO && *len >= sizeof(struct ip_vs_getinfo)) {
			struct ip_vs_getinfo info = { .version = 0x010201, .size = 4096, .num_services = 0 };
			memcpy(val, &info, sizeof(info));
		} else if (name == IP_VS_SO_GET_VERSION && *len > 0) {
			snprintf(val, *len, "IP Virtual Server version 1.2.1 (size=4096)");
		}
		return 0;
	}
	if (!next)
		next = (int (*)(int, int, int, void *, socklen_t *))dlsym(RTLD_NEXT, "getsockopt");
	return next(fd, level, name, val, len);
}
`

// buildFakeIPVS compiles fakeIPVSSource with cc into dir and returns the
// shared object's path, for LD_PRELOAD.
func buildFakeIPVS(dir string) (string, error) {
	src := filepath.Join(dir, "fakeipvs.c")
	so := filepath.Join(dir, "fakeipvs.so")
	if err := os.WriteFile(src, []byte(fakeIPVSSource), 0o644); err != nil {
		return "", err
	}
	out, err := exec.Command("cc", "-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o", so, src, "-ldl").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("cc fakeipvs.c: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return so, nil
}
