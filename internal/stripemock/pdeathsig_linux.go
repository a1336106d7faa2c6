package stripemock

import (
	"os/exec"
	"syscall"
)

// setPdeathsig makes the kernel kill stripe-mock if the test binary dies
// without running its cleanup.
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
