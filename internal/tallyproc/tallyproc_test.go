package tallyproc

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tally-billing/tally/auth"
	"github.com/tally-billing/tally/daemon"
)

// fakeEnv makes the test binary a fake `tally run` (see fakeTally).
const fakeEnv = "TALLYPROC_FAKE"

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeEnv); mode != "" {
		os.Exit(fakeTally(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// fakeTally logs like `tally run` and serves /readyz. Modes: "serve" stops
// on SIGTERM; "exit" exits with status 3 before serving; "deaf" serves and
// ignores SIGTERM.
func fakeTally(mode string, args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	addr := fs.String("http-addr", "", "")
	fs.String("data-dir", "", "")
	fs.String("nats-listen", "", "")
	fs.String("log-level", "", "")
	if len(args) == 0 || args[0] != "run" || fs.Parse(args[1:]) != nil {
		fmt.Println(`{"level":"error","message":"bad arguments"}`)
		return 2
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	fmt.Println(`{"level":"info","url":"nats://127.0.0.1:4222","message":"embedded nats with jetstream started"}`)
	fmt.Println(`{"level":"info","dsn":"clickhouse://127.0.0.1:9000","message":"managed clickhouse started"}`)
	if mode == "exit" {
		fmt.Println(`{"level":"error","message":"giving up"}`)
		return 3
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	}()
	fmt.Printf(`{"level":"info","addr":%q,"message":"tally is serving"}`+"\n", ln.Addr())
	for range sigs {
		if mode != "deaf" {
			fmt.Println(`{"level":"info","message":"shutting down"}`)
			return 0
		}
	}
	return 0
}

func fakeConfig(t *testing.T, mode string) Config {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Bin: exe, DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0",
		LogPath: filepath.Join(t.TempDir(), "tally.log"),
		Env:     append(os.Environ(), fakeEnv+"="+mode),
	}
}

func TestStartLearnsTheAddressesAndStops(t *testing.T) {
	cfg := fakeConfig(t, "serve")
	keys := `{"keys":[{"name":"k1","role":"ingest","key":"ing-secret"}]}`
	if err := os.WriteFile(filepath.Join(cfg.DataDir, "keys.json"), []byte(keys), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.HTTPAddr, "127.0.0.1:") || p.HTTPAddr == "127.0.0.1:0" {
		t.Errorf("HTTPAddr = %q, want the port the daemon picked", p.HTTPAddr)
	}
	if p.NATSURL != "nats://127.0.0.1:4222" || p.ClickHouseDSN != "clickhouse://127.0.0.1:9000" {
		t.Errorf("NATSURL, ClickHouseDSN = %q, %q", p.NATSURL, p.ClickHouseDSN)
	}
	if key, err := p.Key(auth.RoleIngest); err != nil || key != "ing-secret" {
		t.Errorf("Key(ingest) = %q, %v", key, err)
	}
	if _, err := p.Key(auth.RoleFinance); err == nil {
		t.Error("Key(finance) of a file without one: no error")
	}
	if err := p.Stop(10 * time.Second); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if p.Err() != nil {
		t.Errorf("exit status after SIGTERM: %v", p.Err())
	}
	var lines []string
	if err := p.ReadLog(func(_ string, f map[string]any) { lines = append(lines, fmt.Sprint(f["message"])) }); err != nil {
		t.Fatal(err)
	}
	if got := lines[len(lines)-1]; got != "shutting down" {
		t.Errorf("last log line %q, want shutting down", got)
	}
}

func TestStartFailsWhenTheDaemonExits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Start(ctx, fakeConfig(t, "exit"))
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "giving up") {
		t.Fatalf("Start of a daemon that exits: %v; want the exit and the log's tail", err)
	}
}

func TestStopKillsAfterTheGrace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := fakeConfig(t, "deaf")
	cfg.OwnGroup = true
	p, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(200 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Stop of a daemon deaf to SIGTERM: %v, want a kill", err)
	}
	if !p.Exited() {
		t.Error("still running after Stop")
	}
}

func TestReadLogSkipsAnEarlierChild(t *testing.T) {
	cfg := fakeConfig(t, "exit")
	if err := os.WriteFile(cfg.LogPath, []byte(`{"message":"tally is serving","addr":"127.0.0.1:1"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := Start(ctx, cfg); err == nil {
		t.Fatal("Start took the serving line of an earlier child in the same log")
	}
}

func TestEnvDropsTallySettings(t *testing.T) {
	t.Setenv("TALLY_HTTP_ADDR", "x")
	t.Setenv("TALLY_CHDB_LIB", "/l.so")
	env := strings.Join(Env("TALLY_CHDB_LIB"), "\n")
	if strings.Contains(env, "TALLY_HTTP_ADDR") || !strings.Contains(env, "TALLY_CHDB_LIB=/l.so") {
		t.Errorf("Env(TALLY_CHDB_LIB) =\n%s", env)
	}
	if strings.Contains(strings.Join(Env(), "\n"), "TALLY_") {
		t.Error("Env() keeps a TALLY_ variable")
	}
}

func TestLauncherCommandIsTheDaemons(t *testing.T) {
	if launcherCommand != daemon.LauncherCommand {
		t.Errorf("launcherCommand = %q, daemon.LauncherCommand = %q", launcherCommand, daemon.LauncherCommand)
	}
}

func TestMemoryOfThisProcess(t *testing.T) {
	rss, peak, err := Memory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss <= 0 || peak < rss {
		t.Errorf("Memory = rss %d, peak %d; want 0 < rss <= peak", rss, peak)
	}
	if _, _, err := Memory(-1); err == nil {
		t.Error("Memory(-1): no error")
	}
}
