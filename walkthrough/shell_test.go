package walkthrough

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A shell is one `bash -e -o pipefail` session, like the terminal a user
// pastes the README's blocks into: each block runs as one piece, with no
// pause between its commands, and the variables a block sets stay for the
// next one. Its stdout and stderr share one pipe, so output keeps its order.
//
// To say which command printed what, a DEBUG trap writes a marker line
// (markCmd and the command's text) to the pipe before each command of a
// block; it writes to a copy of stdout (fd 3), so command substitutions
// do not capture it. A block's commands read /dev/null, not the session's
// control input.
type shell struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	chunks chan []byte // output as it comes; closed when the shell exits
	buf    []byte      // output read but not yet returned
	dir    string      // where block files are written
	runs   int
}

const (
	markCmd = "\x1ecmd "  // starts the marker written before each command
	markEnd = "\x1eend\n" // written by the session after a block
	setup   = "exec 3>&1\n" + `walkthrough_mark() { printf '\036cmd %s\n' "${BASH_COMMAND//$'\n'/ }" >&3; }` + "\n"
	untrap  = "trap - DEBUG"
)

// segment is one command of a block and what it printed.
type segment struct {
	cmd string // its text, newlines replaced by spaces
	out string
}

// startShell starts bash in dir with env.
func startShell(dir, tmp string, env []string) (*shell, error) {
	cmd := exec.Command("bash", "-e", "-o", "pipefail", "-s")
	cmd.Dir = dir
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating the output pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("piping the input: %w", err)
	}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("starting bash: %w", err)
	}
	w.Close() // the shell holds its own copy: EOF comes when it exits
	s := &shell{cmd: cmd, in: in, chunks: make(chan []byte, 64), dir: tmp}
	go func() {
		defer close(s.chunks)
		defer r.Close()
		for {
			b := make([]byte, 32<<10)
			n, err := r.Read(b)
			if n > 0 {
				s.chunks <- b[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	if _, err := io.WriteString(in, setup); err != nil {
		s.close()
		return nil, fmt.Errorf("setting up the shell: %w", err)
	}
	return s, nil
}

// run runs text as one piece and returns the commands it ran with their
// output. An error (a command failed, so the shell exited; or the block
// outlasted timeout) comes with the output so far.
func (s *shell) run(text string, timeout time.Duration) ([]segment, error) {
	s.runs++
	path := filepath.Join(s.dir, fmt.Sprintf("block-%d.sh", s.runs))
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return nil, fmt.Errorf("writing the block: %w", err)
	}
	ctl := fmt.Sprintf("trap walkthrough_mark DEBUG; eval \"$(< '%s')\" </dev/null\n%s; printf '\\036end\\n'\n", path, untrap)
	if _, err := io.WriteString(s.in, ctl); err != nil {
		return nil, fmt.Errorf("writing to the shell: %w", err)
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if i := bytes.Index(s.buf, []byte(markEnd)); i >= 0 {
			out := string(s.buf[:i])
			s.buf = s.buf[i+len(markEnd):]
			return segments(out), nil
		}
		select {
		case b, ok := <-s.chunks:
			if !ok {
				out := string(s.buf)
				s.buf = nil
				return segments(out), fmt.Errorf("the shell exited before the block ended: %w", s.cmd.Wait())
			}
			s.buf = append(s.buf, b...)
		case <-deadline.C:
			return segments(string(s.buf)), fmt.Errorf("the block still ran after %v", timeout)
		}
	}
}

// close ends the session: EOF on its input, then SIGKILL if it lingers.
func (s *shell) close() {
	s.in.Close()
	select {
	case <-s.drained():
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
	}
	_ = s.cmd.Wait()
}

// drained is closed when the shell's output ends.
func (s *shell) drained() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		for range s.chunks {
		}
		close(done)
	}()
	return done
}

// segments splits a block's output at its command markers and drops the
// session's own commands.
func segments(out string) []segment {
	var segs []segment
	for i, part := range strings.Split(out, "\x1e") {
		if i == 0 {
			if part != "" { // printed before any command: keep it visible
				segs = append(segs, segment{out: part})
			}
			continue
		}
		rest, ok := strings.CutPrefix(part, strings.TrimPrefix(markCmd, "\x1e"))
		if !ok {
			segs = append(segs, segment{out: "\x1e" + part})
			continue
		}
		cmd, text, _ := strings.Cut(rest, "\n")
		if strings.HasPrefix(cmd, "eval \"$(< ") || cmd == untrap {
			continue
		}
		segs = append(segs, segment{cmd: cmd, out: text})
	}
	return segs
}

// transcript shows segments as a terminal would, each command after a $.
func transcript(segs []segment) string {
	var b strings.Builder
	for _, s := range segs {
		if s.cmd != "" {
			fmt.Fprintf(&b, "$ %s\n", s.cmd)
		}
		b.WriteString(s.out)
		if s.out != "" && !strings.HasSuffix(s.out, "\n") {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// TestShellNamesEachCommandsOutput runs blocks as the walkthrough does: a
// variable outlives its block, a command substitution is not polluted by
// the markers, a command split over lines is one command, output without
// a final newline stays its command's, and a failing command ends the
// session with the output so far.
func TestShellNamesEachCommandsOutput(t *testing.T) {
	sh, err := startShell(t.TempDir(), t.TempDir(), []string{"PATH=" + os.Getenv("PATH")})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.close()
	segs, err := sh.run("X=$(echo one)   # a comment\n", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 1 || segs[0].cmd != "X=$(echo one)" || segs[0].out != "" {
		t.Fatalf("first block: got %+v", segs)
	}
	segs, err = sh.run("echo \"$X\" \\\n  two\nprintf three\nread -r line || echo \"stdin is empty\"\n", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := []segment{
		{cmd: `echo "$X" two`, out: "one two\n"},
		{cmd: "printf three", out: "three"},
		{cmd: "read -r line", out: ""},
		{cmd: `echo "stdin is empty"`, out: "stdin is empty\n"},
	}
	if fmt.Sprint(segs) != fmt.Sprint(want) {
		t.Fatalf("second block:\ngot  %q\nwant %q", segs, want)
	}
	segs, err = sh.run("echo before\nfalse\necho after\n", time.Minute)
	if err == nil || !strings.Contains(err.Error(), "exit status 1") {
		t.Fatalf("a failing command: got error %v, want the shell's exit status 1", err)
	}
	if got := transcript(segs); got != "$ echo before\nbefore\n$ false\n" {
		t.Fatalf("a failing command: got transcript %q", got)
	}
}
