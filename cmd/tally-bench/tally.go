package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tally-billing/tally/auth"
	"github.com/tally-billing/tally/daemon"
)

// Timeouts of the tally child's life cycle.
const (
	startTimeout = 2 * time.Minute
	// stopTimeout covers tally's own graceful shutdown (30s) and the
	// managed ClickHouse's.
	stopTimeout = 45 * time.Second
	// orphanTimeout is how long the ClickHouse child may outlive tally
	// before it is killed (it watches its parent every 250ms).
	orphanTimeout = 10 * time.Second
)

// Messages of tally's JSON log that tally-bench waits for.
const (
	logNATSStarted = "embedded nats with jetstream started"
	logCHStarted   = "managed clickhouse started"
	logServing     = "tally is serving"
)

// tallyProc is a running `tally run` child on a fresh data dir, with
// embedded NATS and managed ClickHouse on free loopback ports.
type tallyProc struct {
	cmd     *exec.Cmd
	dataDir string
	keep    bool

	natsURL   string
	httpAddr  string
	dsn       string
	ingestKey string
	chPID     int // the managed ClickHouse child

	log     *logWatcher
	exited  chan struct{} // closed once tally has been reaped
	waitErr error         // read only after exited is closed
}

// tallyOptions say how to start tally.
type tallyOptions struct {
	bin   string
	args  []string // extra flags for `tally run`
	keep  bool     // keep the data dir
	label string   // names the data dir
}

// startTally starts tally and returns once it is serving. On error,
// whatever was started is stopped again; otherwise the caller must call
// stop.
func startTally(ctx context.Context, opts tallyOptions) (*tallyProc, error) {
	dir, err := os.MkdirTemp("", "tally-bench-"+opts.label+"-")
	if err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	tp := &tallyProc{dataDir: dir, keep: opts.keep, exited: make(chan struct{})}
	if err := tp.start(ctx, opts); err != nil {
		_ = tp.stop()
		return nil, err
	}
	return tp, nil
}

func (tp *tallyProc) start(ctx context.Context, opts tallyOptions) error {
	if err := tp.spawn(opts); err != nil {
		return err
	}
	if err := tp.waitServing(ctx); err != nil {
		return err
	}
	key, err := keyOf(filepath.Join(tp.dataDir, "keys.json"), auth.RoleIngest)
	if err != nil {
		return err
	}
	tp.ingestKey = key
	if tp.chPID = findChild(tp.pid(), daemon.LauncherCommand); tp.chPID == 0 {
		return errors.New("finding the managed clickhouse process: no child of tally runs " + daemon.LauncherCommand)
	}
	return nil
}

func (tp *tallyProc) spawn(opts tallyOptions) error {
	args := append([]string{"run",
		"--data-dir", tp.dataDir,
		"--http-addr", "127.0.0.1:0",
		"--nats-listen", "127.0.0.1:0",
		"--log-level", "info",
	}, opts.args...)
	logFile, err := os.Create(filepath.Join(tp.dataDir, "tally.log"))
	if err != nil {
		return fmt.Errorf("creating tally log: %w", err)
	}
	cmd := exec.Command(opts.bin, args...)
	cmd.Env = defaultEnv()
	cmd.Stdout = logFile
	stderr, err := cmd.StderrPipe()
	if err != nil {
		_ = logFile.Close()
		return fmt.Errorf("piping tally stderr: %w", err)
	}
	// Own process group: a Ctrl-C on the terminal reaches tally-bench only,
	// which then stops tally itself. Pdeathsig stops tally if tally-bench
	// dies without doing so.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("starting %s: %w", opts.bin, err)
	}
	tp.cmd = cmd
	tp.log = newLogWatcher(logFile)
	go func() {
		tp.log.consume(stderr)
		tp.waitErr = cmd.Wait()
		_ = logFile.Close()
		close(tp.exited)
	}()
	return nil
}

// defaultEnv is this environment without TALLY_* settings, so that tally
// runs on its defaults (embedded NATS, managed ClickHouse) whatever the
// developer's shell exports; only the libchdb location is kept.
func defaultEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "TALLY_") && !strings.HasPrefix(kv, "TALLY_CHDB_LIB=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (tp *tallyProc) pid() int { return tp.cmd.Process.Pid }

func (tp *tallyProc) waitServing(ctx context.Context) error {
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case <-tp.log.serving:
	case <-tp.exited:
		return fmt.Errorf("starting tally: it exited (%v); last log lines:\n%s", tp.waitErr, tp.log.tail())
	case <-timer.C:
		return fmt.Errorf("starting tally: not serving after %s; last log lines:\n%s", startTimeout, tp.log.tail())
	case <-ctx.Done():
		return ctx.Err()
	}
	tp.natsURL, tp.dsn, tp.httpAddr = tp.log.field(logNATSStarted, "url"), tp.log.field(logCHStarted, "dsn"), tp.log.field(logServing, "addr")
	switch {
	case tp.natsURL == "":
		return errors.New("starting tally: no embedded nats url in its log (was --nats-url set?)")
	case tp.dsn == "":
		return errors.New("starting tally: no managed clickhouse dsn in its log (was --clickhouse-dsn set?)")
	case tp.httpAddr == "":
		return errors.New("starting tally: no http address in its log")
	}
	return nil
}

// checkAlive returns an error once tally has exited.
func (tp *tallyProc) checkAlive() error {
	select {
	case <-tp.exited:
		return fmt.Errorf("tally exited (%v); last log lines:\n%s", tp.waitErr, tp.log.tail())
	default:
		return nil
	}
}

// peakRSS returns the peak RSS of tally and of its ClickHouse child.
func (tp *tallyProc) peakRSS() (tally, clickhouse int64, err error) {
	tally, err = peakRSS(tp.pid())
	if err != nil {
		return 0, 0, err
	}
	if pid := findChild(tp.pid(), daemon.LauncherCommand); pid != 0 {
		tp.chPID = pid // the supervisor may have restarted it
	}
	clickhouse, err = peakRSS(tp.chPID)
	return tally, clickhouse, err
}

// stop sends SIGTERM, waits for tally to exit (SIGKILL after stopTimeout),
// makes sure its ClickHouse child is gone too, and removes the data dir
// unless it is to be kept. It returns tally's exit error, if any.
func (tp *tallyProc) stop() error {
	defer tp.cleanup()
	if tp.cmd == nil {
		return nil
	}
	if pid := findChild(tp.pid(), daemon.LauncherCommand); pid != 0 {
		tp.chPID = pid
	}
	var err error
	select {
	case <-tp.exited:
		err = tp.waitErr
	default:
		_ = tp.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-tp.exited:
			err = tp.waitErr
		case <-time.After(stopTimeout):
			_ = syscall.Kill(-tp.pid(), syscall.SIGKILL) // tally's own process group
			<-tp.exited
			err = fmt.Errorf("tally did not stop within %s; killed", stopTimeout)
		}
	}
	if err != nil && tp.log.sawShutdown() && isSignalExit(err) {
		err = nil
	}
	if e := tp.reapClickHouse(); e != nil {
		err = errors.Join(err, e)
	}
	return err
}

// reapClickHouse waits for the ClickHouse child to exit after tally, and
// kills it if it does not. It lives in its own session, so it is not in
// tally's process group.
func (tp *tallyProc) reapClickHouse() error {
	if tp.chPID == 0 {
		return nil
	}
	deadline := time.Now().Add(orphanTimeout)
	for cmdlineContains(tp.chPID, daemon.LauncherCommand) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(tp.chPID, syscall.SIGKILL)
			return fmt.Errorf("clickhouse child %d outlived tally; killed", tp.chPID)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

func (tp *tallyProc) cleanup() {
	if !tp.keep {
		_ = os.RemoveAll(tp.dataDir)
	}
}

func isSignalExit(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && !ee.Exited()
}

// keyOf reads the key of role from tally's dev keys file.
func keyOf(path string, role auth.Role) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading keys file: %w", err)
	}
	var f auth.File
	if err := json.Unmarshal(data, &f); err != nil {
		return "", fmt.Errorf("decoding keys file: %w", err)
	}
	for _, k := range f.Keys {
		if k.Role == role {
			return k.Secret, nil
		}
	}
	return "", fmt.Errorf("reading keys file: no %s key in %s", role, path)
}

// logWatcher reads tally's JSON log: it copies every line to a file,
// keeps the last lines for error messages, remembers the fields of the
// start-up messages and counts warnings and errors.
type logWatcher struct {
	out     io.Writer
	serving chan struct{}

	mu       sync.Mutex
	last     []string
	fields   map[string]map[string]any // message → fields of its first line
	warnings []string                  // first warning and error lines
	warnN    int
	started  bool // "tally is serving" was logged
	shutdown bool // "shutting down" was logged
}

const (
	tailLines    = 30
	keptWarnings = 10
)

func newLogWatcher(out io.Writer) *logWatcher {
	return &logWatcher{out: out, serving: make(chan struct{}), fields: map[string]map[string]any{}}
}

func (w *logWatcher) consume(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		_, _ = io.WriteString(w.out, line+"\n")
		w.record(line)
	}
	// Keep draining so that tally never blocks on a full pipe.
	_, _ = io.Copy(w.out, r)
}

func (w *logWatcher) record(line string) {
	var fields map[string]any
	_ = json.Unmarshal([]byte(line), &fields)
	msg, _ := fields["message"].(string)
	level, _ := fields["level"].(string)

	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = append(w.last, line)
	if len(w.last) > tailLines {
		w.last = w.last[1:]
	}
	if _, seen := w.fields[msg]; msg != "" && !seen {
		w.fields[msg] = fields
		if msg == logServing {
			w.started = true
			close(w.serving)
		}
	}
	if msg == "shutting down" {
		w.shutdown = true
	}
	if (level == "warn" || level == "error") && w.started && !w.shutdown {
		w.warnN++
		if len(w.warnings) < keptWarnings {
			w.warnings = append(w.warnings, line)
		}
	}
}

func (w *logWatcher) field(msg, name string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, _ := w.fields[msg][name].(string)
	return s
}

func (w *logWatcher) tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.last, "\n")
}

// warningCount returns the number of warn and error lines logged while
// serving (before shutdown), and the first few of them.
func (w *logWatcher) warningCount() (int, []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.warnN, append([]string(nil), w.warnings...)
}

func (w *logWatcher) sawShutdown() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.shutdown
}
