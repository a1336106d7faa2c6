package chlocal

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"github.com/ebitengine/purego"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

const (
	// parentPollInterval is how often the launcher checks that its parent
	// is still alive (Pdeathsig is tied to the parent's OS thread, so it is
	// only the first line of defence).
	parentPollInterval = 250 * time.Millisecond
	// eofInterval is how often the launcher repeats Ctrl-D on the terminal
	// while shutting down, in case clickhouse-local discarded pending input
	// when it switched the terminal to raw mode.
	eofInterval = 500 * time.Millisecond
	// forceExitAfter bounds a graceful shutdown when nobody is left to send
	// SIGKILL (the parent died).
	forceExitAfter = 15 * time.Second
	// markCacheSize replaces ClickHouse's 5 GiB default mark cache.
	markCacheSize = 512 << 20
)

// launcherOptions are the flags the parent passes to RunLauncher.
type launcherOptions struct {
	lib             string
	path            string
	tcpPort         int
	httpPort        int
	parentPID       int
	maxServerMemory int64
}

// args renders o as the flags RunLauncher parses.
func (o launcherOptions) args() []string {
	return []string{
		"--lib=" + o.lib,
		"--path=" + o.path,
		"--tcp-port=" + strconv.Itoa(o.tcpPort),
		"--http-port=" + strconv.Itoa(o.httpPort),
		"--parent-pid=" + strconv.Itoa(o.parentPID),
		"--max-server-memory=" + strconv.FormatInt(o.maxServerMemory, 10),
	}
}

func parseLauncherArgs(args []string) (launcherOptions, error) {
	var o launcherOptions
	fs := flag.NewFlagSet("chlocal-launcher", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.lib, "lib", "", "path to libchdb.so")
	fs.StringVar(&o.path, "path", "", "ClickHouse data directory")
	fs.IntVar(&o.tcpPort, "tcp-port", 0, "native protocol port on 127.0.0.1")
	fs.IntVar(&o.httpPort, "http-port", 0, "HTTP port on 127.0.0.1")
	fs.IntVar(&o.parentPID, "parent-pid", 0, "exit when this process is no longer the parent (0: the parent at start)")
	fs.Int64Var(&o.maxServerMemory, "max-server-memory", DefaultMaxServerMemory, "max_server_memory_usage in bytes")
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("parsing launcher flags: %w", err)
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("parsing launcher flags: unexpected argument %q", fs.Arg(0))
	case o.lib == "":
		return o, errors.New("parsing launcher flags: --lib is required")
	case o.path == "":
		return o, errors.New("parsing launcher flags: --path is required")
	case !validPort(o.tcpPort) || !validPort(o.httpPort) || o.tcpPort == o.httpPort:
		return o, fmt.Errorf("parsing launcher flags: bad ports tcp=%d http=%d", o.tcpPort, o.httpPort)
	case o.maxServerMemory <= 0:
		return o, errors.New("parsing launcher flags: --max-server-memory must be positive")
	}
	return o, nil
}

func validPort(p int) bool { return p > 0 && p < 65536 }

// clickhouseArgs is the argv handed to chdb_query_cmdline, i.e. the
// clickhouse-local command line. Options before "--" are clickhouse-local
// options and query-level settings (the latter become the defaults of every
// TCP/HTTP session); the ones after "--" override server configuration keys.
func clickhouseArgs(o launcherOptions) []string {
	return []string{
		// argv[0] is taken as the program name and skipped; it repeats
		// the next flag rather than naming a program.
		"--interactive",
		// Stay at the prompt after the query: the listeners live only as
		// long as chdb_query_cmdline runs. Needs a terminal on stdin.
		"--interactive",
		"--path=" + o.path,
		// Otherwise clickhouse-local creates ~/.local/state/clickhouse.
		"--history_file=" + filepath.Join(o.path, ".clickhouse-local-history"),
		"--listen_host=127.0.0.1",
		"--tcp_port=" + strconv.Itoa(o.tcpPort),
		"--http_port=" + strconv.Itoa(o.httpPort),
		// chDB defaults async_insert to 1, clickhouse-server to 0. Use the
		// server's: an acknowledged INSERT is then a part on disk, written
		// by that request, which is what the pipeline's flush order assumes.
		"--async_insert=0",
		// Errors go to stderr, i.e. the log file. Warnings would add a line
		// or two per INSERT (background pool scheduling notes).
		"--log-level=error",
		"--query=SYSTEM START LISTEN TCP; SYSTEM START LISTEN HTTP",
		"--",
		"--max_server_memory_usage=" + strconv.FormatInt(o.maxServerMemory, 10),
		"--max_server_memory_usage_to_ram_ratio=0.5",
		"--mark_cache_size=" + strconv.Itoa(markCacheSize),
	}
}

// RunLauncher runs inside the child process started by Start: it parses the
// flags Start appended (--lib, --path, --tcp-port, --http-port,
// --parent-pid, --max-server-memory), puts a pseudo-terminal on stdin,
// loads libchdb.so and calls chdb_query_cmdline, which runs
// clickhouse-local with its listeners open. It does not return while the
// server runs.
//
// On SIGTERM, SIGINT or SIGHUP, or when the parent process goes away, it
// sends end-of-file to clickhouse-local's prompt, which makes it shut down
// cleanly; chdb_query_cmdline then returns and so does RunLauncher (nil on a
// clean exit). If that takes longer than 15 s, the process exits with
// status 3.
//
// The caller should exit the process when RunLauncher returns. Call it
// before anything else parses os.Args (e.g. first thing in main or TestMain).
func RunLauncher(args []string) error {
	opts, err := parseLauncherArgs(args)
	if err != nil {
		return err
	}
	log := zerolog.New(os.Stderr).With().Timestamp().
		Str("component", "chlocal-launcher").Int("pid", os.Getpid()).Logger()

	parentPID := opts.parentPID
	if parentPID == 0 {
		parentPID = os.Getppid()
	}
	for _, port := range []int{opts.tcpPort, opts.httpPort} {
		if err := checkPortFree(port); err != nil {
			return err
		}
	}

	master, err := attachTerminal()
	if err != nil {
		return err
	}
	defer func() { _ = master.Close() }()

	// From here on a signal or a lost parent leads to Ctrl-D, repeated, so
	// one arriving before clickhouse-local reads its terminal still counts.
	sd := newShutdown(master, log)
	defer close(sd.finished)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(signals)
	go sd.onSignal(signals)
	go sd.watchParent(parentPID)

	// The server's timezone comes from TZ (the "timezone" config key is
	// ignored by clickhouse-local); billing wants UTC whatever the host says.
	if err := os.Setenv("TZ", "UTC"); err != nil {
		return fmt.Errorf("setting TZ: %w", err)
	}
	chdb, err := loadChdb(opts.lib)
	if err != nil {
		return err
	}

	argv := clickhouseArgs(opts)
	log.Info().Strs("args", argv).Int("parent_pid", parentPID).Msg("starting clickhouse-local")
	if err := chdb.run(argv); err != nil {
		return fmt.Errorf("running clickhouse-local: %w", err)
	}
	log.Info().Msg("clickhouse-local exited")
	return nil
}

// checkPortFree fails fast when a port is taken: clickhouse-local would
// only print the error and keep waiting at its prompt without a listener.
func checkPortFree(port int) error {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("checking port %d: %w: %w", port, ErrPortInUse, err)
	}
	if err := ln.Close(); err != nil {
		return fmt.Errorf("checking port %d: %w", port, err)
	}
	return nil
}

// attachTerminal replaces stdin with the slave side of a new
// pseudo-terminal and returns the master side. With a terminal on stdin,
// clickhouse-local runs its interactive prompt, which waits for input
// forever and exits cleanly on Ctrl-D, and it does not install the
// non-interactive error handler that can abort the whole process when a
// connection handler throws (ClickHouse issue 115666). The master must stay
// open; nothing is written to it except Ctrl-D at shutdown.
func attachTerminal() (*os.File, error) {
	master, slave, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("opening pseudo-terminal: %w", err)
	}
	defer func() { _ = slave.Close() }() // stdin holds its own copy
	if err := pty.Setsize(master, &pty.Winsize{Rows: 24, Cols: 80}); err != nil {
		_ = master.Close()
		return nil, fmt.Errorf("sizing pseudo-terminal: %w", err)
	}
	if err := unix.Dup2(int(slave.Fd()), 0); err != nil {
		_ = master.Close()
		return nil, fmt.Errorf("attaching pseudo-terminal to stdin: %w", err)
	}
	return master, nil
}

// chdbLib holds the libchdb.so entry points the launcher needs.
type chdbLib struct {
	queryCmdline  func(argc int32, argv **byte) uintptr
	resultError   func(result uintptr) string
	destroyResult func(result uintptr)
}

func loadChdb(path string) (*chdbLib, error) {
	handle, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	var lib chdbLib
	for name, fn := range map[string]any{
		"chdb_query_cmdline":        &lib.queryCmdline,
		"chdb_result_error":         &lib.resultError,
		"chdb_destroy_query_result": &lib.destroyResult,
	} {
		sym, err := purego.Dlsym(handle, name)
		if err != nil {
			return nil, fmt.Errorf("looking up %s in %s: %w", name, path, err)
		}
		purego.RegisterFunc(fn, sym)
	}
	return &lib, nil
}

// run calls chdb_query_cmdline(argc, argv) and returns the error text of
// its result, if any.
func (l *chdbLib) run(argv []string) error {
	// NUL-terminated copies; the Go heap does not move them, and they are
	// kept alive until the call returns.
	bufs := make([][]byte, len(argv))
	ptrs := make([]*byte, len(argv)+1)
	for i, a := range argv {
		bufs[i] = append([]byte(a), 0)
		ptrs[i] = &bufs[i][0]
	}
	result := l.queryCmdline(int32(len(argv)), &ptrs[0])
	runtime.KeepAlive(bufs)
	runtime.KeepAlive(ptrs)
	if result == 0 {
		return errors.New("chdb_query_cmdline returned no result")
	}
	defer l.destroyResult(result)
	if msg := l.resultError(result); msg != "" {
		return errors.New(msg)
	}
	return nil
}

// shutdown asks clickhouse-local to exit by typing Ctrl-D at its prompt.
type shutdown struct {
	once     sync.Once
	master   *os.File
	log      zerolog.Logger
	finished chan struct{} // closed when RunLauncher returns
}

func newShutdown(master *os.File, log zerolog.Logger) *shutdown {
	return &shutdown{master: master, log: log, finished: make(chan struct{})}
}

func (s *shutdown) begin(reason string) {
	s.once.Do(func() {
		s.log.Info().Str("reason", reason).Msg("shutting down clickhouse-local")
		go s.sendEOF()
		go s.forceExit()
	})
}

func (s *shutdown) sendEOF() {
	ticker := time.NewTicker(eofInterval)
	defer ticker.Stop()
	for {
		if _, err := s.master.Write([]byte{0x04}); err != nil {
			s.log.Error().Err(err).Msg("writing end-of-file to terminal")
		}
		select {
		case <-s.finished:
			return
		case <-ticker.C:
		}
	}
}

func (s *shutdown) forceExit() {
	timer := time.NewTimer(forceExitAfter)
	defer timer.Stop()
	select {
	case <-s.finished:
	case <-timer.C:
		s.log.Error().Dur("after", forceExitAfter).Msg("clickhouse-local did not exit; exiting hard")
		os.Exit(3)
	}
}

func (s *shutdown) onSignal(signals <-chan os.Signal) {
	select {
	case sig := <-signals:
		s.begin("signal " + sig.String())
	case <-s.finished:
	}
}

// watchParent shuts down when the parent process is gone (the child was
// re-parented). This backs up Pdeathsig, which fires when the parent's
// forking OS thread exits rather than the parent process.
func (s *shutdown) watchParent(parentPID int) {
	ticker := time.NewTicker(parentPollInterval)
	defer ticker.Stop()
	for {
		if ppid := os.Getppid(); ppid != parentPID {
			s.begin(fmt.Sprintf("parent %d is gone (parent is now %d)", parentPID, ppid))
			return
		}
		select {
		case <-s.finished:
			return
		case <-ticker.C:
		}
	}
}
