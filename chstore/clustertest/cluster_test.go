package clustertest_test

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/chlocal"
	"github.com/tally-billing/tally/chstore"
	"github.com/tally-billing/tally/consumers"
	"github.com/tally-billing/tally/schemas"
)

const (
	// launcherEnv makes the test binary a chlocal launcher child.
	launcherEnv = "TALLY_CLUSTERTEST_LAUNCHER"
	// dirEnv is the directory the two children meet in; shardEnv is the
	// child's shard number (1 or 2).
	dirEnv   = "TALLY_CLUSTERTEST_DIR"
	shardEnv = "TALLY_CLUSTERTEST_SHARD"
	cluster  = "tally"
	shards   = 2
)

func TestMain(m *testing.M) {
	if os.Getenv(launcherEnv) == "1" {
		if err := runChild(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "clustertest launcher:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var tcpPortRE = regexp.MustCompile(`^--tcp-port=([0-9]+)$`)

// runChild is one server of the test cluster. It publishes its native
// port (chosen by chlocal and passed as --tcp-port), waits for the other
// server's, writes the cluster configuration as config.xml in a directory
// of its own and starts clickhouse-local there: clickhouse-local reads
// ./config.xml.
func runChild(args []string) error {
	dir, shard := os.Getenv(dirEnv), os.Getenv(shardEnv)
	port := ""
	for _, a := range args {
		if m := tcpPortRE.FindStringSubmatch(a); m != nil {
			port = m[1]
		}
	}
	if dir == "" || shard == "" || port == "" {
		return errors.New("missing directory, shard or --tcp-port")
	}
	tmp := filepath.Join(dir, "port-"+shard+".tmp")
	if err := os.WriteFile(tmp, []byte(port), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, "port-"+shard)); err != nil {
		return err
	}
	ports := make([]string, shards)
	deadline := time.Now().Add(50 * time.Second)
	for i := range ports {
		for {
			b, err := os.ReadFile(filepath.Join(dir, "port-"+strconv.Itoa(i+1)))
			if err == nil {
				ports[i] = string(b)
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("no port from shard %d", i+1)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	var remote strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&remote, `
            <shard>
                <internal_replication>true</internal_replication>
                <replica><host>127.0.0.1</host><port>%s</port></replica>
            </shard>`, p)
	}
	// clickhouse-local runs no Keeper server (it ignores <keeper_server>)
	// and no distributed DDL worker; its in-process test Keeper holds each
	// shard's replication metadata (one replica per shard here).
	conf := fmt.Sprintf(`<clickhouse>
    <zookeeper><implementation>testkeeper</implementation></zookeeper>
    <macros><shard>0%s</shard><replica>ch-%s</replica></macros>
    <remote_servers><%s>%s
    </%s></remote_servers>
</clickhouse>
`, shard, shard, cluster, remote.String(), cluster)
	confDir := filepath.Join(dir, "conf-"+shard)
	if err := os.MkdirAll(confDir, 0o750); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(confDir, "config.xml"), []byte(conf), 0o600); err != nil {
		return err
	}
	if err := os.Chdir(confDir); err != nil {
		return err
	}
	return chlocal.RunLauncher(args)
}

// startCluster starts two local servers, shard 1 and shard 2 of cluster
// "tally", and stores for each with Config.Cluster set.
func startCluster(t *testing.T) ([shards]*chstore.Store, [shards]string) {
	t.Helper()
	if _, err := chlocal.FindLibrary(""); err != nil {
		t.Fatalf("libchdb.so not found: run make chdb (make test does): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	var (
		wg   sync.WaitGroup
		srvs [shards]*chlocal.Server
		errs [shards]error
	)
	for i := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			shard := strconv.Itoa(i + 1)
			srvs[i], errs[i] = chlocal.Start(ctx, chlocal.Config{
				DataDir:         filepath.Join(dir, "data-"+shard),
				Executable:      os.Args[0],
				MaxServerMemory: 2 << 30,
				// Two servers start at once while `go test ./...` runs
				// other packages' ClickHouse servers on the same two
				// cores: a fresh CI machine once needed more than the
				// default 60 s for /ping. A readiness wait, not a
				// performance check.
				StartTimeout: 3 * time.Minute,
				Env: []string{
					launcherEnv + "=1", dirEnv + "=" + dir, shardEnv + "=" + shard,
					"GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"),
				},
			})
		}()
	}
	wg.Wait()
	for i := range shards {
		if srvs[i] != nil {
			srv := srvs[i]
			t.Cleanup(func() {
				sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer scancel()
				if err := srv.Stop(sctx); err != nil {
					t.Errorf("stopping shard server: %v", err)
				}
			})
		}
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("starting shard %d: %v", i+1, err)
		}
	}
	var stores [shards]*chstore.Store
	var dsns [shards]string
	for i, srv := range srvs {
		dsns[i] = srv.DSN()
		st, err := chstore.Open(ctx, chstore.Config{DSN: srv.DSN(), Cluster: cluster, Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		stores[i] = st
	}
	return stores, dsns
}

var (
	onClusterRE = regexp.MustCompile(` ON CLUSTER '` + cluster + `'`)
	// ReplicatedXMergeTree('path', '{replica}'[, args]) → XMergeTree[(args)]
	alterLocalRE = regexp.MustCompile(`^ALTER TABLE \w+_local `)
	replicatedRE = regexp.MustCompile(`ENGINE = Replicated(\w+MergeTree)\('[^']*', '\{replica\}'(?:, ([^)]*))?\)`)
)

func TestRenderedSchemaOnTwoShards(t *testing.T) {
	st, dsns := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	script, err := chstore.RenderScript(cluster)
	if err != nil {
		t.Fatal(err)
	}
	stmts := chstore.SplitStatements(script)

	// Every statement, ON CLUSTER and all, parses in ClickHouse 26.7.
	for i, s := range stmts {
		var formatted string
		if err := st[0].Conn().QueryRow(ctx, `SELECT formatQuery(?)`, s).Scan(&formatted); err != nil {
			t.Fatalf("statement %d does not parse: %v\n%s", i+1, err, s)
		}
		if !strings.Contains(formatted, "ON CLUSTER") && !isBackfill(s) {
			t.Errorf("statement %d lost ON CLUSTER when parsed: %s", i+1, formatted)
		}
	}

	// The single-server form still migrates (twice: idempotent) and
	// records every migration.
	if err := st[0].Conn().Exec(ctx, `CREATE DATABASE single`); err != nil {
		t.Fatal(err)
	}
	single, err := chstore.Open(ctx, chstore.Config{DSN: strings.TrimSuffix(dsns[0], "/default") + "/single"})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := single.Migrate(ctx); err != nil {
			t.Fatalf("single-server Migrate: %v", err)
		}
	}
	migs, err := chstore.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if applied, err := single.AppliedMigrations(ctx); err != nil || len(applied) != len(migs) {
		t.Errorf("single-server migrations applied: %v (%v), want %d", applied, err, len(migs))
	}
	if n := count(ctx, t, single, `SELECT count() FROM system.tables WHERE database = 'single' AND (startsWith(engine, 'Replicated') OR engine = 'Distributed' OR endsWith(name, '_local'))`); n != 0 {
		t.Errorf("single-server schema has %d cluster tables", n)
	}
	_ = single.Close()

	// clickhouse-local refuses ON CLUSTER ("Replicated DDL queries are
	// disabled": it runs no distributed DDL worker), so Migrate cannot run
	// here; apply each statement on every server instead, as the DDL
	// worker would.
	if err := st[0].Migrate(ctx); err == nil || !strings.Contains(err.Error(), "Replicated DDL queries are disabled") {
		t.Fatalf("Migrate on clickhouse-local: %v; want ON CLUSTER refused (if it works now, use it here)", err)
	}

	// The rendered statements as they are, in a database of their own:
	// every Replicated table registers in Keeper at the path and under the
	// replica name its server's macros give.
	for i, s := range st {
		if err := s.Conn().Exec(ctx, `CREATE DATABASE replicated_ddl`); err != nil {
			t.Fatal(err)
		}
		rs, err := chstore.Open(ctx, chstore.Config{DSN: strings.TrimSuffix(dsns[i], "/default") + "/replicated_ddl", Cluster: cluster})
		if err != nil {
			t.Fatal(err)
		}
		for j, stmt := range stmts {
			// A Replicated table on clickhouse-local stays read-only (see
			// the data path below), so an ALTER of a _local table fails
			// here; it parsed above, and runs on the plain twins below.
			if alterLocalRE.MatchString(stmt) {
				continue
			}
			if isBackfill(stmt) { // see isBackfill
				continue
			}
			if err := rs.Conn().Exec(ctx, onClusterRE.ReplaceAllString(stmt, "")); err != nil {
				t.Fatalf("shard %d: applying statement %d: %v\n%s", i+1, j+1, err, stmt)
			}
		}
		_ = rs.Close()
		rows, err := s.Conn().Query(ctx, `SELECT table, zookeeper_path, replica_name FROM system.replicas WHERE database = 'replicated_ddl' ORDER BY table`)
		if err != nil {
			t.Fatal(err)
		}
		var tables []string
		for rows.Next() {
			var table, path, replica string
			if err := rows.Scan(&table, &path, &replica); err != nil {
				t.Fatal(err)
			}
			tables = append(tables, table)
			if want := fmt.Sprintf("/clickhouse/tables/0%d/replicated_ddl/%s", i+1, table); path != want || replica != fmt.Sprintf("ch-%d", i+1) {
				t.Errorf("shard %d: %s in Keeper at %s as %s, want %s as ch-%d", i+1, table, path, replica, want, i+1)
			}
		}
		rows.Close()
		if len(tables) != strings.Count(script, "ENGINE = Replicated") || !slices.Contains(tables, "events_local") ||
			!slices.Contains(tables, "tally_migrations_local") {
			t.Errorf("shard %d: replicated tables %v, want the %d _local tables", i+1, tables, strings.Count(script, "ENGINE = Replicated"))
		}
	}

	// The data path. A Replicated table on clickhouse-local never leaves
	// read-only mode: its restarting thread fails with "Parameter
	// 'interserver_http(s)_port' required for replication is not specified
	// in configuration file" (clickhouse-local sets no interserver address,
	// even with the key in config.xml), so INSERT fails with "Table is in
	// readonly mode". Here each Replicated engine becomes its plain twin
	// with the same arguments; ON CLUSTER aside, the _local tables,
	// Distributed tables, sharding keys, the materialized view and the
	// views stay as rendered.
	var backfills []string
	for _, s := range st {
		for i, stmt := range stmts {
			if isBackfill(stmt) {
				if s == st[0] {
					backfills = append(backfills, stmt)
				}
				continue
			}
			stmt = onClusterRE.ReplaceAllString(stmt, "")
			stmt = replicatedRE.ReplaceAllStringFunc(stmt, func(e string) string {
				m := replicatedRE.FindStringSubmatch(e)
				if m[2] == "" {
					return "ENGINE = " + m[1]
				}
				return "ENGINE = " + m[1] + "(" + m[2] + ")"
			})
			stmt = strings.ReplaceAll(stmt, "SETTINGS replicated_deduplication_window", "SETTINGS non_replicated_deduplication_window")
			if err := s.Conn().Exec(ctx, stmt); err != nil {
				t.Fatalf("applying statement %d: %v\n%s", i+1, err, stmt)
			}
		}
	}

	for _, stmt := range backfills { // once every shard has the schema
		if err := st[0].Conn().Exec(ctx, stmt); err != nil {
			t.Fatalf("backfill: %v\n%s", err, stmt)
		}
	}

	// Every insert through a Distributed table is synchronous.
	var fg string
	if err := st[0].Conn().QueryRow(ctx, `SELECT toString(toUInt8(getSetting('distributed_foreground_insert')))`).Scan(&fg); err != nil || fg != "1" {
		t.Fatalf("distributed_foreground_insert = %q (%v), want 1", fg, err)
	}

	// 16 tenants × 2 AI events, credits i.j, stored through shard 1.
	const tenants = 16
	base := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	var events []consumers.EventRow
	perTenant := map[string]decimal.Decimal{}
	total := decimal.Zero
	for i := range tenants {
		for j := range 2 {
			tenant := fmt.Sprintf("tenant-%02d", i)
			credits := decimal.RequireFromString(fmt.Sprintf("%d.%d", i+1, j+1))
			perTenant[tenant] = perTenant[tenant].Add(credits)
			total = total.Add(credits)
			events = append(events, aiEvent(tenant, fmt.Sprintf("e-%02d-%d", i, j), credits, base.Add(time.Duration(i*2+j)*time.Minute), uint64(len(events)+1)))
		}
	}
	if err := st[0].Events().InsertEvents(ctx, events, "batch-1"); err != nil {
		t.Fatal(err)
	}

	// Stored on both shards at once (the insert returned only after the
	// remote shard stored its part), each tenant on exactly one shard.
	var local [shards]map[string]uint64
	var sum uint64
	for i, s := range st {
		local[i] = tenantCounts(ctx, t, s, "events_local")
		for _, n := range local[i] {
			sum += n
		}
		if len(local[i]) == 0 {
			t.Errorf("shard %d holds no events; sharding by subject sent all 16 tenants to one shard", i+1)
		}
	}
	if sum != uint64(len(events)) {
		t.Errorf("events_local rows on both shards right after the insert: %d, want %d", sum, len(events))
	}
	for tenant := range local[0] {
		if _, ok := local[1][tenant]; ok {
			t.Errorf("tenant %s has events on both shards", tenant)
		}
	}

	// The retry of the same insert (same deduplication token), from either
	// server, stores nothing new.
	for i, s := range st {
		if err := s.Events().InsertEvents(ctx, events, "batch-1"); err != nil {
			t.Fatal(err)
		}
		if n := count(ctx, t, s, `SELECT count() FROM events`); n != uint64(len(events)) {
			t.Errorf("after retrying batch-1 through shard %d: %d rows, want %d", i+1, n, len(events))
		}
	}

	// A race that stores one event twice (a second insert, another token,
	// through the other server): the copy lands on the shard of the
	// original, and FINAL folds it.
	dup := events[2:4] // tenant-01's two events
	if err := st[1].Events().InsertEvents(ctx, dup, "batch-2"); err != nil {
		t.Fatal(err)
	}
	for i, s := range st {
		if n := count(ctx, t, s, `SELECT count() FROM events`); n != uint64(len(events)+len(dup)) {
			t.Errorf("shard %d: %d rows without FINAL, want %d", i+1, n, len(events)+len(dup))
		}
		if n := count(ctx, t, s, `SELECT count() FROM events FINAL`); n != uint64(len(events)) {
			t.Errorf("shard %d: %d rows with FINAL, want %d", i+1, n, len(events))
		}
	}
	// The store's own queries, unchanged, over the Distributed tables.
	u, err := st[1].Events().Usage(ctx, "tenant-01", base.Add(-time.Hour), base.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if want := perTenant["tenant-01"]; !u.AICredits.Total.Equal(want) || u.AICredits.Events != 2 {
		t.Errorf("tenant-01 usage through shard 2: %s credits in %d events, want %s in 2", u.AICredits.Total, u.AICredits.Events, want)
	}

	// The identity index: each shard's view filled its own event_ids_local
	// with its own events; the Distributed event_ids sees them all.
	for i, s := range st {
		if n := count(ctx, t, s, `SELECT count() FROM (SELECT source, id FROM events_local FINAL) AS e
LEFT ANTI JOIN (SELECT source, id FROM event_ids_local FINAL) AS x USING (source, id)`); n != 0 {
			t.Errorf("shard %d: %d events missing from event_ids_local", i+1, n)
		}
		if a, b := count(ctx, t, s, `SELECT count() FROM event_ids_local FINAL`),
			count(ctx, t, s, `SELECT count() FROM events_local FINAL`); a != b {
			t.Errorf("shard %d: event_ids_local has %d identities, events_local %d events", i+1, a, b)
		}
	}
	ids := []schemas.Identity{{Source: "clustertest", ID: "never-stored"}}
	for _, e := range events {
		ids = append(ids, e.Event.Identity())
	}
	for i, s := range st {
		hashes, err := s.Events().ContentHashes(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		if len(hashes) != len(events) {
			t.Errorf("ContentHashes through shard %d: %d identities, want %d", i+1, len(hashes), len(events))
		}
		for _, e := range events {
			if hashes[e.Event.Identity()] != e.Hash {
				t.Errorf("ContentHashes through shard %d: %v has hash %x, want %x", i+1, e.Event.Identity(), hashes[e.Event.Identity()], e.Hash)
			}
		}
	}

	// A finance view over the Distributed tables: every tenant unbilled,
	// with the credits it consumed.
	rows, err := st[1].Conn().Query(ctx, `SELECT tenant, ai_events, ai_credits FROM finance_unbilled_tenants WHERE period = '2026-11' ORDER BY tenant`)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for rows.Next() {
		var tenant string
		var n uint64
		var credits decimal.Decimal
		if err := rows.Scan(&tenant, &n, &credits); err != nil {
			t.Fatal(err)
		}
		seen++
		if n != 2 || !credits.Equal(perTenant[tenant]) {
			t.Errorf("finance_unbilled_tenants %s: %d events, %s credits; want 2, %s", tenant, n, credits, perTenant[tenant])
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if seen != tenants {
		t.Errorf("finance_unbilled_tenants: %d tenants, want %d", seen, tenants)
	}
	// The finance report queries the finance views over the Distributed
	// tables; here only that it runs is checked.
	if _, err := st[0].Finance().FinanceReport(ctx, "2026-11"); err != nil {
		t.Errorf("finance report over the cluster: %v", err)
	}
	var all decimal.Decimal
	if err := st[0].Conn().QueryRow(ctx, `SELECT sum(credits) FROM events FINAL`).Scan(&all); err != nil || !all.Equal(total) {
		t.Errorf("sum of credits over the cluster: %s (%v), want %s", all, err, total)
	}

	// The migrations record, read through either server.
	{
		migs, err := chstore.RenderMigrations(cluster)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range migs {
			if err := st[0].Conn().Exec(ctx, `INSERT INTO tally_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				uint32(m.Version), m.Name, base); err != nil {
				t.Fatal(err)
			}
		}
		for i, s := range st {
			applied, err := s.AppliedMigrations(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var versions []int
			for v := range applied {
				versions = append(versions, v)
			}
			sort.Ints(versions)
			if len(versions) != len(migs) || versions[0] != 1 || versions[len(versions)-1] != len(migs) {
				t.Errorf("applied migrations through shard %d: %v, want 1..%d", i+1, versions, len(migs))
			}
		}
	}
}

func aiEvent(tenant, id string, credits decimal.Decimal, at time.Time, seq uint64) consumers.EventRow {
	raw := fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"clustertest","type":"ai.credits.consumed","subject":%q,"time":%q,"data":{"credits":%q,"feature":"tutor"}}`,
		id, tenant, at.Format(time.RFC3339Nano), credits.String())
	return consumers.EventRow{
		Event: &schemas.Event{
			SpecVersion: "1.0", ID: id, Source: "clustertest", Type: schemas.TypeAICreditsConsumed,
			Subject: tenant, Time: at, Raw: []byte(raw),
			Data: &schemas.AICreditsConsumed{Credits: credits, Feature: schemas.FeatureTutor},
		},
		Hash:      md5.Sum([]byte(raw)),
		StreamSeq: seq,
	}
}

func count(ctx context.Context, t *testing.T, s *chstore.Store, query string) uint64 {
	t.Helper()
	var n uint64
	if err := s.Conn().QueryRow(ctx, query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func tenantCounts(ctx context.Context, t *testing.T, s *chstore.Store, table string) map[string]uint64 {
	t.Helper()
	rows, err := s.Conn().Query(ctx, `SELECT subject, count() FROM `+table+` GROUP BY subject`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var tenant string
		var n uint64
		if err := rows.Scan(&tenant, &n); err != nil {
			t.Fatal(err)
		}
		out[tenant] = n
	}
	return out
}

// isBackfill reports whether a migration statement copies rows (INSERT
// INTO ... SELECT, 0010): it names the plain tables, the Distributed ones
// on a cluster, carries no ON CLUSTER, and runs once, on the server that
// migrates, after every shard has the schema; this test, which creates
// the schema one server at a time, runs it last.
func isBackfill(stmt string) bool { return strings.HasPrefix(stmt, "INSERT INTO ") }
