package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// perfStopTimeout bounds the time perf takes to write its file.
const perfStopTimeout = 2 * time.Minute

// perfRecorder is a `perf record` sampling some processes.
type perfRecorder struct {
	cmd    *exec.Cmd
	exited chan error
}

// startPerf samples the call stacks of pids at 499 Hz into out. Read the
// result with `perf report -i out`.
func startPerf(out string, pids ...int) (*perfRecorder, error) {
	ids := make([]string, 0, len(pids))
	for _, p := range pids {
		if p > 0 {
			ids = append(ids, strconv.Itoa(p))
		}
	}
	logFile, err := os.Create(out + ".log")
	if err != nil {
		return nil, fmt.Errorf("creating perf log: %w", err)
	}
	cmd := exec.Command("perf", "record", "-F", "499", "-g", "-o", out, "-p", strings.Join(ids, ","))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGINT}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting perf (is it installed?): %w", err)
	}
	r := &perfRecorder{cmd: cmd, exited: make(chan error, 1)}
	go func() {
		r.exited <- cmd.Wait()
		_ = logFile.Close()
	}()
	return r, nil
}

// stop asks perf to finish (SIGINT) and waits until it has written its file.
func (r *perfRecorder) stop() error {
	_ = r.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-r.exited:
		var ee *exec.ExitError
		if errors.As(err, &ee) && !ee.Exited() {
			return nil // ended by our SIGINT
		}
		return err
	case <-time.After(perfStopTimeout):
		_ = r.cmd.Process.Kill()
		<-r.exited //nolint:errcheck // killed: the exit status says nothing more
		return fmt.Errorf("perf did not stop within %s; killed", perfStopTimeout)
	}
}
