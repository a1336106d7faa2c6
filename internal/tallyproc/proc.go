// Package tallyproc starts `tally run` as a child process, for the code
// that drives the real binary as an operator would: the README walkthrough
// (walkthrough/), the fault suite (chaos/) and the benchmark
// (cmd/tally-bench). Start runs the daemon with its log in a file, waits
// until it serves and answers /readyz, and learns the addresses it logged;
// Key reads its dev keys; Stop and Kill end it together with its managed
// ClickHouse. Proc, the plain child process under it, also runs the other
// servers a test starts (an external nats-server).
package tallyproc

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// ProcConfig says how to start a child process.
type ProcConfig struct {
	Bin  string
	Args []string
	// Dir is the child's working directory; empty is this process's.
	Dir string
	// Env is the child's whole environment; nil is this process's.
	Env []string
	// LogPath is the file the child's stdout and stderr are appended to.
	LogPath string
	// OwnGroup puts the child in a process group of its own: a Ctrl-C on
	// the terminal then reaches only this process, which stops the child
	// itself, and a SIGKILL after a stop timeout goes to the whole group.
	OwnGroup bool
	// DeathSignal is what the child gets when this process dies
	// (Pdeathsig); zero is SIGKILL.
	DeathSignal syscall.Signal
}

// Proc is a running child process.
type Proc struct {
	cmd       *exec.Cmd
	ownGroup  bool
	logPath   string
	logOffset int64 // the size of the log file when the child started

	done chan struct{} // closed once the child has been reaped
	err  error         // the exit status; read only after done is closed
}

// StartProc starts a child process.
func StartProc(cfg ProcConfig) (*Proc, error) {
	logf, err := os.OpenFile(cfg.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("opening the log of %s: %w", cfg.Bin, err)
	}
	defer func() { _ = logf.Close() }() // the child has its own descriptor
	info, err := logf.Stat()
	if err != nil {
		return nil, fmt.Errorf("opening the log of %s: %w", cfg.Bin, err)
	}
	cmd := exec.Command(cfg.Bin, cfg.Args...)
	cmd.Dir, cmd.Env = cfg.Dir, cfg.Env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   cfg.OwnGroup,
		Pdeathsig: cmp.Or(cfg.DeathSignal, syscall.SIGKILL),
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", cfg.Bin, err)
	}
	p := &Proc{cmd: cmd, ownGroup: cfg.OwnGroup, logPath: cfg.LogPath, logOffset: info.Size(), done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the child's process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the child has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the child has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is the child's exit status (nil for a clean exit); it may be read
// once Done is closed.
func (p *Proc) Err() error { return p.err }

// LogPath is the file the child logs to.
func (p *Proc) LogPath() string { return p.logPath }

// Stop sends sig and waits up to timeout for the child to exit, then sends
// SIGKILL (to its whole group with OwnGroup) and waits for the exit. The
// error says that it had to kill; the exit status is Err. A child that has
// exited already is left alone.
func (p *Proc) Stop(sig syscall.Signal, timeout time.Duration) error {
	if p.Exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(sig)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.done:
		return nil
	case <-timer.C:
		if p.ownGroup {
			_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
		} else {
			_ = p.cmd.Process.Kill()
		}
		<-p.done
		return fmt.Errorf("pid %d did not exit within %s of %s; killed", p.Pid(), timeout, sig)
	}
}

// Tail returns the last n lines of the log file.
func (p *Proc) Tail(n int) string { return TailFile(p.logPath, n) }

// ReadLog calls fn with each line this child has written to its log so
// far (not what an earlier child wrote to the same file) and the line's
// fields when it is a JSON object (nil otherwise).
func (p *Proc) ReadLog(fn func(line string, fields map[string]any)) error {
	f, err := os.Open(p.logPath)
	if err != nil {
		return fmt.Errorf("reading the log: %w", err)
	}
	defer func() { _ = f.Close() }() // read only
	if _, err := f.Seek(p.logOffset, io.SeekStart); err != nil {
		return fmt.Errorf("reading the log: %w", err)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var fields map[string]any
		if json.Unmarshal(sc.Bytes(), &fields) != nil {
			fields = nil
		}
		fn(sc.Text(), fields)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading the log: %w", err)
	}
	return nil
}

// TailFile returns the last n lines of a file, or the error reading it.
func TailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
