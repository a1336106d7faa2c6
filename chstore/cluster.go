package chstore

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Cluster rendering.
//
// The migrations in migrations/*.sql are written once, with placeholders,
// and rendered either for one server (the cluster name is empty) or for a
// ClickHouse cluster with Keeper (--clickhouse-cluster NAME). Rendering a
// placeholder is a plain substitution; nothing else in the SQL text is
// rewritten. The placeholders:
//
//	{on_cluster}                 ""  |  " ON CLUSTER 'NAME'"
//	{table:T}                    T   |  T_local (the table that stores rows)
//	{engine:XMergeTree[(args)]}  XMergeTree[(args)]  |
//	                             ReplicatedXMergeTree('/clickhouse/tables/{shard}/{database}/T_local', '{replica}'[, args])
//	                             where T is the statement's first {table:T}
//	{deduplication_window:N}     non_replicated_deduplication_window = N  |
//	                             replicated_deduplication_window = N
//	{tables:T}                   in an ALTER TABLE that changes columns:
//	                             T  |  the statement twice, for T_local and
//	                             for the Distributed T (both ON CLUSTER)
//	{distributed:T}              a statement of its own: nothing  |
//	{distributed:T SHARD BY E}   CREATE TABLE IF NOT EXISTS T ON CLUSTER 'NAME' AS T_local
//	                             ENGINE = Distributed('NAME', currentDatabase(), 'T_local'[, E])
//
// So on a cluster every data table T becomes T_local (Replicated*MergeTree,
// one copy per replica of a shard) plus a Distributed table named T over
// T_local on every shard: every query in this package reads and inserts T
// as before. A materialized view names {table:...} on both sides, so on a
// cluster it reads and writes the _local tables of its own shard. Views
// read the Distributed tables by their plain names.
//
// The sharding key E must send every row of one ORDER BY key to the same
// shard, or FINAL could not fold the copies of a row: events are sharded by
// cityHash64(subject) (the first ORDER BY column; a tenant's events and all
// copies of one event live together), every other table by a hash of its
// first ORDER BY column. A Distributed table without a sharding key (the
// identity index event_ids, filled only by its materialized view) refuses
// inserts on a cluster of more than one shard.
//
// Why placeholders rather than rewriting the finished SQL: a rewrite would
// have to find table names in CREATE, TO and FROM clauses, engines with
// their arguments and settings, and tell a materialized view's source
// (which must become T_local) from a plain view's (which must stay the
// Distributed T); a placeholder says which is meant where it is written,
// and on one server the text renders to exactly the statements existing
// installations were created with.
//
// Rendering checks the SQL: every CREATE, ALTER, DROP, RENAME and TRUNCATE
// must carry {on_cluster},
// and no MergeTree engine may be written without {engine:...}, so a
// migration that would create a non-replicated table or touch one server
// only fails at rendering, for both forms, in the unit tests.
//
// A later migration that changes the columns of T alters both tables on a
// cluster: ALTER TABLE {tables:T}{on_cluster} ADD COLUMN ... renders to one
// ALTER of T_local and one of the Distributed T, which must show the same
// columns. A mutation (ALTER TABLE ... UPDATE) names {table:T}: it changes
// rows, which only the storage table has.

// KeeperPathPrefix is where the Replicated tables keep their metadata in
// Keeper: <prefix>/{shard}/{database}/<table>_local.
const KeeperPathPrefix = "/clickhouse/tables"

// LocalSuffix names the storage table behind a Distributed table on a
// cluster.
const LocalSuffix = "_local"

var (
	placeholderRE = regexp.MustCompile(`\{([a-z_]+)(?::([^{}]*))?\}`)
	clusterNameRE = regexp.MustCompile(`^(\{[A-Za-z_]+\}|[A-Za-z0-9_][A-Za-z0-9_.-]*)$`)
	identRE       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	engineRE      = regexp.MustCompile(`^([A-Za-z]*MergeTree)(?:\((.*)\))?$`)
	bareEngineRE  = regexp.MustCompile(`(?i)\bENGINE\s*=\s*\w*MergeTree\b`)
	ddlRE         = regexp.MustCompile(`(?is)^\s*(CREATE|ALTER|DROP|RENAME|TRUNCATE)\b`)
	distributedRE = regexp.MustCompile(`(?is)^([A-Za-z_][A-Za-z0-9_]*)(?:\s+SHARD\s+BY\s+(.+))?$`)
	numberRE      = regexp.MustCompile(`^[0-9]+$`)
	tablesRE      = regexp.MustCompile(`\{tables:([^{}]*)\}`)
	alterRE       = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\b`)
)

// ValidateClusterName accepts a ClickHouse cluster name as it appears in
// <remote_servers> (letters, digits, '_', '.', '-'), or a single macro such
// as {cluster}, which each server expands from its <macros>.
func ValidateClusterName(name string) error {
	if !clusterNameRE.MatchString(name) {
		return fmt.Errorf("clickhouse cluster name %q: want letters, digits, '_', '.', '-' or a macro like {cluster}", name)
	}
	return nil
}

// RenderStatement renders one migration statement for a single server
// (cluster "") or for the named cluster. A statement can render to nothing
// ({distributed:...} on a single server).
func RenderStatement(stmt, cluster string) ([]string, error) {
	if cluster != "" {
		if err := ValidateClusterName(cluster); err != nil {
			return nil, err
		}
	}
	if err := checkStatement(stmt); err != nil {
		return nil, err
	}
	trimmed := strings.TrimSpace(stmt)
	if m := placeholderRE.FindStringSubmatchIndex(trimmed); m != nil && m[0] == 0 && m[1] == len(trimmed) &&
		trimmed[m[2]:m[3]] == "distributed" {
		arg := ""
		if m[4] >= 0 {
			arg = trimmed[m[4]:m[5]]
		}
		return renderDistributed(arg, cluster)
	}

	if m := tablesRE.FindStringSubmatch(stmt); m != nil {
		if !alterRE.MatchString(stmt) {
			return nil, fmt.Errorf("statement %.60q: {tables:%s} is for ALTER TABLE only", firstLine(stmt), m[1])
		}
		if !identRE.MatchString(m[1]) {
			return nil, fmt.Errorf("{tables:%s}: want a table name", m[1])
		}
		if len(tablesRE.FindAllString(stmt, -1)) > 1 {
			return nil, fmt.Errorf("statement %.60q: {tables:...} may appear once", firstLine(stmt))
		}
		local, err := RenderStatement(strings.Replace(stmt, m[0], "{table:"+m[1]+"}", 1), cluster)
		if err != nil || cluster == "" {
			return local, err
		}
		dist, err := RenderStatement(strings.Replace(stmt, m[0], m[1], 1), cluster)
		if err != nil {
			return nil, err
		}
		return append(local, dist...), nil
	}

	subject := ""
	if m := placeholderRE.FindAllStringSubmatch(stmt, -1); m != nil {
		for _, p := range m {
			if p[1] == "table" {
				subject = p[2]
				break
			}
		}
	}
	var firstErr error
	out := placeholderRE.ReplaceAllStringFunc(stmt, func(ph string) string {
		m := placeholderRE.FindStringSubmatch(ph)
		s, err := renderPlaceholder(m[1], m[2], strings.Contains(ph, ":"), subject, cluster)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return s
	})
	if firstErr != nil {
		return nil, firstErr
	}
	return []string{out}, nil
}

// checkStatement enforces the rules every migration statement follows,
// whatever the form rendered.
func checkStatement(stmt string) error {
	if ddlRE.MatchString(stmt) && !strings.Contains(stmt, "{on_cluster}") {
		return fmt.Errorf("statement %.60q: schema changes must carry {on_cluster}", firstLine(stmt))
	}
	if bareEngineRE.MatchString(stmt) {
		return fmt.Errorf("statement %.60q: write MergeTree engines as {engine:...} so a cluster gets the Replicated twin", firstLine(stmt))
	}
	return nil
}

func renderPlaceholder(name, arg string, hasArg bool, subject, cluster string) (string, error) {
	switch name {
	case "on_cluster":
		if hasArg {
			return "", errors.New("{on_cluster} takes no argument")
		}
		if cluster == "" {
			return "", nil
		}
		return " ON CLUSTER '" + cluster + "'", nil
	case "table":
		if !identRE.MatchString(arg) {
			return "", fmt.Errorf("{table:%s}: want a table name", arg)
		}
		return localName(arg, cluster), nil
	case "engine":
		m := engineRE.FindStringSubmatch(arg)
		if m == nil {
			return "", fmt.Errorf("{engine:%s}: want a MergeTree engine, e.g. ReplacingMergeTree(version)", arg)
		}
		if cluster == "" {
			return arg, nil
		}
		if subject == "" {
			return "", fmt.Errorf("{engine:%s}: the statement names no {table:...}", arg)
		}
		local := localName(subject, cluster)
		out := "Replicated" + m[1] + "('" + KeeperPathPrefix + "/{shard}/{database}/" + local + "', '{replica}'"
		if args := strings.TrimSpace(m[2]); args != "" {
			out += ", " + args
		}
		return out + ")", nil
	case "deduplication_window":
		if !numberRE.MatchString(arg) {
			return "", fmt.Errorf("{deduplication_window:%s}: want a number of blocks", arg)
		}
		if cluster == "" {
			return "non_replicated_deduplication_window = " + arg, nil
		}
		return "replicated_deduplication_window = " + arg, nil
	case "distributed":
		return "", errors.New("{distributed:...} must be a statement of its own")
	}
	return "", fmt.Errorf("unknown placeholder {%s}", name)
}

func renderDistributed(arg, cluster string) ([]string, error) {
	m := distributedRE.FindStringSubmatch(strings.TrimSpace(arg))
	if m == nil {
		return nil, fmt.Errorf("{distributed:%s}: want {distributed:table} or {distributed:table SHARD BY expression}", arg)
	}
	if cluster == "" {
		return nil, nil
	}
	table, key := m[1], strings.TrimSpace(m[2])
	local := localName(table, cluster)
	stmt := "CREATE TABLE IF NOT EXISTS " + table + " ON CLUSTER '" + cluster + "' AS " + local +
		"\nENGINE = Distributed('" + cluster + "', currentDatabase(), '" + local + "'"
	if key != "" {
		stmt += ", " + key
	}
	return []string{stmt + ")"}, nil
}

func localName(table, cluster string) string {
	if cluster == "" {
		return table
	}
	return table + LocalSuffix
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// renderStatements renders a list of statements.
func renderStatements(stmts []string, cluster string) ([]string, error) {
	var out []string
	for i, s := range stmts {
		r, err := RenderStatement(s, cluster)
		if err != nil {
			return nil, fmt.Errorf("statement %d: %w", i+1, err)
		}
		out = append(out, r...)
	}
	return out, nil
}

// RenderScript is every schema statement Tally applies (the migrations
// table, then each migration in order) rendered for cluster ("": one
// server), as a script clickhouse-client --multiquery runs and
// SplitStatements splits back. `tally migrations render` prints it.
func RenderScript(cluster string) (string, error) {
	var b strings.Builder
	b.WriteString("-- Tally's ClickHouse schema, generated by\n")
	if cluster == "" {
		b.WriteString("--   tally migrations render\n")
		b.WriteString("-- for a single ClickHouse server. Tally applies it itself at start.\n")
	} else {
		b.WriteString("--   tally migrations render --clickhouse-cluster " + cluster + "\n")
		b.WriteString("-- for the ClickHouse cluster '" + cluster + "' (Replicated tables in Keeper, a\n")
		b.WriteString("-- Distributed table under each name Tally queries). `tally run\n")
		b.WriteString("-- --clickhouse-cluster " + cluster + "` applies it itself at start; see docs/clickhouse.md.\n")
		b.WriteString("-- Do not edit: regenerate.\n")
	}
	table, err := renderStatements(SplitStatements(migrationsTableDDL), cluster)
	if err != nil {
		return "", fmt.Errorf("migrations table: %w", err)
	}
	b.WriteString("\n-- The record of applied migrations.\n")
	writeStatements(&b, table)
	migs, err := RenderMigrations(cluster)
	if err != nil {
		return "", err
	}
	for _, m := range migs {
		fmt.Fprintf(&b, "-- Migration %04d_%s.\n", m.Version, m.Name)
		writeStatements(&b, m.Statements)
	}
	return b.String(), nil
}

func writeStatements(b *strings.Builder, stmts []string) {
	for _, s := range stmts {
		b.WriteString(strings.TrimSpace(s))
		b.WriteString(";\n\n")
	}
}
