package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/auth"
	"github.com/tally-billing/tally/chstore"
	"github.com/tally-billing/tally/daemon"
	"github.com/tally-billing/tally/internal/tallyproc"
	"github.com/tally-billing/tally/internal/testnet"
	"github.com/tally-billing/tally/lease"
	"github.com/tally-billing/tally/natsembed"
	"github.com/tally-billing/tally/pipeline"
)

// The cluster test runs NATS nodes and a Tally replica as child processes
// of the test binary, so that they can be killed with SIGKILL. childEnv
// names the role of a child, childConfigEnv carries its JSON config.
const (
	childEnv       = "TALLY_E2E_CHILD"
	childConfigEnv = "TALLY_E2E_CHILD_CONFIG"
)

// Test settings of the cluster test: schedulers look often, and a batch
// delivered to a killed replica is redelivered after 10s instead of 2m.
const (
	clusterSchedulerCheck = 250 * time.Millisecond
	clusterAckWait        = 10 * time.Second
)

// natsNodeConfig is the config of a NATS node child.
type natsNodeConfig struct {
	Name     string   `json:"name"`
	Client   string   `json:"client"`
	Cluster  string   `json:"cluster"`
	Routes   []string `json:"routes"`
	StoreDir string   `json:"store_dir"`
}

// replicaConfig is the config of a Tally replica child.
type replicaConfig struct {
	HTTPAddr string      `json:"http_addr"`
	DataDir  string      `json:"data_dir"`
	KeysFile string      `json:"keys_file"`
	NATSURL  string      `json:"nats_url"`
	DSN      string      `json:"dsn"`
	Clock    switchClock `json:"clock"`
}

// switchClock is the clock of the cluster test's replicas: Before until the
// file SwitchFile exists, After from then on. The test creates the file to
// move every replica, in process or not, to the same new instant at once.
type switchClock struct {
	Before     time.Time `json:"before"`
	After      time.Time `json:"after"`
	SwitchFile string    `json:"switch_file"`
}

func (c switchClock) Now() time.Time {
	if c.SwitchFile != "" {
		if _, err := os.Stat(c.SwitchFile); err == nil {
			return c.After
		}
	}
	return c.Before
}

// clusterConfig is what both kinds of replica share.
func clusterConfig(c *daemon.Config, natsURL, dsn, keys string, clock switchClock) {
	c.NATSURL = natsURL
	c.ClickHouseDSN = dsn
	c.KeysFile = keys
	c.Topology.Replicas = 3
	c.NoScheduler = false
	c.SchedulerCheck = clusterSchedulerCheck
	c.AckWait = clusterAckWait
	c.SinkMaxWait = 50 * time.Millisecond
	c.Now = clock.Now
}

// runChild is the main of a child process; TestMain calls it when childEnv
// is set. It runs until SIGTERM (or SIGKILL).
func runChild(role string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := zerolog.New(os.Stderr).With().Timestamp().Str("child", role).Logger().Level(zerolog.WarnLevel)
	raw := []byte(os.Getenv(childConfigEnv))
	switch role {
	case "nats":
		var c natsNodeConfig
		if err := json.Unmarshal(raw, &c); err != nil {
			log.Error().Err(err).Msg("child config")
			return 2
		}
		ns, err := natsembed.Start(natsembed.Config{
			StoreDir: c.StoreDir, ListenAddr: c.Client, ServerName: c.Name, Logger: log,
			Cluster: &natsembed.ClusterConfig{Name: "tally-e2e", ListenAddr: c.Cluster, Routes: c.Routes},
		})
		if err != nil {
			log.Error().Err(err).Msg("starting nats")
			return 1
		}
		<-ctx.Done()
		ns.Shutdown()
		return 0
	case "replica":
		var c replicaConfig
		if err := json.Unmarshal(raw, &c); err != nil {
			log.Error().Err(err).Msg("child config")
			return 2
		}
		cfg := daemon.Config{HTTPAddr: c.HTTPAddr, DataDir: c.DataDir, Logger: log}
		clusterConfig(&cfg, c.NATSURL, c.DSN, c.KeysFile, c.Clock)
		sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		d, err := daemon.Start(sctx, cfg)
		cancel()
		if err != nil {
			log.Error().Err(err).Msg("starting tally")
			return 1
		}
		waitErr := make(chan error, 1)
		go func() { waitErr <- d.Wait() }()
		select {
		case <-ctx.Done():
		case err := <-waitErr:
			if err != nil {
				log.Error().Err(err).Msg("a part failed")
			}
		}
		if err := d.Stop(context.Background()); err != nil {
			log.Error().Err(err).Msg("stopping tally")
			return 1
		}
		return 0
	}
	log.Error().Str("role", role).Msg("unknown child role")
	return 2
}

// child is a running child process.
type child struct {
	name string
	*tallyproc.Proc
}

// startChild starts the test binary as a child with role and config; the
// child's output goes to a log file that is printed if the test fails. The
// child is stopped (SIGTERM) at the end of the test if it still runs.
func startChild(t *testing.T, role, name string, config any) *child {
	t.Helper()
	raw, err := json.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), name+".log")
	p, err := tallyproc.StartProc(tallyproc.ProcConfig{
		Bin:     os.Args[0],
		Env:     append(os.Environ(), childEnv+"="+role, childConfigEnv+"="+string(raw)),
		LogPath: logPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &child{name: name, Proc: p}
	t.Cleanup(func() {
		if err := p.Stop(syscall.SIGTERM, 30*time.Second); err != nil {
			t.Errorf("%s did not stop on SIGTERM: %v", name, err)
		}
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				// Without the nodes' retries of the route to a killed node.
				var keep []string
				for _, l := range strings.Split(string(b), "\n") {
					if !strings.Contains(l, "trying to connect to route") {
						keep = append(keep, l)
					}
				}
				out := strings.Join(keep, "\n")
				const tail = 6000
				if len(out) > tail {
					out = out[len(out)-tail:]
				}
				t.Logf("--- log of %s (end) ---\n%s", name, out)
			}
		}
	})
	return c
}

// kill sends SIGKILL and waits until the process is gone.
func (c *child) kill() { _ = c.Stop(syscall.SIGKILL, time.Minute) }

// natsCluster is three NATS node processes clustered on loopback.
type natsCluster struct {
	nodes map[string]*child // by server name
	urls  string            // every client URL, comma-separated
}

func startNATSCluster(t *testing.T) *natsCluster {
	t.Helper()
	names := []string{"n1", "n2", "n3"}
	clusterAddrs := map[string]string{}
	var routes []string
	for _, n := range names {
		clusterAddrs[n] = testnet.FreeAddr(t)
		routes = append(routes, "nats-route://"+clusterAddrs[n])
	}
	dir := t.TempDir()
	c := &natsCluster{nodes: map[string]*child{}}
	var urls []string
	for _, n := range names {
		client := testnet.FreeAddr(t)
		c.nodes[n] = startChild(t, "nats", "nats-"+n, natsNodeConfig{
			Name: n, Client: client, Cluster: clusterAddrs[n], Routes: routes, StoreDir: filepath.Join(dir, n),
		})
		urls = append(urls, "nats://"+client)
	}
	c.urls = strings.Join(urls, ",")
	return c
}

// retryCtx calls f, each time with its own short deadline (a JetStream
// request sent while no leader is elected gets no answer), until it
// succeeds or the timeout passes.
func retryCtx(t *testing.T, timeout time.Duration, what string, f func(ctx context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err := f(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// connect opens a NATS connection to the cluster and waits until it can
// place an R3 stream (all three nodes are in the JetStream cluster).
func (c *natsCluster) connect(t *testing.T) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(c.urls, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond),
		nats.RetryOnFailedConnect(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	retryCtx(t, time.Minute, "placing an R3 stream on the cluster", func(ctx context.Context) error {
		_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "E2E_PROBE", Subjects: []string{"e2e.probe"}, Replicas: 3})
		return err
	})
	retryCtx(t, 30*time.Second, "deleting the probe stream", func(ctx context.Context) error {
		return js.DeleteStream(ctx, "E2E_PROBE")
	})
	return js
}

// backdateInstall migrates the database and records the installation on
// installed: the schedulers handle only periods and runs after the
// installation, and the test must not depend on today's date.
func backdateInstall(t *testing.T, dsn string, installed time.Time) {
	t.Helper()
	ctx := context.Background()
	store, err := chstore.Open(ctx, chstore.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	conn := openCH(t, dsn)
	defer conn.Close()
	if err := conn.Exec(ctx, `INSERT INTO tally_migrations (version, name, applied_at)
		SELECT version, name, ? FROM tally_migrations FINAL`, installed); err != nil {
		t.Fatal(err)
	}
	got, err := store.InstalledAt(ctx)
	if err != nil || !got.Equal(installed) {
		t.Fatalf("installed at %v (%v), want %v", got, err, installed)
	}
}

// leaseHolder reads who holds a singleton lease.
func leaseHolder(t *testing.T, js jetstream.JetStream, key string) string {
	t.Helper()
	var holder string
	retryCtx(t, 30*time.Second, "reading lease "+key, func(ctx context.Context) error {
		kv, err := js.KeyValue(ctx, lease.Bucket)
		if err != nil {
			return err
		}
		e, err := kv.Get(ctx, key)
		if err != nil {
			return err
		}
		var rec struct {
			Holder string `json:"holder"`
		}
		if err := json.Unmarshal(e.Value(), &rec); err != nil {
			return err
		}
		holder = rec.Holder
		return nil
	})
	return holder
}

// heldBy reports whether a lease holder name is the process pid (holder
// names are host-pid-random).
func heldBy(holder string, pid int) bool { return strings.Contains(holder, fmt.Sprintf("-%d-", pid)) }

// startReplica starts a Tally replica child and waits until it serves.
func startReplica(t *testing.T, name string, cfg replicaConfig) (*child, string) {
	t.Helper()
	c := startChild(t, "replica", name, cfg)
	base := "http://" + cfg.HTTPAddr
	waitFor(t, 2*time.Minute, name+" ready", func() bool {
		if c.Exited() {
			t.Fatalf("%s exited while starting", name)
		}
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return c, base
}

// loadTenants are the extra tenants of the cluster test's load: each on
// the team plan, monthly, from November 1, with loadCredits events of 40.25
// credits in November.
const (
	loadTenants = 20
	loadCredits = 149
)

func loadEvents() []string {
	var out []string
	for i := range loadTenants {
		tenant := fmt.Sprintf("tenant-load-%02d", i)
		out = append(out, ev("billing", tenant+"-start", "subscription.started", tenant, nov(1, 0),
			`{"plan":"team","term":"monthly","currency":"USD"}`))
		for j := range loadCredits {
			out = append(out, credits(fmt.Sprintf("%s-c%d", tenant, j), tenant, nov(10, 0).Add(time.Duration(j)*time.Minute), "40.25", "tutor"))
		}
	}
	return out
}

// sender posts batches to whichever replica answers, resending a batch
// with the same event ids after a 503 or a connection error until it gets
// a 202: resending is safe, that is the exactly-once contract.
type sender struct {
	bases    []string
	key      string
	client   *http.Client
	accepted atomic.Int64 // batches answered 202
	retries  atomic.Int64 // answers that were not 202, and connection errors
}

func (s *sender) send(ctx context.Context, worker int, batch []string) error {
	body := []byte("[" + strings.Join(batch, ",") + "]")
	for attempt := 0; ; attempt++ {
		base := s.bases[(worker+attempt)%len(s.bases)]
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/events", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+s.key)
		req.Header.Set("Content-Type", pipeline.ContentTypeBatch)
		resp, err := s.client.Do(req)
		if err == nil {
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusAccepted:
				var res pipeline.IngestResult
				if err := json.Unmarshal(out, &res); err != nil {
					return err
				}
				if res.Accepted+res.Duplicates != len(batch) {
					return fmt.Errorf("batch of %d: accepted %d, duplicates %d", len(batch), res.Accepted, res.Duplicates)
				}
				s.accepted.Add(1)
				return nil
			case resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode >= 500:
			default:
				return fmt.Errorf("ingest at %s: status %d: %s", base, resp.StatusCode, out)
			}
		}
		if ctx.Err() != nil {
			return fmt.Errorf("batch not accepted in time: %w", ctx.Err())
		}
		s.retries.Add(1)
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClusterSurvivesNodeAndReplicaKills runs Tally on a three-node NATS
// cluster with its streams and lease bucket at R3 and two replicas: one a
// child process, one in this process. While a few thousand events are
// posted to both, the leader node of the events stream and then the child
// replica are killed with SIGKILL. Every event is stored exactly once, and
// once the clock passes November's close and December 1's payout run, the
// other replica and a restarted child race for the leases: November closes
// once, the run happens once, and the invoices are SPEC's worked examples.
func TestClusterSurvivesNodeAndReplicaKills(t *testing.T) {
	began := time.Now()
	logf := func(format string, args ...any) {
		t.Logf("[%5.1fs] %s", time.Since(began).Seconds(), fmt.Sprintf(format, args...))
	}
	cluster := startNATSCluster(t)
	js := cluster.connect(t)
	logf("NATS cluster of 3 processes up: %s", cluster.urls)

	// Installed on October 15; the clock starts on November 30 at noon:
	// October's close and November 1's (empty) payout run are due, the
	// worked month is not over yet.
	dsn := newDatabase(t)
	backdateInstall(t, dsn, time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC))
	keys := filepath.Join(t.TempDir(), "keys.json")
	if _, err := auth.WriteDevFile(keys); err != nil {
		t.Fatal(err)
	}
	switchFile := filepath.Join(t.TempDir(), "december")
	nov30 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	clock := switchClock{Before: nov30, After: december2, SwitchFile: switchFile}

	// Replica P, a process, starts alone: it takes both leases, closes
	// October and runs November 1's payouts.
	pcfg := replicaConfig{HTTPAddr: testnet.FreeAddr(t), DataDir: t.TempDir(), KeysFile: keys, NATSURL: cluster.urls, DSN: dsn,
		Clock: switchClock{Before: nov30}}
	p, pBase := startReplica(t, "replica-p", pcfg)
	logf("replica P (pid %d) serving", p.Pid())
	q0 := openCH(t, dsn)
	defer q0.Close()
	count := func(query string) uint64 {
		t.Helper()
		var n uint64
		if err := q0.QueryRow(context.Background(), query).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	waitFor(t, time.Minute, "P's close of October and payout run of November 1", func() bool {
		return count("SELECT count() FROM closed_periods WHERE period = '2026-10'") >= 1 &&
			count("SELECT count() FROM payout_runs WHERE as_of = '2026-11-01 00:00:00'") >= 1
	})
	if h := leaseHolder(t, js, "payout-run"); !heldBy(h, p.Pid()) {
		t.Fatalf("payout lease held by %q, want replica P (pid %d)", h, p.Pid())
	}

	// Replica Q, in this process, with the clock that moves to December 2
	// when the switch file appears.
	q := startTally(t, withDSN(dsn), func(c *daemon.Config) { clusterConfig(c, cluster.urls, dsn, keys, clock) })
	logf("replica Q (in process) serving")

	// The load: the worked examples and the load tenants, shuffled, in
	// batches of 20, from 6 clients spread over both replicas.
	events := append(workedExampleEvents(), loadEvents()...)
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	want := map[string]uint64{} // events per tenant, counted from what is sent
	for _, e := range events {
		var head struct{ Subject string }
		if err := json.Unmarshal([]byte(e), &head); err != nil {
			t.Fatal(err)
		}
		want[head.Subject]++
	}
	var batches [][]string
	for i := 0; i < len(events); i += 20 {
		batches = append(batches, events[i:min(i+20, len(events))])
	}
	snd := &sender{bases: []string{pBase, q.base}, key: q.ingest, client: &http.Client{Timeout: 15 * time.Second}}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	work := make(chan []string)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				if err := snd.send(ctx, w, b); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}

	// The killer: the events stream's leader node after a third of the
	// batches, replica P after two thirds.
	var killedNode string
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		third := int64(len(batches) / 3)
		for snd.accepted.Load() < third {
			if ctx.Err() != nil {
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
		ictx, icancel := context.WithTimeout(ctx, 10*time.Second)
		info, err := js.Stream(ictx, pipeline.EventsStream)
		var leader string
		if err == nil {
			var si *jetstream.StreamInfo
			if si, err = info.Info(ictx); err == nil && si.Cluster != nil {
				leader = si.Cluster.Leader
			}
		}
		icancel()
		node := cluster.nodes[leader]
		if node == nil {
			errs <- fmt.Errorf("events stream leader %q (%v) is none of the nodes", leader, err)
			cancel()
			return
		}
		node.kill()
		killedNode = leader
		logf("SIGKILLed NATS node %s, leader of %s, after %d of %d batches", leader, pipeline.EventsStream, snd.accepted.Load(), len(batches))
		for snd.accepted.Load() < 2*third {
			if ctx.Err() != nil {
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
		p.kill()
		logf("SIGKILLed replica P after %d of %d batches", snd.accepted.Load(), len(batches))
	}()
	for _, b := range batches {
		select {
		case work <- b:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	<-killerDone
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if killedNode == "" || !p.Exited() {
		t.Fatalf("the load ended before the kills (node %q, P exited %v)", killedNode, p.Exited())
	}
	logf("all %d events (%d batches) accepted; %d resends", len(events), len(batches), snd.retries.Load())

	// Every event stored exactly once: rows per tenant, without FINAL, as
	// many as events sent.
	stored := func() map[string]uint64 {
		rows, err := q0.Query(context.Background(), "SELECT subject, count() FROM events GROUP BY subject")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]uint64{}
		for rows.Next() {
			var s string
			var n uint64
			if err := rows.Scan(&s, &n); err != nil {
				t.Fatal(err)
			}
			out[s] = n
		}
		return out
	}
	waitFor(t, time.Minute, "every event stored", func() bool {
		var total uint64
		for _, n := range stored() {
			total += n
		}
		return total >= uint64(len(events))
	})
	got := stored()
	if len(got) != len(want) {
		t.Errorf("events of %d tenants stored, want %d", len(got), len(want))
	}
	for tenant, n := range want {
		if got[tenant] != n {
			t.Errorf("%s: %d events stored, want %d", tenant, got[tenant], n)
		}
	}
	if n := count("SELECT count() FROM (SELECT source, id FROM events GROUP BY source, id HAVING count() > 1)"); n != 0 {
		t.Errorf("%d events stored more than once", n)
	}
	if n := count("SELECT count() FROM dead_letters"); n != 0 {
		t.Errorf("%d dead letters, want none", n)
	}
	logf("every event stored once (%d rows)", len(events))

	// P died holding the payout lease; on November 30's clock it has not
	// expired, so Q has not taken it.
	if h := leaseHolder(t, js, "payout-run"); !heldBy(h, p.Pid()) {
		t.Errorf("payout lease held by %q before its expiry, want the killed replica P (pid %d)", h, p.Pid())
	}

	// P comes back as P2 (a new process, as a supervisor would restart
	// it); then the clock of both replicas moves to December 2 at once.
	p2cfg := replicaConfig{HTTPAddr: testnet.FreeAddr(t), DataDir: t.TempDir(), KeysFile: keys, NATSURL: cluster.urls, DSN: dsn, Clock: clock}
	p2, _ := startReplica(t, "replica-p2", p2cfg)
	time.Sleep(4 * clusterSchedulerCheck) // both schedulers are looking
	if err := os.WriteFile(switchFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	logf("replica P2 (pid %d) serving; clocks moved to %s", p2.Pid(), december2.Format(time.RFC3339))
	waitFor(t, time.Minute, "the close of November and the payout run of December 1", func() bool {
		return count("SELECT count() FROM closed_periods WHERE period = '2026-11'") >= 1 &&
			count("SELECT count() FROM payout_runs WHERE as_of = '2026-12-01 00:00:00'") >= 1
	})
	// Both replicas look again several times; a second close or run would
	// add a row (counted without FINAL).
	time.Sleep(8 * clusterSchedulerCheck)
	for query, what := range map[string]string{
		"SELECT count() FROM closed_periods WHERE period = '2026-10'":                   "October closed",
		"SELECT count() FROM payout_runs WHERE as_of = '2026-11-01 00:00:00'":           "the payout run of November 1 happened",
		"SELECT count() FROM closed_periods WHERE period = '2026-11'":                   "November closed",
		"SELECT count() FROM payout_runs WHERE as_of = '2026-12-01 00:00:00'":           "the payout run of December 1 happened",
		"SELECT count() FROM closed_periods WHERE period NOT IN ('2026-10', '2026-11')": "other periods closed",
	} {
		wantN := uint64(1)
		if strings.HasPrefix(what, "other") {
			wantN = 0
		}
		if n := count(query); n != wantN {
			t.Errorf("%s %d times, want %d", what, n, wantN)
		}
	}
	for _, job := range []string{"period-close", "payout-run"} {
		h := leaseHolder(t, js, job)
		if heldBy(h, p.Pid()) {
			t.Errorf("lease %s still held by the killed replica P after its expiry", job)
		}
		logf("lease %s held by %s (P2 is pid %d)", job, h, p2.Pid())
	}

	// The invoices: SPEC §3's worked examples, and the load tenants' team
	// invoice worked the same way: base 199.00; 149 × 40.25 = 5,997.25
	// credits, 997.25 over the 5,000 included, × 0.018 = 17.9505 → 17.95;
	// total 216.95.
	team := q.invoices("tenant-team", "2026-11")
	if len(team) != 1 || team[0].Total.String() != "311.51" {
		t.Errorf("team invoices %+v, want one of 311.51", team)
	}
	biz := byKind(q.invoices("tenant-biz", "2026-11"))
	if up := biz["upfront"]; up.Total.String() != "12470.4" {
		t.Errorf("business upfront total %s, want 12470.40", up.Total)
	}
	if m := biz["monthly"]; m.Total.String() != "195" {
		t.Errorf("business November usage total %s, want 195.00", m.Total)
	}
	for i := range loadTenants {
		tenant := fmt.Sprintf("tenant-load-%02d", i)
		invs := q.invoices(tenant, "2026-11")
		if len(invs) != 1 || invs[0].Total.String() != "216.95" {
			t.Errorf("%s invoices %+v, want one of 216.95", tenant, invs)
		}
	}
	if n := count("SELECT count() FROM invoices FINAL WHERE period = '2026-11'"); n != 3+loadTenants {
		t.Errorf("%d invoice rows for November, want %d", n, 3+loadTenants)
	}
	logf("invoices as worked by hand; killed node %s and replica P", killedNode)
}
