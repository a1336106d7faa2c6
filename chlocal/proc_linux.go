package chlocal

import "syscall"

// childSysProcAttr puts the child in its own session (no controlling
// terminal, so the developer's terminal and its Ctrl-C never reach it; Stop
// does the shutting down) and asks the kernel to SIGTERM it when the thread
// that forked it dies. Start keeps that thread alive, locked, for as long as
// the child runs.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGTERM}
}
