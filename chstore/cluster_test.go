package chstore

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The checks below parse the rendered SQL with their own expressions; they
// do not reuse the renderer's.
var (
	tCreateRE      = regexp.MustCompile(`(?is)^CREATE\s+(?:(OR\s+REPLACE)\s+)?(TABLE|VIEW|MATERIALIZED\s+VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)(.*)$`)
	tAlterRE       = regexp.MustCompile(`(?is)^ALTER\s+TABLE\s+(\w+)(?:\s+ON CLUSTER '([^']+)')?\s*\n\s*(ADD COLUMN|UPDATE|ADD INDEX|MATERIALIZE INDEX)\b`)
	tOnClusterRE   = regexp.MustCompile(`^\s+ON CLUSTER '([^']+)'`)
	tEngineRE      = regexp.MustCompile(`(?m)^ENGINE = (\w+)(?:\((.*)\))?$`)
	tReplicatedRE  = regexp.MustCompile(`^'([^']+)', '([^']+)'(?:, (.+))?$`)
	tDistributedRE = regexp.MustCompile(`^'([^']+)', currentDatabase\(\), '(\w+)'(?:, (.+))?$`)
	tOrderByRE     = regexp.MustCompile(`(?m)^ORDER BY \(?(\w+)`)
	tFromRE        = regexp.MustCompile(`(?i)\b(?:FROM|JOIN)\s+(\w+)`)
	tToRE          = regexp.MustCompile(`(?i)\bTO\s+(\w+)\s+AS\b`)
)

type createStmt struct {
	kind, name, onCluster, engine, engineArgs, text string
	replace                                         bool // CREATE OR REPLACE (views of a later migration)
}

// alterStmt is an ALTER TABLE of a later migration: columns added, or a
// mutation of rows.
type alterStmt struct {
	table, onCluster, what string
}

// parseAlters returns the ALTER TABLE statements, and the others.
func parseAlters(t *testing.T, stmts []string) (alters []alterStmt, rest []string) {
	t.Helper()
	for _, s := range stmts {
		if !strings.HasPrefix(s, "ALTER") {
			rest = append(rest, s)
			continue
		}
		m := tAlterRE.FindStringSubmatch(s)
		if m == nil {
			t.Errorf("an ALTER that adds columns or indexes, materializes an index or updates rows, its action on the next line: %.80q", s)
			continue
		}
		alters = append(alters, alterStmt{table: m[1], onCluster: m[2], what: m[3]})
	}
	return alters, rest
}

func parseCreates(t *testing.T, stmts []string) []createStmt {
	t.Helper()
	var out []createStmt
	for _, s := range stmts {
		m := tCreateRE.FindStringSubmatch(s)
		if m == nil || (m[1] == "") != strings.Contains(s[:min(len(s), 60)], "IF NOT EXISTS") {
			t.Errorf("not a CREATE ... IF NOT EXISTS or CREATE OR REPLACE: %.80q", s)
			continue
		}
		c := createStmt{kind: strings.ToUpper(strings.Join(strings.Fields(m[2]), " ")), name: m[3], text: s, replace: m[1] != ""}
		if c.replace && c.kind != "VIEW" {
			t.Errorf("only a view may be replaced: %.80q", s)
		}
		if oc := tOnClusterRE.FindStringSubmatch(m[4]); oc != nil {
			c.onCluster = oc[1]
		}
		if e := tEngineRE.FindStringSubmatch(s); e != nil {
			c.engine, c.engineArgs = e[1], e[2]
		}
		out = append(out, c)
	}
	return out
}

func allStatements(t *testing.T, cluster string) []string {
	t.Helper()
	table, err := renderStatements(SplitStatements(migrationsTableDDL), cluster)
	if err != nil {
		t.Fatal(err)
	}
	migs, err := RenderMigrations(cluster)
	if err != nil {
		t.Fatal(err)
	}
	out := table
	for _, m := range migs {
		out = append(out, m.Statements...)
	}
	return out
}

func TestSingleServerRenderingHasNoClusterTraces(t *testing.T) {
	for _, s := range allStatements(t, "") {
		for _, bad := range []string{"{on_cluster}", "{table:", "{tables:", "{engine:", "{deduplication_window:", "{distributed:",
			"ON CLUSTER", "Replicated", "Distributed", "_local"} {
			if strings.Contains(s, bad) {
				t.Errorf("single-server statement contains %q: %.80q", bad, s)
			}
		}
	}
	// The form every existing installation was created with.
	migs, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	want := "CREATE MATERIALIZED VIEW IF NOT EXISTS event_ids_mv TO event_ids AS\nSELECT source, id, content_hash, stream_seq FROM events"
	if !slices.Contains(migs[0].Statements, want) {
		t.Errorf("0001 lost its single-server materialized view %q", want)
	}
}

func TestClusterRendering(t *testing.T) {
	const cluster = "tally"
	singleAlters, singleRest := parseAlters(t, allStatements(t, ""))
	clusteredAlters, clusteredRest := parseAlters(t, allStatements(t, cluster))
	// A backfill (INSERT INTO ... SELECT, 0010) names the plain tables:
	// the Distributed ones on a cluster, the same text on both.
	backfill := func(s string) bool { return strings.HasPrefix(s, "INSERT INTO ") }
	if !slices.Equal(slices.DeleteFunc(slices.Clone(singleRest), func(s string) bool { return !backfill(s) }),
		slices.DeleteFunc(slices.Clone(clusteredRest), func(s string) bool { return !backfill(s) })) {
		t.Error("a backfill renders differently on a cluster")
	}
	singleRest, clusteredRest = slices.DeleteFunc(singleRest, backfill), slices.DeleteFunc(clusteredRest, backfill)
	single := parseCreates(t, singleRest)
	clustered := parseCreates(t, clusteredRest)
	checkAlters(t, cluster, singleAlters, clusteredAlters)
	// A replaced view is checked in its latest form.
	single = slices.DeleteFunc(single, func(c createStmt) bool {
		return slices.ContainsFunc(single, func(r createStmt) bool { return r.replace && r.name == c.name && !c.replace })
	})
	byName := map[string]createStmt{}
	pos := map[string]int{}
	for i, c := range clustered {
		if _, dup := byName[c.name]; dup && !c.replace {
			t.Errorf("%s created twice", c.name)
		}
		if _, seen := byName[c.name]; c.replace && !seen {
			t.Errorf("%s replaced before it was created", c.name)
		}
		byName[c.name], pos[c.name] = c, i
		if c.onCluster != cluster {
			t.Errorf("%s: ON CLUSTER %q, want %q", c.name, c.onCluster, cluster)
		}
		if strings.HasSuffix(c.engine, "MergeTree") && !strings.HasPrefix(c.engine, "Replicated") {
			t.Errorf("%s: engine %s is not replicated", c.name, c.engine)
		}
		if strings.Contains(c.text, "non_replicated_deduplication_window") {
			t.Errorf("%s: non_replicated_deduplication_window on a cluster", c.name)
		}
	}

	var tables, views int
	for _, s := range single {
		switch s.kind {
		case "TABLE":
			tables++
			local, ok := byName[s.name+"_local"]
			if !ok {
				t.Errorf("%s: no %s_local on the cluster", s.name, s.name)
				continue
			}
			// Replicated twin of the same engine, Keeper path per shard and
			// database, one replica name per server, same engine arguments.
			if local.engine != "Replicated"+s.engine {
				t.Errorf("%s_local: engine %s, want Replicated%s", s.name, local.engine, s.engine)
			}
			r := tReplicatedRE.FindStringSubmatch(local.engineArgs)
			if r == nil {
				t.Errorf("%s_local: engine arguments %q", s.name, local.engineArgs)
			} else {
				if want := "/clickhouse/tables/{shard}/{database}/" + s.name + "_local"; r[1] != want {
					t.Errorf("%s_local: Keeper path %q, want %q", s.name, r[1], want)
				}
				if r[2] != "{replica}" {
					t.Errorf("%s_local: replica %q, want {replica}", s.name, r[2])
				}
				if r[3] != s.engineArgs {
					t.Errorf("%s_local: engine arguments after the replica %q, single server has %q", s.name, r[3], s.engineArgs)
				}
			}
			// Same columns, ORDER BY and PARTITION BY: the text minus the
			// first line, the engine and the settings is the same.
			if a, b := body(s.text), body(local.text); a != b {
				t.Errorf("%s_local differs from %s beyond name, engine and settings:\n%s\n---\n%s", s.name, s.name, b, a)
			}
			// The Distributed table under the original name, over the
			// local table, created after it.
			dist, ok := byName[s.name]
			if !ok {
				t.Errorf("%s: no Distributed table on the cluster", s.name)
				continue
			}
			if dist.engine != "Distributed" {
				t.Errorf("%s: engine %s, want Distributed", s.name, dist.engine)
				continue
			}
			if !strings.Contains(dist.text, " AS "+s.name+"_local\n") || pos[s.name] < pos[s.name+"_local"] {
				t.Errorf("%s: want AS %s_local, created after it: %q", s.name, s.name, dist.text)
			}
			d := tDistributedRE.FindStringSubmatch(dist.engineArgs)
			if d == nil || d[1] != cluster || d[2] != s.name+"_local" {
				t.Errorf("%s: Distributed arguments %q", s.name, dist.engineArgs)
				continue
			}
			// Every copy of a row (same ORDER BY key) must land on one
			// shard, or FINAL cannot fold them: the sharding key is a
			// function of the first ORDER BY column only.
			key := d[3]
			first := tOrderByRE.FindStringSubmatch(s.text)
			switch {
			case s.name == "event_ids":
				if key != "" {
					t.Errorf("event_ids is filled per shard by its view; want no sharding key, got %q", key)
				}
			case first == nil:
				t.Errorf("%s: no ORDER BY", s.name)
			case key != "cityHash64("+first[1]+")" && key != first[1]:
				t.Errorf("%s: sharding key %q, want a function of its first ORDER BY column %s", s.name, key, first[1])
			}
		case "VIEW":
			views++
			if c := byName[s.name]; c.kind != "VIEW" || strings.Contains(c.text, "_local") {
				t.Errorf("view %s: on a cluster it must read the Distributed tables: %.120q", s.name, c.text)
			}
		case "MATERIALIZED VIEW":
			mv := byName[s.name]
			from, to := tFromRE.FindStringSubmatch(mv.text), tToRE.FindStringSubmatch(mv.text)
			if from == nil || to == nil || !strings.HasSuffix(from[1], "_local") || !strings.HasSuffix(to[1], "_local") {
				t.Errorf("materialized view %s must read and write _local tables: %q", s.name, mv.text)
			}
		}
	}
	// Sharding by subject keeps a tenant's events, and every copy of one
	// event, on one shard (docs/adr/0001-exactly-once-ingest.md).
	if d := tDistributedRE.FindStringSubmatch(byName["events"].engineArgs); d == nil || d[3] != "cityHash64(subject)" {
		t.Errorf("events: want sharding by cityHash64(subject), got %q", byName["events"].engineArgs)
	}
	if tables < 12 || views < 10 {
		t.Errorf("found %d tables and %d views; the parser missed some", tables, views)
	}
	if _, ok := byName["tally_migrations_local"]; !ok {
		t.Error("tally_migrations is not replicated on the cluster")
	}
	// Nothing else: every clustered object is a single-server one or its
	// _local twin.
	if n := len(clustered) - len(singleRest) + len(single); n != len(single)+tables {
		t.Errorf("%d statements on the cluster, want %d (single) + %d (_local)", n, len(single), tables)
	}
}

// checkAlters: on one server an ALTER names the table; on a cluster a
// column change alters the storage table and then the Distributed one
// (both ON CLUSTER), and a mutation or a data-skipping index (ADD INDEX,
// MATERIALIZE INDEX: 0011, 0012) only the storage table.
func checkAlters(t *testing.T, cluster string, single, clustered []alterStmt) {
	t.Helper()
	var want []alterStmt
	for _, a := range single {
		if a.onCluster != "" || strings.HasSuffix(a.table, "_local") {
			t.Errorf("single-server ALTER of %s ON CLUSTER %q", a.table, a.onCluster)
		}
		want = append(want, alterStmt{a.table + "_local", cluster, a.what})
		if a.what == "ADD COLUMN" {
			want = append(want, alterStmt{a.table, cluster, a.what})
		}
	}
	if len(single) == 0 {
		t.Error("no ALTER found; the parser missed 0006")
	}
	if !slices.Equal(clustered, want) {
		t.Errorf("ALTERs on the cluster:\n got  %v\n want %v", clustered, want)
	}
}

// body drops a CREATE TABLE's first line, its ENGINE and SETTINGS lines.
func body(stmt string) string {
	lines := strings.Split(stmt, "\n")[1:]
	var keep []string
	for _, l := range lines {
		if strings.HasPrefix(l, "ENGINE = ") || strings.HasPrefix(l, "SETTINGS ") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

func TestRenderScriptSplitsBackIntoTheStatements(t *testing.T) {
	for _, cluster := range []string{"", "tally"} {
		script, err := RenderScript(cluster)
		if err != nil {
			t.Fatal(err)
		}
		got := SplitStatements(script)
		want := allStatements(t, cluster)
		if len(got) != len(want) {
			t.Fatalf("cluster %q: script splits into %d statements, want %d", cluster, len(got), len(want))
		}
		for i := range got {
			if got[i] != strings.TrimSpace(want[i]) {
				t.Errorf("cluster %q statement %d:\n%s\nwant\n%s", cluster, i+1, got[i], want[i])
			}
		}
	}
}

func TestRenderStatementRules(t *testing.T) {
	good := "CREATE TABLE IF NOT EXISTS {table:t}{on_cluster}\n(\n    a UInt8\n)\nENGINE = {engine:ReplacingMergeTree(a)}\nORDER BY a"
	got, err := RenderStatement(good, "{cluster}")
	if err != nil {
		t.Fatal(err)
	}
	want := "CREATE TABLE IF NOT EXISTS t_local ON CLUSTER '{cluster}'\n(\n    a UInt8\n)\n" +
		"ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/t_local', '{replica}', a)\nORDER BY a"
	if len(got) != 1 || got[0] != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got, err := RenderStatement("{distributed:t SHARD BY rand()}", ""); err != nil || len(got) != 0 {
		t.Errorf("{distributed} on one server: %q, %v; want nothing", got, err)
	}
	got, err = RenderStatement("{distributed:t SHARD BY rand()}", "c1")
	if err != nil || len(got) != 1 || got[0] != "CREATE TABLE IF NOT EXISTS t ON CLUSTER 'c1' AS t_local\nENGINE = Distributed('c1', currentDatabase(), 't_local', rand())" {
		t.Errorf("{distributed} on a cluster: %q, %v", got, err)
	}
	// A column change alters the storage table and the Distributed one.
	alter := "ALTER TABLE {tables:t}{on_cluster}\n    ADD COLUMN IF NOT EXISTS b UInt8 DEFAULT 0"
	if got, err := RenderStatement(alter, ""); err != nil || len(got) != 1 || got[0] != "ALTER TABLE t\n    ADD COLUMN IF NOT EXISTS b UInt8 DEFAULT 0" {
		t.Errorf("{tables} on one server: %q, %v", got, err)
	}
	if got, err := RenderStatement(alter, "c"); err != nil || len(got) != 2 ||
		got[0] != "ALTER TABLE t_local ON CLUSTER 'c'\n    ADD COLUMN IF NOT EXISTS b UInt8 DEFAULT 0" ||
		got[1] != "ALTER TABLE t ON CLUSTER 'c'\n    ADD COLUMN IF NOT EXISTS b UInt8 DEFAULT 0" {
		t.Errorf("{tables} on a cluster: %q, %v", got, err)
	}
	// A regular expression's {4} is not a placeholder.
	if got, err := RenderStatement("CREATE VIEW IF NOT EXISTS v{on_cluster} AS SELECT match(x, '^[0-9]{4}$') FROM t", "c"); err != nil ||
		got[0] != "CREATE VIEW IF NOT EXISTS v ON CLUSTER 'c' AS SELECT match(x, '^[0-9]{4}$') FROM t" {
		t.Errorf("view: %q, %v", got, err)
	}

	for _, bad := range []string{
		"CREATE TABLE IF NOT EXISTS {table:t}\n(a UInt8)\nENGINE = {engine:MergeTree}\nORDER BY a",    // no {on_cluster}
		"CREATE TABLE IF NOT EXISTS {table:t}{on_cluster}\n(a UInt8)\nENGINE = MergeTree\nORDER BY a", // bare engine
		"CREATE TABLE IF NOT EXISTS {table:t}{on_cluster}\n(a UInt8)\nENGINE = {engine:Log}",          // not MergeTree
		"CREATE TABLE IF NOT EXISTS {table:t}{on_cluster}{oops}\n(a UInt8)",                           // unknown
		"ALTER TABLE {table:t} ADD COLUMN b UInt8",                                                    // no {on_cluster}
		"CREATE TABLE IF NOT EXISTS x{on_cluster} AS {distributed:t}",                                 // not on its own
		"{distributed:t SHARD}",
		"CREATE TABLE IF NOT EXISTS {tables:t}{on_cluster}\n(a UInt8)\nENGINE = {engine:MergeTree}\nORDER BY a", // {tables} outside ALTER
		"ALTER TABLE {tables:t}{on_cluster} ADD COLUMN b UInt8, ADD COLUMN c UInt8 AFTER {tables:t}",            // twice
		"ALTER TABLE {tables:t x}{on_cluster} ADD COLUMN b UInt8",                                               // not a name
	} {
		for _, cluster := range []string{"", "c"} {
			if _, err := RenderStatement(bad, cluster); err == nil {
				t.Errorf("cluster %q: no error rendering %q", cluster, bad)
			}
		}
	}
	for _, name := range []string{"x y", "a'b", "", "-a", "{a}{b}", `a\b`} {
		if err := ValidateClusterName(name); err == nil {
			t.Errorf("cluster name %q accepted", name)
		}
		if name != "" {
			if _, err := RenderMigrations(name); err == nil {
				t.Errorf("RenderMigrations(%q) accepted", name)
			}
		}
	}
	for _, name := range []string{"tally", "prod-eu.1", "{cluster}", "_x"} {
		if err := ValidateClusterName(name); err != nil {
			t.Errorf("cluster name %q: %v", name, err)
		}
	}
	if err := (Config{DSN: "clickhouse://x", Cluster: "a b"}).Validate(); err == nil {
		t.Error("Config with a bad cluster name validated")
	}
}
