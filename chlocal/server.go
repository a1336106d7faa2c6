package chlocal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

const (
	// readyPollInterval is the pause between HTTP /ping attempts.
	readyPollInterval = 20 * time.Millisecond
	// pingTimeout bounds one /ping request.
	pingTimeout = time.Second
	// stableUptime is how long a child must run before its exit counts as
	// a fresh failure rather than one more in a crash loop.
	stableUptime = time.Minute
)

// Server is a supervised clickhouse-local child process listening on
// loopback ports. Its methods are safe for concurrent use.
type Server struct {
	cfg      Config
	log      zerolog.Logger
	tcpPort  int
	httpPort int
	http     *http.Client

	stopping       chan struct{} // closed by Stop: no more restarts
	stopOnce       sync.Once
	supervisorDone chan struct{}

	mu       sync.Mutex
	current  *child
	restarts int

	stopMu  sync.Mutex // serialises Stop calls
	stopped bool
	stopErr error
}

// child is one launcher process.
type child struct {
	proc    *os.Process
	started time.Time
	exited  chan struct{} // closed once the process has been reaped
	waitErr error         // cmd.Wait's result; read only after exited is closed
}

// Start launches a local ClickHouse server and returns once it answers HTTP
// /ping. It picks two free loopback ports (native TCP and HTTP) once; every
// restart reuses them, so DSN and HTTPURL stay valid for the Server's life.
// ctx bounds only the wait for readiness (together with
// Config.StartTimeout); the server runs until Stop. The caller must call
// Stop.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg, err := cfg.resolve()
	if err != nil {
		return nil, fmt.Errorf("starting clickhouse: %w", err)
	}
	tcpPort, httpPort, err := pickPorts()
	if err != nil {
		return nil, fmt.Errorf("starting clickhouse: %w", err)
	}

	s := &Server{
		cfg:      cfg,
		tcpPort:  tcpPort,
		httpPort: httpPort,
		log: cfg.Logger.With().Str("component", "chlocal").
			Int("tcp_port", tcpPort).Int("http_port", httpPort).Logger(),
		http: &http.Client{
			Timeout:   pingTimeout,
			Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		},
		stopping:       make(chan struct{}),
		supervisorDone: make(chan struct{}),
	}

	begin := time.Now()
	c, err := s.spawn()
	if err != nil {
		return nil, fmt.Errorf("starting clickhouse: %w", err)
	}
	if err := s.waitReady(ctx, c); err != nil {
		s.kill(c)
		return nil, fmt.Errorf("starting clickhouse: %w", err)
	}
	s.current = c
	s.log.Info().Int("pid", c.proc.Pid).Dur("elapsed", time.Since(begin)).
		Str("data_dir", cfg.DataDir).Str("log_file", cfg.LogFile).Msg("clickhouse ready")
	go s.supervise(c)
	return s, nil
}

// DSN is the native-protocol address of the server, for clickhouse-go's
// clickhouse.ParseDSN: clickhouse://127.0.0.1:<tcp port>/default.
func (s *Server) DSN() string {
	return "clickhouse://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.tcpPort)) + "/default"
}

// HTTPURL is the base URL of the HTTP interface, e.g. http://127.0.0.1:8123.
func (s *Server) HTTPURL() string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.httpPort))
}

// LogFile is the file that receives the child's stdout and stderr.
func (s *Server) LogFile() string { return s.cfg.LogFile }

// PID is the process id of the current child (the latest one, after a
// restart).
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current.proc.Pid
}

// Restarts counts the children that were restarted after an unexpected
// exit and became ready.
func (s *Server) Restarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// Stop ends supervision and stops the child: SIGTERM (the launcher then
// shuts clickhouse-local down cleanly, which takes well under a second when
// idle), and SIGKILL if it is still running when ctx ends. When Stop
// returns, no child process is left, whatever the error. It returns nil
// after a clean exit, an error wrapping ErrKilled if SIGKILL was needed, or
// the child's exit error. Later calls return the first call's result.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stopping) })
	s.stopMu.Lock()
	defer s.stopMu.Unlock()
	if s.stopped {
		return s.stopErr
	}
	// Bounded: every wait in the supervisor also watches s.stopping, and a
	// /ping in flight times out after pingTimeout.
	<-s.supervisorDone

	s.mu.Lock()
	c := s.current
	s.mu.Unlock()
	begin := time.Now()
	s.stopErr = s.terminate(ctx, c)
	s.stopped = true
	ev := s.log.Info()
	if s.stopErr != nil {
		ev = s.log.Warn().Err(s.stopErr)
	}
	ev.Int("pid", c.proc.Pid).Dur("elapsed", time.Since(begin)).Msg("clickhouse stopped")
	return s.stopErr
}

// terminate sends SIGTERM and waits for c to exit, killing it when ctx ends.
func (s *Server) terminate(ctx context.Context, c *child) error {
	select {
	case <-c.exited:
		return nil // died on its own and was not restarted
	default:
	}
	if err := c.proc.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.log.Warn().Err(err).Int("pid", c.proc.Pid).Msg("sending SIGTERM to clickhouse")
	}
	select {
	case <-c.exited:
		if c.waitErr != nil {
			return fmt.Errorf("stopping clickhouse: %w: %w", ErrExited, c.waitErr)
		}
		return nil
	case <-ctx.Done():
		s.kill(c)
		return fmt.Errorf("stopping clickhouse: %w: %w", ErrKilled, ctx.Err())
	}
}

// kill sends SIGKILL to c and waits until it has been reaped.
func (s *Server) kill(c *child) {
	if err := c.proc.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.log.Warn().Err(err).Int("pid", c.proc.Pid).Msg("killing clickhouse")
	}
	<-c.exited
}

// spawn starts one launcher process; it does not wait for readiness.
func (s *Server) spawn() (*child, error) {
	logFile, err := os.OpenFile(s.cfg.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("opening log file: %w", err)
	}
	opts := launcherOptions{
		lib:             s.cfg.LibPath,
		path:            s.cfg.DataDir,
		tcpPort:         s.tcpPort,
		httpPort:        s.httpPort,
		parentPID:       os.Getpid(),
		maxServerMemory: s.cfg.MaxServerMemory,
	}
	cmd := exec.Command(s.cfg.Executable, append(slices.Clone(s.cfg.LauncherArgs), opts.args()...)...)
	cmd.Env = append(os.Environ(), s.cfg.Env...)
	cmd.Stdout = logFile // an *os.File: handed to the child, no copying goroutine
	cmd.Stderr = logFile
	cmd.SysProcAttr = childSysProcAttr()

	c := &child{exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig is delivered when the thread that forked the child
		// exits, not the process; Go may retire a thread, so keep this
		// goroutine locked to it until the child is gone.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		_ = logFile.Close() // the child has its own descriptor
		if err != nil {
			started <- err
			return
		}
		c.proc = cmd.Process
		c.started = time.Now()
		started <- nil
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("running %s: %w", s.cfg.Executable, err)
	}
	s.log.Debug().Int("pid", c.proc.Pid).Msg("clickhouse child started")
	return c, nil
}

// waitReady polls HTTP /ping until it answers, c exits, Stop is called, or
// ctx or Config.StartTimeout ends.
func (s *Server) waitReady(ctx context.Context, c *child) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StartTimeout)
	defer cancel()
	ticker := time.NewTicker(readyPollInterval)
	defer ticker.Stop()
	for {
		select {
		case <-c.exited:
			return fmt.Errorf("waiting for /ping: %w before it was ready (%s; see %s)",
				ErrExited, describeExit(c.waitErr), s.cfg.LogFile)
		default:
		}
		if s.ping(ctx) {
			return nil
		}
		select {
		case <-c.exited: // reported at the top of the loop
		case <-s.stopping:
			return fmt.Errorf("waiting for /ping: %w", errStopped)
		case <-ctx.Done():
			return fmt.Errorf("waiting for /ping: %w (see %s): %w", ErrNotReady, s.cfg.LogFile, ctx.Err())
		case <-ticker.C:
		}
	}
}

// ping reports whether GET /ping answers "Ok.".
func (s *Server) ping(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.HTTPURL()+"/ping", nil)
	if err != nil {
		return false
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64))
	return err == nil && resp.StatusCode == http.StatusOK && strings.TrimSpace(string(body)) == "Ok."
}

// pickPorts reserves two distinct free loopback ports and releases them for
// the child to bind.
func pickPorts() (tcpPort, httpPort int, err error) {
	var ports [2]int
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, fmt.Errorf("picking a free port: %w", err)
		}
		// Held open until both are picked, so they differ.
		defer func() { _ = ln.Close() }()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports[0], ports[1], nil
}

func describeExit(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
