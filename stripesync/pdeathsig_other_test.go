//go:build !linux

package stripesync_test

import "os/exec"

func setPdeathsig(*exec.Cmd) {}
