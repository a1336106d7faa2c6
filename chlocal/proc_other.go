//go:build !linux

package chlocal

import "syscall"

// childSysProcAttr puts the child in its own session. Without Pdeathsig,
// the launcher's parent watch is what stops an orphaned child.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true}
}
