package chstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one versioned schema change.
type Migration struct {
	Version    int
	Name       string
	Statements []string
}

// migrationsTableDDL creates tally_migrations, the record of applied
// migrations, with the placeholders of cluster.go: on a cluster it is
// replicated and read through a Distributed table like every other table.
const migrationsTableDDL = `CREATE TABLE IF NOT EXISTS {table:tally_migrations}{on_cluster}
(
    version    UInt32,
    name       String,
    applied_at DateTime64(3, 'UTC')
)
ENGINE = {engine:ReplacingMergeTree}
ORDER BY version;

{distributed:tally_migrations SHARD BY cityHash64(version)};`

// Migrations returns the embedded migrations in version order, rendered
// for a single server. A file is named NNNN_name.sql; statements are
// separated by a semicolon at the end of a line.
func Migrations() ([]Migration, error) { return RenderMigrations("") }

// RenderMigrations returns the embedded migrations in version order,
// rendered for the named ClickHouse cluster, or for a single server when
// cluster is empty (see cluster.go).
func RenderMigrations(cluster string) ([]Migration, error) {
	migs, err := rawMigrations()
	if err != nil {
		return nil, err
	}
	for i, m := range migs {
		stmts, err := renderStatements(m.Statements, cluster)
		if err != nil {
			return nil, fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
		}
		migs[i].Statements = stmts
	}
	return migs, nil
}

// rawMigrations reads the migration files, placeholders and all.
func rawMigrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("reading migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".sql")
		num, rest, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration file %q: want NNNN_name.sql", e.Name())
		}
		body, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("reading migration %s: %w", e.Name(), err)
		}
		out = append(out, Migration{Version: v, Name: rest, Statements: SplitStatements(string(body))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("two migrations with version %d", out[i].Version)
		}
	}
	return out, nil
}

// SplitStatements splits a SQL script into statements: each ends with a
// semicolon at the end of a line; "--" comment lines are dropped.
func SplitStatements(sql string) []string {
	var stmts []string
	var cur strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteString("\n")
		if strings.HasSuffix(trimmed, ";") {
			if s := strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"); s != "" {
				stmts = append(stmts, s)
			}
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		stmts = append(stmts, s)
	}
	return stmts
}

// Migrate applies every migration not yet recorded in tally_migrations, in
// order, and records it. Statements are idempotent (IF NOT EXISTS), so two
// replicas migrating at once, or a crash between a statement and its
// record, do no harm. With Config.Cluster set, the migrations are rendered
// for that cluster (ON CLUSTER, Replicated tables, Distributed tables; see
// cluster.go): each statement returns once every server has run it.
func (s *Store) Migrate(ctx context.Context) error {
	table, err := renderStatements(SplitStatements(migrationsTableDDL), s.cluster)
	if err != nil {
		return fmt.Errorf("rendering migrations table: %w", err)
	}
	for _, stmt := range table {
		if err := s.conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("creating migrations table: %w", err)
		}
	}
	applied, err := s.AppliedMigrations(ctx)
	if err != nil {
		return err
	}
	migs, err := RenderMigrations(s.cluster)
	if err != nil {
		return err
	}
	for _, m := range migs {
		if _, ok := applied[m.Version]; ok {
			continue
		}
		for i, stmt := range m.Statements {
			if err := s.conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("applying migration %04d_%s statement %d: %w", m.Version, m.Name, i+1, err)
			}
		}
		if err := s.conn.Exec(ctx, `INSERT INTO tally_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			uint32(m.Version), m.Name, time.Now().UTC()); err != nil {
			return fmt.Errorf("recording migration %04d: %w", m.Version, err)
		}
		s.log.Info().Int("version", m.Version).Str("name", m.Name).Msg("migration applied")
	}
	return nil
}

// AppliedMigrations returns the recorded versions with their names.
func (s *Store) AppliedMigrations(ctx context.Context) (map[int]string, error) {
	rows, err := s.conn.Query(ctx, `SELECT version, name FROM tally_migrations FINAL`)
	if err != nil {
		return nil, fmt.Errorf("reading applied migrations: %w", err)
	}
	defer rows.Close()
	out := map[int]string{}
	for rows.Next() {
		var v uint32
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			return nil, fmt.Errorf("scanning migration row: %w", err)
		}
		out[int(v)] = name
	}
	return out, rows.Err()
}

// InstalledAt is when the first migration was applied: when Tally first ran
// against this database.
func (s *Store) InstalledAt(ctx context.Context) (time.Time, error) {
	var at time.Time
	if err := s.conn.QueryRow(ctx, `SELECT min(applied_at) FROM tally_migrations`).Scan(&at); err != nil {
		return time.Time{}, fmt.Errorf("reading installation time: %w", err)
	}
	return at.UTC(), nil
}
