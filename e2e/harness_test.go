package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/auth"
	"github.com/tally-billing/tally/chlocal/chlocaltest"
	"github.com/tally-billing/tally/daemon"
	"github.com/tally-billing/tally/pipeline"
)

// tally is one running daemon under test, with clients for its API and its
// ClickHouse database.
type tally struct {
	t       *testing.T
	d       *daemon.Daemon
	cfg     daemon.Config
	base    string
	ingest  string
	finance string
	ch      driver.Conn
}

// option changes the daemon config of a test.
type option func(*daemon.Config)

// managed makes the daemon start its own ClickHouse (the default mode).
func managed() option {
	return func(c *daemon.Config) {
		c.ClickHouseDSN = ""
		c.LauncherExecutable = os.Args[0]
		c.LauncherEnv = chlocaltest.LauncherEnv()
	}
}

func withDSN(dsn string) option        { return func(c *daemon.Config) { c.ClickHouseDSN = dsn } }
func withDataDir(dir string) option    { return func(c *daemon.Config) { c.DataDir = dir } }
func withNATS(url string) option       { return func(c *daemon.Config) { c.NATSURL = url } }
func withDedup(d time.Duration) option { return func(c *daemon.Config) { c.Topology.DedupWindow = d } }

// withClock fixes the daemon's clock (ingest's future check, period close).
func withClock(now time.Time) option {
	return func(c *daemon.Config) { c.Now = func() time.Time { return now } }
}

// withStripe sends invoices to a Stripe endpoint (stripe-mock behind a
// recording proxy in the tests).
func withStripe(apiBase string) option {
	return func(c *daemon.Config) { c.StripeKey, c.StripeAPIBase = "sk_test_tally", apiBase }
}

// startTally starts a daemon on free ports with a fresh data dir and a
// fresh database, and stops it at the end of the test.
func startTally(t *testing.T, opts ...option) *tally {
	t.Helper()
	cfg := daemon.Config{
		HTTPAddr:    "127.0.0.1:0",
		NATSListen:  "127.0.0.1:0",
		DataDir:     t.TempDir(),
		SinkMaxWait: 50 * time.Millisecond,
		// A batch held by a stopped consumer comes back after 15s, not the
		// production 2m, so outage tests do not wait minutes.
		AckWait:     15 * time.Second,
		NoScheduler: true,
		Logger:      zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.ClickHouseDSN == "" && cfg.LauncherExecutable == "" {
		cfg.ClickHouseDSN = newDatabase(t)
	}
	return restartTally(t, cfg)
}

// restartTally starts a daemon with exactly cfg.
func restartTally(t *testing.T, cfg daemon.Config) *tally {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := daemon.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("starting tally: %v", err)
	}
	tl := &tally{t: t, d: d, cfg: cfg, base: "http://" + d.HTTPAddr()}
	t.Cleanup(func() { tl.stop() })
	tl.ingest = keyOf(t, d.KeysFile(), auth.RoleIngest)
	tl.finance = keyOf(t, d.KeysFile(), auth.RoleFinance)
	tl.ch = openCH(t, d.ClickHouseDSN())
	return tl
}

func openCH(t *testing.T, dsn string) driver.Conn {
	t.Helper()
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

var stopped atomic.Int64

func (tl *tally) stop() {
	if tl.d == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := tl.d.Stop(ctx); err != nil {
		tl.t.Errorf("stopping tally: %v", err)
	}
	tl.ch.Close()
	tl.d = nil
	stopped.Add(1)
}

func keyOf(t *testing.T, path string, role auth.Role) string {
	t.Helper()
	key, err := auth.FindSecret(path, role)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// do sends a request and returns the status and body.
func (tl *tally) do(method, path, key, contentType string, body []byte) (int, http.Header, []byte) {
	tl.t.Helper()
	req, err := http.NewRequest(method, tl.base+path, bytes.NewReader(body))
	if err != nil {
		tl.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tl.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		tl.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, out
}

// send posts events as a batch (or one event when a single one is given
// as an object) with the ingest key.
func (tl *tally) sendBatch(events ...string) (int, []byte) {
	tl.t.Helper()
	status, _, body := tl.do(http.MethodPost, "/v1/events", tl.ingest, pipeline.ContentTypeBatch,
		[]byte("["+strings.Join(events, ",")+"]"))
	return status, body
}

// mustAccept posts a batch and requires 202 with the given counts.
func (tl *tally) mustAccept(accepted, duplicates int, events ...string) {
	tl.t.Helper()
	status, body := tl.sendBatch(events...)
	if status != http.StatusAccepted {
		tl.t.Fatalf("ingest: status %d: %s", status, body)
	}
	var res pipeline.IngestResult
	if err := json.Unmarshal(body, &res); err != nil {
		tl.t.Fatal(err)
	}
	if res.Accepted != accepted || res.Duplicates != duplicates {
		tl.t.Fatalf("ingest: got accepted %d duplicates %d, want %d and %d", res.Accepted, res.Duplicates, accepted, duplicates)
	}
}

// query returns a single uint64 from ClickHouse.
func (tl *tally) count(query string, args ...any) uint64 {
	tl.t.Helper()
	var n uint64
	if err := tl.ch.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		tl.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// rows counts the rows stored for a subject, without FINAL: a duplicate
// stored twice would show here.
func (tl *tally) rows(subject string) uint64 {
	return tl.count("SELECT count() FROM events WHERE subject = ?", subject)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitRows waits until subject has n rows stored.
func (tl *tally) waitRows(subject string, n uint64) {
	tl.t.Helper()
	tl.waitRowsWithin(subject, n, 60*time.Second)
}

// waitRowsWithin waits up to timeout until subject has n rows stored.
func (tl *tally) waitRowsWithin(subject string, n uint64, timeout time.Duration) {
	tl.t.Helper()
	waitFor(tl.t, timeout, fmt.Sprintf("%d rows for %s", n, subject), func() bool { return tl.rows(subject) >= n })
	if got := tl.rows(subject); got != n {
		tl.t.Fatalf("rows for %s: got %d, want %d", subject, got, n)
	}
}

// usage reads a tenant's usage over the API.
func (tl *tally) usage(tenant, from, to string) map[string]any {
	tl.t.Helper()
	status, _, body := tl.do(http.MethodGet, "/v1/tenants/"+tenant+"/usage?from="+from+"&to="+to, tl.finance, "", nil)
	if status != http.StatusOK {
		tl.t.Fatalf("usage: status %d: %s", status, body)
	}
	var u map[string]any
	if err := json.Unmarshal(body, &u); err != nil {
		tl.t.Fatal(err)
	}
	return u
}

// ev builds an event JSON.
func ev(source, id, typ, subject string, at time.Time, data string) string {
	return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":%q,"type":%q,"subject":%q,"time":%q,"data":%s}`,
		id, source, typ, subject, at.UTC().Format(time.RFC3339Nano), data)
}

// credits builds an ai.credits.consumed event.
func credits(id, tenant string, at time.Time, amount, feature string) string {
	return ev("ai-tutor", id, "ai.credits.consumed", tenant, at, fmt.Sprintf(`{"credits":%q,"feature":%q}`, amount, feature))
}
