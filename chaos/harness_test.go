// Package chaos is Tally's fault suite: it runs the real `tally run` binary
// (and, where a test asks, a real external nats-server) as child processes,
// pushes a load through them over HTTP and NATS, breaks things with signals
// (SIGKILL of the daemon, of its managed ClickHouse, of NATS) and then checks
// every figure against an independent count kept by the load generator.
//
// # Using the harness
//
// TestMain builds ./cmd/tally once into a temporary directory; tests never
// run the daemon in process, they talk to it like an operator would. This
// file holds the processes (Tally, NATSServer); load_test.go the generator,
// the ledger and the clients (HTTPSender, NATSPublisher, RunLoad);
// check_test.go the ClickHouse helpers and the checks against the ledger.
//
//	p := StartTally(t, TallyConfig{})       // free loopback ports, a t.TempDir() data dir, managed ClickHouse
//	ledger := NewLedger()                   // the oracle: what got a 202 or a JetStream ack
//	hs := NewHTTPSender(p, ledger)          // retries 503 / connection errors with the same event ids
//	np := NewNATSPublisher(t, p.NATSURL(), ledger) // JetStream publish, Nats-Msg-Id = pipeline.EventMsgID
//	gen := NewGen(seed, 5, month)           // deterministic events (credits, seats) of one month
//	err := hs.Send(ctx, gen.Batch(200))     // or RunLoad(ctx, gen, LoadConfig{...}) in the background
//	err = p.Restart(ctx)                    // SIGKILL, then start on the same ports and data dir
//	pid, err := p.KillClickHouse()          // SIGKILL the managed ClickHouse; tally restarts it
//	WaitDrained(t, ctx, p.NATSURL())        // the consumers have nothing pending
//	ch := OpenClickHouse(t, p.ClickHouseDSN())
//	CheckStored(t, ctx, ch, ledger)         // exactly once: count(), count() FINAL, uniqExact, per tenant
//	CheckUsage(t, ctx, p, ledger, from, to) // GET /v1/tenants/{t}/usage against the ledger
//
// p.API(ctx, method, path, key) calls any endpoint (p.IngestKey,
// p.FinanceKey are the dev keys of <data-dir>/keys.json); TallyConfig.Args
// adds flags (e.g. --stripe-key, --stripe-api-base). The daemon runs with
// --no-scheduler, --sink-max-wait 50ms and --ack-wait 15s (TallyConfig.AckWait).
//
// An external NATS server: ns := StartNATSServer(t); StartTally(t,
// TallyConfig{NATSURL: ns.URL()}); ns.Kill(); ns.Start().
//
// The managed ClickHouse's address is learnt from the daemon's JSON log line
// "managed clickhouse started" (field dsn), which `tally run` writes at info
// level when it starts the server; its process is found by its command line
// (the hidden launcher subcommand and --path=<data-dir>/clickhouse).
//
// Sizes come from the environment (see docs/operations.md, "Chaos suite"):
// TALLY_CHAOS_EVENTS (default 20000) and TALLY_CHAOS_KILLS (default 3);
// `make chaos` runs the full size. Each daemon's log goes to a file in a
// temporary directory; the last lines are printed when a test fails.
package chaos

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tally-billing/tally/auth"
	"github.com/tally-billing/tally/internal/testnet"
)

// Paths set by TestMain.
var (
	repoRoot string // the module root (parent of chaos/)
	binDir   string // where the test binaries live
	tallyBin string // bin of ./cmd/tally
	chdbLib  string // libchdb.so for the managed ClickHouse
)

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	root, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	repoRoot = root
	chdbLib = os.Getenv("TALLY_CHDB_LIB")
	if chdbLib == "" {
		chdbLib = filepath.Join(root, ".cache", "chdb", "package", "libchdb.so")
	}
	if _, err := os.Stat(chdbLib); err != nil {
		fmt.Fprintf(os.Stderr, "chaos: libchdb.so not found (%v); run `make chdb`\n", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "tally-chaos-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	tallyBin = filepath.Join(dir, "tally")
	if err := goBuild(tallyBin, "./cmd/tally"); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: building tally:", err)
		return 1
	}
	return m.Run()
}

// goBuild builds a main package of the module (or of a module it requires)
// into out.
func goBuild(out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = repoRoot
	cmd.Env = os.Environ()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %v: %s", pkg, err, stderr.String())
	}
	return nil
}

// envInt reads a positive integer from the environment, or def.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a whole number", name, s)
	}
	return n
}

// Sizes of the suite: events per test and faults per test.
func chaosEvents(t *testing.T) int { return envInt(t, "TALLY_CHAOS_EVENTS", 20000) }
func chaosKills(t *testing.T) int  { return envInt(t, "TALLY_CHAOS_KILLS", 3) }

// loadTimeout bounds one test's load phase by its size.
func loadTimeout(events, kills int) time.Duration {
	return 2*time.Minute + time.Duration(events)*2*time.Millisecond + time.Duration(kills)*30*time.Second
}

// proc is a child process and its exit.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// startProc starts a child with its stdout and stderr appended to logPath.
// The child gets SIGKILL if the test binary dies.
func startProc(logPath, bin string, args []string, env []string) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig and waits up to timeout for the exit; then SIGKILL.
func (p *proc) signal(sig syscall.Signal, timeout time.Duration) error {
	if p.exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("pid %d did not exit within %s of %s; killed", p.cmd.Process.Pid, timeout, sig)
	}
}

// TallyConfig is how a `tally run` child is started. Zero values pick free
// loopback ports, a fresh data dir, the embedded NATS and the managed
// ClickHouse.
type TallyConfig struct {
	DataDir       string
	HTTPAddr      string
	NATSListen    string
	NATSURL       string // external NATS (--nats-url); empty embeds one
	ClickHouseDSN string // external ClickHouse; empty starts the managed one
	// AckWait is --ack-wait (default 15s instead of the daemon's 2m): how
	// long the batches a killed daemon had in hand wait for redelivery.
	AckWait time.Duration
	Args    []string // more flags for `tally run`
	Env     []string // more environment for the child
}

// Tally is a `tally run` child process. It keeps its ports and data dir
// across Kill/Start, like an operator restarting a crashed daemon.
type Tally struct {
	t      *testing.T
	cfg    TallyConfig
	logDir string

	mu     sync.Mutex
	p      *proc
	starts int
	chDSN  string

	// BaseURL is the API's root, e.g. http://127.0.0.1:PORT.
	BaseURL string
	// IngestKey and FinanceKey are the dev keys of <data-dir>/keys.json.
	IngestKey, FinanceKey string
}

// StartTally starts `tally run` and waits until /readyz answers 200. The
// process is stopped (SIGTERM, then SIGKILL) when the test ends, and its
// log tail printed if the test failed.
func StartTally(t *testing.T, cfg TallyConfig) *Tally {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = testnet.FreeAddr(t)
	}
	if cfg.NATSListen == "" {
		cfg.NATSListen = testnet.FreeAddr(t)
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = 15 * time.Second
	}
	p := &Tally{t: t, cfg: cfg, logDir: t.TempDir(), BaseURL: "http://" + cfg.HTTPAddr}
	t.Cleanup(func() {
		if t.Failed() {
			p.dumpLogs()
		}
		if err := p.Stop(); err != nil {
			t.Logf("stopping tally: %v", err)
		}
		p.waitClickHouseGone(30 * time.Second)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := p.Start(ctx); err != nil {
		t.Fatalf("starting tally: %v", err)
	}
	return p
}

// DataDir is the daemon's data dir.
func (p *Tally) DataDir() string { return p.cfg.DataDir }

// NATSURL is the NATS server the daemon uses: the external one, or the
// embedded one at --nats-listen.
func (p *Tally) NATSURL() string {
	if p.cfg.NATSURL != "" {
		return p.cfg.NATSURL
	}
	return "nats://" + p.cfg.NATSListen
}

// ClickHouseDSN is the ClickHouse of the current run: the external DSN, or
// the managed server's (its ports change with every start of the daemon).
func (p *Tally) ClickHouseDSN() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.chDSN
}

// Starts counts the successful starts.
func (p *Tally) Starts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts
}

// Start starts the daemon (again) on the same ports and data dir and waits
// for /readyz, the dev keys and the ClickHouse DSN.
func (p *Tally) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.p != nil && !p.p.exited() {
		return errors.New("tally is already running")
	}
	args := []string{"run",
		"--http-addr", p.cfg.HTTPAddr,
		"--nats-listen", p.cfg.NATSListen,
		"--data-dir", p.cfg.DataDir,
		"--chdb-lib", chdbLib,
		"--no-scheduler",
		"--sink-max-wait", "50ms",
		"--ack-wait", p.cfg.AckWait.String(),
		"--log-level", "info",
	}
	if p.cfg.NATSURL != "" {
		args = append(args, "--nats-url", p.cfg.NATSURL)
	}
	if p.cfg.ClickHouseDSN != "" {
		args = append(args, "--clickhouse-dsn", p.cfg.ClickHouseDSN)
	}
	args = append(args, p.cfg.Args...)
	logPath := filepath.Join(p.logDir, fmt.Sprintf("tally-%02d.log", p.starts+1))
	child, err := startProc(logPath, tallyBin, args, p.cfg.Env)
	if err != nil {
		return err
	}
	p.p = child
	if err := p.waitReady(ctx, child, logPath); err != nil {
		_ = child.signal(syscall.SIGKILL, 10*time.Second)
		return fmt.Errorf("%w\n%s", err, tail(logPath, 30))
	}
	if p.cfg.ClickHouseDSN != "" {
		p.chDSN = p.cfg.ClickHouseDSN
	} else {
		dsn, err := logField(logPath, "managed clickhouse started", "dsn")
		if err != nil {
			return err
		}
		p.chDSN = dsn
	}
	if err := p.readKeys(); err != nil {
		return err
	}
	p.starts++
	return nil
}

func (p *Tally) waitReady(ctx context.Context, child *proc, logPath string) error {
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	for {
		if child.exited() {
			return fmt.Errorf("tally run exited before it was ready: %v", child.err)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.BaseURL+"/readyz", nil)
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("tally not ready: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *Tally) readKeys() error {
	data, err := os.ReadFile(filepath.Join(p.cfg.DataDir, "keys.json"))
	if err != nil {
		return err
	}
	var f auth.File
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("dev keys file: %w", err)
	}
	for _, k := range f.Keys {
		switch k.Role {
		case auth.RoleIngest:
			p.IngestKey = k.Secret
		case auth.RoleFinance:
			p.FinanceKey = k.Secret
		}
	}
	if p.IngestKey == "" || p.FinanceKey == "" {
		return errors.New("dev keys file lacks an ingest or a finance key")
	}
	return nil
}

// Kill sends SIGKILL to the daemon, waits for it to exit, then waits until
// its managed ClickHouse child (which gets SIGTERM from the kernel when its
// parent dies) has gone too, so a restart finds the data dir free.
func (p *Tally) Kill() {
	p.t.Helper()
	p.mu.Lock()
	child := p.p
	p.mu.Unlock()
	if child == nil {
		return
	}
	_ = child.signal(syscall.SIGKILL, 30*time.Second)
	p.waitClickHouseGone(30 * time.Second)
}

// Restart is Kill, then Start: a crash and an operator's restart.
func (p *Tally) Restart(ctx context.Context) error {
	p.Kill()
	return p.Start(ctx)
}

// Stop shuts the daemon down gracefully (SIGTERM; SIGKILL after 60s).
func (p *Tally) Stop() error {
	p.mu.Lock()
	child := p.p
	p.mu.Unlock()
	if child == nil {
		return nil
	}
	return child.signal(syscall.SIGTERM, 60*time.Second)
}

// Running reports whether the daemon process is alive.
func (p *Tally) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.p != nil && !p.p.exited()
}

// ClickHousePIDs lists the managed ClickHouse launcher processes of this
// data dir (normally one; none with an external DSN).
func (p *Tally) ClickHousePIDs() []int {
	return findProcs("__clickhouse-server", "--path="+filepath.Join(p.cfg.DataDir, "clickhouse"))
}

// KillClickHouse sends SIGKILL to the managed ClickHouse and returns its
// pid; the daemon's supervisor restarts it on the same ports.
func (p *Tally) KillClickHouse() (int, error) {
	pids := p.ClickHousePIDs()
	if len(pids) != 1 {
		return 0, fmt.Errorf("want one managed clickhouse process, found %v", pids)
	}
	return pids[0], syscall.Kill(pids[0], syscall.SIGKILL)
}

// waitClickHouseGone waits until no managed ClickHouse of this data dir is
// left, and kills what is still there after timeout.
func (p *Tally) waitClickHouseGone(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		pids := p.ClickHousePIDs()
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			p.t.Logf("managed clickhouse %v still running %s after its daemon; killing it", pids, timeout)
			for _, pid := range pids {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			timeout, deadline = 0, time.Now().Add(10*time.Second)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dumpLogs prints the tail of each daemon log of the test.
func (p *Tally) dumpLogs() {
	files, _ := filepath.Glob(filepath.Join(p.logDir, "*.log"))
	files = append(files, filepath.Join(p.cfg.DataDir, "clickhouse", "clickhouse.log"))
	for _, f := range files {
		p.t.Logf("--- last lines of %s:\n%s", f, tail(f, 40))
	}
}

// findProcs lists the pids whose command line holds every one of parts.
func findProcs(parts ...string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(data) == 0 {
			continue
		}
		cmdline := strings.ReplaceAll(string(data), "\x00", " ")
		all := true
		for _, part := range parts {
			if !strings.Contains(cmdline, part) {
				all = false
				break
			}
		}
		if all && !isZombie(pid) {
			out = append(out, pid)
		}
	}
	return out
}

func isZombie(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) state ...: the state follows the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z'
}

// logField returns field of the last JSON log line with message msg.
func logField(path, msg, field string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var val string
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil || line["message"] != msg {
			continue
		}
		if v, ok := line[field].(string); ok {
			val = v
		}
	}
	if val == "" {
		return "", fmt.Errorf("no %q log line with %s in %s", msg, field, path)
	}
	return val, nil
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
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

// NATSServer is an external nats-server child with JetStream, built from
// the nats-server module version in go.mod. It keeps its port and store
// dir across Kill/Start.
type NATSServer struct {
	t        *testing.T
	Addr     string
	StoreDir string
	logPath  string
	mu       sync.Mutex
	p        *proc
}

var (
	natsBuildOnce sync.Once
	natsBin       string
	natsBuildErr  error
)

// StartNATSServer builds nats-server (once per test binary) and starts it
// on a free loopback port with a fresh store dir; it is stopped when the
// test ends.
func StartNATSServer(t *testing.T) *NATSServer {
	t.Helper()
	natsBuildOnce.Do(func() {
		natsBin = filepath.Join(binDir, "nats-server")
		natsBuildErr = goBuild(natsBin, "github.com/nats-io/nats-server/v2")
	})
	if natsBuildErr != nil {
		t.Fatalf("building nats-server: %v", natsBuildErr)
	}
	n := &NATSServer{t: t, Addr: testnet.FreeAddr(t), StoreDir: t.TempDir()}
	n.logPath = filepath.Join(t.TempDir(), "nats-server.log")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- last lines of %s:\n%s", n.logPath, tail(n.logPath, 30))
		}
		n.Stop()
	})
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	return n
}

// URL is the client URL.
func (n *NATSServer) URL() string { return "nats://" + n.Addr }

// Start starts the server (again) and waits until it takes connections.
func (n *NATSServer) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	host, port, _ := net.SplitHostPort(n.Addr)
	p, err := startProc(n.logPath, natsBin, []string{"-a", host, "-p", port, "-js", "-sd", n.StoreDir, "-n", "chaos-nats"}, nil)
	if err != nil {
		return err
	}
	n.p = p
	deadline := time.Now().Add(30 * time.Second)
	for {
		if p.exited() {
			return fmt.Errorf("nats-server exited: %v\n%s", p.err, tail(n.logPath, 20))
		}
		if c, err := net.DialTimeout("tcp", n.Addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("nats-server did not listen within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill sends SIGKILL and waits for the exit.
func (n *NATSServer) Kill() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.p != nil {
		_ = n.p.signal(syscall.SIGKILL, 10*time.Second)
	}
}

// Stop sends SIGTERM (SIGKILL after 30s) and waits for the exit.
func (n *NATSServer) Stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.p != nil {
		if err := n.p.signal(syscall.SIGTERM, 30*time.Second); err != nil {
			n.t.Log(err)
		}
	}
}
