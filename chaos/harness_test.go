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
// file holds the processes (Tally, NATSServer; both on internal/tallyproc,
// which the README walkthrough and tally-bench use too); load_test.go the
// generator, the ledger and the clients (HTTPSender, NATSPublisher,
// RunLoad); check_test.go the ClickHouse helpers and the checks against the
// ledger.
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
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tally-billing/tally/auth"
	"github.com/tally-billing/tally/chlocal"
	"github.com/tally-billing/tally/internal/tallyproc"
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
	if chdbLib, err = chlocal.FindLibrary(""); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
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
	if err := tallyproc.Build(repoRoot, tallyBin, "./cmd/tally"); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: building tally:", err)
		return 1
	}
	return m.Run()
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
	p      *tallyproc.Tally // the current run; nil before the first start
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
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
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
// until it is ready; then it reads the dev keys and the ClickHouse DSN.
func (p *Tally) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.p != nil && !p.p.Exited() {
		return errors.New("tally is already running")
	}
	args := []string{
		"--no-scheduler",
		"--sink-max-wait", "50ms",
		"--ack-wait", p.cfg.AckWait.String(),
	}
	if p.cfg.NATSURL != "" {
		args = append(args, "--nats-url", p.cfg.NATSURL)
	}
	if p.cfg.ClickHouseDSN != "" {
		args = append(args, "--clickhouse-dsn", p.cfg.ClickHouseDSN)
	}
	child, err := tallyproc.Start(ctx, tallyproc.Config{
		Bin:        tallyBin,
		DataDir:    p.cfg.DataDir,
		HTTPAddr:   p.cfg.HTTPAddr,
		NATSListen: p.cfg.NATSListen,
		ChdbLib:    chdbLib,
		Args:       append(args, p.cfg.Args...),
		LogPath:    filepath.Join(p.logDir, fmt.Sprintf("tally-%02d.log", p.starts+1)),
		Dir:        repoRoot,
		Env:        append(os.Environ(), p.cfg.Env...),
	})
	if err != nil {
		return err
	}
	p.p = child
	// An external ClickHouse's DSN is the one given; the managed one's
	// ports change with every start.
	if p.chDSN = cmp.Or(p.cfg.ClickHouseDSN, child.ClickHouseDSN); p.chDSN == "" {
		return errors.New("no managed clickhouse dsn in the daemon's log")
	}
	if p.IngestKey, err = child.Key(auth.RoleIngest); err != nil {
		return err
	}
	if p.FinanceKey, err = child.Key(auth.RoleFinance); err != nil {
		return err
	}
	p.starts++
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
	if err := child.Kill(); err != nil {
		p.t.Log(err)
	}
}

// Restart is Kill, then Start: a crash and an operator's restart.
func (p *Tally) Restart(ctx context.Context) error {
	p.Kill()
	return p.Start(ctx)
}

// Stop shuts the daemon down gracefully (SIGTERM; SIGKILL after 60s) and
// waits until its managed ClickHouse has gone too.
func (p *Tally) Stop() error {
	p.mu.Lock()
	child := p.p
	p.mu.Unlock()
	if child == nil {
		return nil
	}
	return child.Stop(60 * time.Second)
}

// Running reports whether the daemon process is alive.
func (p *Tally) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.p != nil && !p.p.Exited()
}

// ClickHousePIDs lists the managed ClickHouse launcher processes of this
// data dir (normally one; none with an external DSN).
func (p *Tally) ClickHousePIDs() []int {
	return tallyproc.ClickHousePIDs(p.cfg.DataDir)
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

// dumpLogs prints the tail of each daemon log of the test.
func (p *Tally) dumpLogs() {
	files, _ := filepath.Glob(filepath.Join(p.logDir, "*.log"))
	files = append(files, filepath.Join(p.cfg.DataDir, "clickhouse", "clickhouse.log"))
	for _, f := range files {
		p.t.Logf("--- last lines of %s:\n%s", f, tallyproc.TailFile(f, 40))
	}
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
	p        *tallyproc.Proc
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
		natsBuildErr = tallyproc.Build(repoRoot, natsBin, "github.com/nats-io/nats-server/v2")
	})
	if natsBuildErr != nil {
		t.Fatalf("building nats-server: %v", natsBuildErr)
	}
	n := &NATSServer{t: t, Addr: testnet.FreeAddr(t), StoreDir: t.TempDir()}
	n.logPath = filepath.Join(t.TempDir(), "nats-server.log")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- last lines of %s:\n%s", n.logPath, tallyproc.TailFile(n.logPath, 30))
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
	p, err := tallyproc.StartProc(tallyproc.ProcConfig{
		Bin:     natsBin,
		Args:    []string{"-a", host, "-p", port, "-js", "-sd", n.StoreDir, "-n", "chaos-nats"},
		Dir:     repoRoot,
		LogPath: n.logPath,
	})
	if err != nil {
		return err
	}
	n.p = p
	deadline := time.Now().Add(30 * time.Second)
	for {
		if p.Exited() {
			return fmt.Errorf("nats-server exited: %v\n%s", p.Err(), p.Tail(20))
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
		_ = n.p.Stop(syscall.SIGKILL, 10*time.Second)
	}
}

// Stop sends SIGTERM (SIGKILL after 30s) and waits for the exit.
func (n *NATSServer) Stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.p != nil {
		if err := n.p.Stop(syscall.SIGTERM, 30*time.Second); err != nil {
			n.t.Log(err)
		}
	}
}
