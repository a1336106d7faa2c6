package chlocal_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/chlocal"
)

const (
	testTimeout = 60 * time.Second
	pollEvery   = 25 * time.Millisecond
)

// startServer starts a server on dataDir and stops it when the test ends.
func startServer(t *testing.T, dataDir string) *chlocal.Server {
	t.Helper()
	return stopAtEnd(t, startWith(t, launcherConfig(dataDir)))
}

// stopAtEnd stops srv when the test ends, failing the test if that Stop (or
// an earlier one) did not go cleanly.
func stopAtEnd(t *testing.T, srv *chlocal.Server) *chlocal.Server {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		if os.Getenv("CHLOCAL_DUMP_LOG") != "" {
			b, _ := os.ReadFile(srv.LogFile())
			t.Logf("log:\n%s", b)
		}
	})
	return srv
}

// startUnmanaged starts a server on dataDir; the caller must stop it.
func startUnmanaged(t *testing.T, dataDir string) *chlocal.Server {
	t.Helper()
	return startWith(t, launcherConfig(dataDir))
}

// startWith starts a server from cfg; the caller must stop it.
func startWith(t *testing.T, cfg chlocal.Config) *chlocal.Server {
	t.Helper()
	if _, err := chlocal.FindLibrary(""); err != nil {
		t.Fatalf("these tests need the real libchdb.so: %v", err)
	}
	cfg.StartTimeout = 30 * time.Second
	cfg.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	begin := time.Now()
	srv, err := chlocal.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("server ready in %s: pid %d, %s, RSS %s", time.Since(begin).Round(time.Millisecond),
		srv.PID(), srv.DSN(), rss(srv.PID()))
	return srv
}

// openNative opens a clickhouse-go native connection to srv.
func openNative(t *testing.T, srv *chlocal.Server) driver.Conn {
	t.Helper()
	opts, err := clickhouse.ParseDSN(srv.DSN())
	if err != nil {
		t.Fatalf("parsing DSN %q: %v", srv.DSN(), err)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatalf("opening native connection: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func queryUint64(t *testing.T, conn driver.Conn, query string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	var n uint64
	if err := conn.QueryRow(ctx, query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// eventually polls cond until it returns nil or the deadline passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, timeout, err)
		}
		time.Sleep(pollEvery)
	}
}

func ping(url string) error {
	// No keep-alive: an idle connection would make the server's shutdown
	// wait for it (shutdown_wait_unfinished, 5 s).
	client := http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: true},
	}
	resp, err := client.Get(url + "/ping")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "Ok." {
		return fmt.Errorf("ping: %s %q", resp.Status, body)
	}
	return nil
}

// processGone reports whether pid no longer runs (absent, or a zombie
// waiting for a reaper that is not us).
func processGone(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	// pid (comm) state ...; comm may contain spaces, so look after ')'.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

func rss(pid int) string {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return "?"
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.TrimSpace(rest)
		}
	}
	return "?"
}

type usageRow struct {
	ID       uint64 `ch:"id"`
	Customer string `ch:"customer"`
	Quantity uint64 `ch:"quantity"`
}

func TestServerDefaults(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	cfg := launcherConfig(t.TempDir())
	cfg.Env = append(cfg.Env,
		"TZ=Asia/Tokyo", // the server's timezone must not follow the host's
		"HOME="+home,    // nothing may be written there
	)
	srv := stopAtEnd(t, startWith(t, cfg))
	conn := openNative(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	// Sessions get the settings the launcher chose, not chDB's defaults.
	if got := queryUint64(t, conn, "SELECT toUInt64(getSetting('async_insert'))"); got != 0 {
		t.Errorf("async_insert = %d, want 0", got)
	}
	var tz string
	if err := conn.QueryRow(ctx, "SELECT serverTimezone()").Scan(&tz); err != nil || (tz != "UTC" && tz != "Etc/UTC") {
		t.Errorf("serverTimezone() = %q, %v; want UTC", tz, err)
	}
	serverSetting := func(name string) uint64 {
		t.Helper()
		return queryUint64(t, conn, fmt.Sprintf(
			"SELECT toUInt64(toFloat64(value) * 100) FROM system.server_settings WHERE name = '%s'", name))
	}
	if got := serverSetting("max_server_memory_usage") / 100; got == 0 || got > chlocal.DefaultMaxServerMemory {
		t.Errorf("max_server_memory_usage = %d, want (0, %d]", got, int64(chlocal.DefaultMaxServerMemory))
	}
	if got := serverSetting("max_server_memory_usage_to_ram_ratio"); got != 50 {
		t.Errorf("max_server_memory_usage_to_ram_ratio = %d%%, want 50%%", got)
	}
	if got := serverSetting("mark_cache_size") / 100; got != 512<<20 {
		t.Errorf("mark_cache_size = %d, want 512 MiB", got)
	}

	log, err := os.ReadFile(srv.LogFile())
	if err != nil || !strings.Contains(string(log), "starting clickhouse-local") {
		t.Errorf("log file %s: %v; want the launcher's start message, got %q", srv.LogFile(), err, log)
	}
	entries, err := os.ReadDir(home)
	if err != nil || len(entries) != 0 {
		t.Errorf("HOME has %v (%v), want it empty", entries, err)
	}
}

func TestNativeInsertDeduplicationToken(t *testing.T) {
	t.Parallel()
	srv := startServer(t, t.TempDir())
	conn := openNative(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	err := conn.Exec(ctx, `CREATE TABLE usage (id UInt64, customer String, quantity UInt64)
		ENGINE = MergeTree ORDER BY id
		SETTINGS non_replicated_deduplication_window = 1000`)
	if err != nil {
		t.Fatalf("creating table: %v", err)
	}

	block := []usageRow{{1, "acme", 10}, {2, "acme", 20}, {3, "globex", 5}}
	insert := func(token string) {
		t.Helper()
		ictx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
			"insert_deduplication_token": token,
		}))
		batch, err := conn.PrepareBatch(ictx, "INSERT INTO usage")
		if err != nil {
			t.Fatalf("preparing batch %s: %v", token, err)
		}
		for _, r := range block {
			if err := batch.AppendStruct(&r); err != nil {
				t.Fatalf("appending to batch %s: %v", token, err)
			}
		}
		if err := batch.Send(); err != nil {
			t.Fatalf("sending batch %s: %v", token, err)
		}
	}
	count := func() uint64 { return queryUint64(t, conn, "SELECT count() FROM usage") }

	insert("batch-1")
	if got := count(); got != 3 {
		t.Fatalf("after first insert: %d rows, want 3", got)
	}
	insert("batch-1") // a retry of the same batch
	if got := count(); got != 3 {
		t.Fatalf("after repeating token batch-1: %d rows, want 3 (not deduplicated)", got)
	}
	insert("batch-2") // same rows, new batch
	if got := count(); got != 6 {
		t.Fatalf("after token batch-2: %d rows, want 6", got)
	}
	if got := queryUint64(t, conn, "SELECT sum(quantity) FROM usage"); got != 70 {
		t.Fatalf("sum(quantity) = %d, want 70", got)
	}
}

// TestMisbehavingClientsDoNotKillServer drops connections the ways real
// clients do. Without a terminal on stdin, clickhouse-local installs an
// error handler that aborts the process when a connection handler throws
// (ClickHouse issue 115666); the launcher's pseudo-terminal avoids it.
func TestMisbehavingClientsDoNotKillServer(t *testing.T) {
	t.Parallel()
	srv := startServer(t, t.TempDir())
	pid := srv.PID()
	control := openNative(t, srv)
	opts, err := clickhouse.ParseDSN(srv.DSN())
	if err != nil {
		t.Fatal(err)
	}
	nativeAddr := opts.Addr[0]
	httpAddr := strings.TrimPrefix(srv.HTTPURL(), "http://")

	// connections waits until the server has finished with every
	// connection of the given kind (it counts the control connection).
	connections := func(t *testing.T, metric string, want uint64) {
		t.Helper()
		eventually(t, 30*time.Second, "waiting for the server to drop "+metric, func() error {
			n := queryUint64(t, control, fmt.Sprintf(
				"SELECT toUInt64(value) FROM system.metrics WHERE metric = '%s'", metric))
			if n != want {
				return fmt.Errorf("%s = %d, want %d", metric, n, want)
			}
			return nil
		})
	}

	tests := []struct {
		name      string
		misbehave func(t *testing.T)
	}{
		{"native reset mid-result", func(t *testing.T) {
			dropNativeMidResult(t, srv, true)
			connections(t, "TCPConnection", 1)
		}},
		{"native close mid-result", func(t *testing.T) {
			dropNativeMidResult(t, srv, false)
			connections(t, "TCPConnection", 1)
		}},
		{"http reset mid-response", func(t *testing.T) {
			c := dialReset(t, httpAddr)
			fmt.Fprintf(c, "GET /?query=%s HTTP/1.1\r\nHost: x\r\n\r\n",
				"SELECT+number+FROM+system.numbers+LIMIT+1000000000")
			if _, err := io.ReadFull(c, make([]byte, 4096)); err != nil {
				t.Fatalf("reading the start of the response: %v", err)
			}
			c.Close()
			connections(t, "HTTPConnection", 0)
		}},
		{"http reset of kept-alive connections", func(t *testing.T) {
			for range 20 {
				c := dialReset(t, httpAddr)
				fmt.Fprint(c, "GET /ping HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatalf("reading /ping response: %v", err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				c.Close()
			}
			connections(t, "HTTPConnection", 0)
		}},
		{"http request on the native port", func(t *testing.T) {
			c := dialReset(t, nativeAddr)
			defer c.Close()
			fmt.Fprint(c, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
			// The server answers with an exception packet and hangs up.
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			if _, err := io.Copy(io.Discard, c); err != nil {
				t.Fatalf("waiting for the server to hang up: %v", err)
			}
			connections(t, "TCPConnection", 1)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.misbehave(t)
			if err := ping(srv.HTTPURL()); err != nil {
				t.Fatalf("after the client misbehaved: %v", err)
			}
			fresh := openNative(t, srv)
			if got := queryUint64(t, fresh, "SELECT sum(number) FROM numbers(1000)"); got != 499500 {
				t.Fatalf("new query = %d, want 499500", got)
			}
			fresh.Close()
			if srv.PID() != pid || srv.Restarts() != 0 || processGone(pid) {
				t.Fatalf("server died: pid %d -> %d, restarts %d", pid, srv.PID(), srv.Restarts())
			}
		})
	}
}

// dialReset connects to addr; closing the connection sends RST, not FIN.
func dialReset(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tc := c.(*net.TCPConn)
	if err := tc.SetLinger(0); err != nil {
		t.Fatal(err)
	}
	return tc
}

// dropNativeMidResult starts a huge SELECT through clickhouse-go, reads a
// few rows and closes the connection under the driver, with RST if reset.
func dropNativeMidResult(t *testing.T, srv *chlocal.Server, reset bool) {
	t.Helper()
	var (
		mu  sync.Mutex
		raw []net.Conn
	)
	opts, err := clickhouse.ParseDSN(srv.DSN())
	if err != nil {
		t.Fatal(err)
	}
	opts.DialContext = func(ctx context.Context, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err == nil {
			mu.Lock()
			raw = append(raw, c)
			mu.Unlock()
		}
		return c, err
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	rows, err := conn.Query(ctx, "SELECT number FROM system.numbers LIMIT 1000000000")
	if err != nil {
		t.Fatalf("starting large query: %v", err)
	}
	for i := range 5 {
		if !rows.Next() {
			t.Fatalf("large query ended after %d rows: %v", i, rows.Err())
		}
	}
	mu.Lock()
	for _, c := range raw {
		if reset {
			if err := c.(*net.TCPConn).SetLinger(0); err != nil {
				t.Fatal(err)
			}
		}
		c.Close()
	}
	mu.Unlock()
	rows.Close()
}

func TestDataSurvivesStopAndStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	first := startServer(t, dir)
	conn := openNative(t, first)
	if err := conn.Exec(ctx, "CREATE TABLE kept (id UInt64) ENGINE = MergeTree ORDER BY id"); err != nil {
		t.Fatalf("creating table: %v", err)
	}
	if err := conn.Exec(ctx, "INSERT INTO kept SELECT number FROM numbers(100)"); err != nil {
		t.Fatalf("inserting: %v", err)
	}
	conn.Close()
	if err := first.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	second := startServer(t, dir)
	conn = openNative(t, second)
	if got := queryUint64(t, conn, "SELECT count() FROM kept"); got != 100 {
		t.Fatalf("after restart: %d rows, want 100", got)
	}
	if got := queryUint64(t, conn, "SELECT sum(id) FROM kept"); got != 4950 {
		t.Fatalf("after restart: sum(id) = %d, want 4950", got)
	}
}

func TestSupervisorRestartsKilledChild(t *testing.T) {
	t.Parallel()
	srv := startServer(t, t.TempDir())
	dsn := srv.DSN()
	conn := openNative(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := conn.Exec(ctx, "CREATE TABLE before_crash (id UInt64) ENGINE = MergeTree ORDER BY id"); err != nil {
		t.Fatalf("creating table: %v", err)
	}
	if err := conn.Exec(ctx, "INSERT INTO before_crash VALUES (7)"); err != nil {
		t.Fatalf("inserting: %v", err)
	}

	old := srv.PID()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatalf("killing child: %v", err)
	}
	eventually(t, 30*time.Second, "waiting for a restart", func() error {
		if srv.Restarts() < 1 {
			return errors.New("not restarted yet")
		}
		return nil
	})
	if srv.Restarts() != 1 {
		t.Errorf("Restarts() = %d, want 1", srv.Restarts())
	}
	if srv.PID() == old || !processGone(old) {
		t.Fatalf("pid %d -> %d; old gone: %v", old, srv.PID(), processGone(old))
	}
	if srv.DSN() != dsn {
		t.Fatalf("DSN changed from %s to %s", dsn, srv.DSN())
	}

	fresh := openNative(t, srv)
	if got := queryUint64(t, fresh, "SELECT sum(id) FROM before_crash"); got != 7 {
		t.Fatalf("after restart: sum(id) = %d, want 7", got)
	}
	// The pool of the connection opened before the crash recovers too.
	eventually(t, 10*time.Second, "old connection pool querying again", func() error {
		var n uint64
		return conn.QueryRow(ctx, "SELECT count() FROM before_crash").Scan(&n)
	})
}

func TestStopIsIdempotentAndLeavesNoProcess(t *testing.T) {
	t.Parallel()
	srv := startServer(t, t.TempDir())
	pid := srv.PID()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	begin := time.Now()
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- srv.Stop(ctx) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent Stop: %v", err)
		}
	}
	t.Logf("stopped in %s", time.Since(begin).Round(time.Millisecond))
	if err := srv.Stop(ctx); err != nil {
		t.Fatalf("third Stop: %v", err)
	}
	if !processGone(pid) {
		t.Fatalf("child %d still running after Stop", pid)
	}
	if err := ping(srv.HTTPURL()); err == nil {
		t.Fatalf("%s still answers after Stop", srv.HTTPURL())
	}
	if srv.Restarts() != 0 {
		t.Fatalf("Stop caused %d restarts", srv.Restarts())
	}
}

func TestStopKillsChildThatIgnoresDeadline(t *testing.T) {
	t.Parallel()
	srv := startUnmanaged(t, t.TempDir())
	t.Cleanup(func() { // in case the test fails before its own Stop
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Stop(ctx) // the result is checked below
	})
	pid := srv.PID()
	// Freeze the child so it cannot react to SIGTERM.
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := srv.Stop(ctx)
	if !errors.Is(err, chlocal.ErrKilled) {
		t.Fatalf("Stop = %v, want ErrKilled", err)
	}
	if !processGone(pid) {
		t.Fatalf("child %d still running after Stop", pid)
	}
	if again := srv.Stop(context.Background()); !errors.Is(again, chlocal.ErrKilled) {
		t.Fatalf("second Stop = %v, want the first result", again)
	}
}

func TestChildExitsWhenParentDies(t *testing.T) {
	t.Parallel()
	if _, err := chlocal.FindLibrary(""); err != nil {
		t.Fatalf("these tests need the real libchdb.so: %v", err)
	}
	parent := exec.Command(os.Args[0])
	parent.Env = append(os.Environ(), orphanParentEnv+"="+t.TempDir())
	parent.Stderr = zerolog.NewTestWriter(t)
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = parent.Wait() }() // killed below

	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		parent.Process.Kill()
		t.Fatalf("reading child pid from parent: %v", err)
	}
	var (
		pid int
		url string
	)
	if _, err := fmt.Sscanf(line, "PID %d %s", &pid, &url); err != nil {
		parent.Process.Kill()
		t.Fatalf("parsing %q: %v", line, err)
	}
	t.Cleanup(func() {
		if !processGone(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	if err := ping(url); err != nil {
		t.Fatalf("child of orphan parent: %v", err)
	}

	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "waiting for the orphaned child to exit", func() error {
		if !processGone(pid) {
			return fmt.Errorf("child %d still running", pid)
		}
		return nil
	})
	if err := ping(url); err == nil {
		t.Fatalf("%s still answers after its parent died", url)
	}
}
