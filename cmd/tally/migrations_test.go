package main

import (
	"bytes"
	"strings"
	"testing"
)

func runTally(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestMigrationsRender(t *testing.T) {
	single, err := runTally(t, "migrations", "render")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(single, "CREATE TABLE IF NOT EXISTS events\n") || strings.Contains(single, "ON CLUSTER") {
		t.Errorf("single-server render:\n%.400s", single)
	}

	t.Setenv("TALLY_CLICKHOUSE_CLUSTER", "prod")
	clustered, err := runTally(t, "migrations", "render")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"CREATE TABLE IF NOT EXISTS events_local ON CLUSTER 'prod'\n",
		"ENGINE = Distributed('prod', currentDatabase(), 'events_local', cityHash64(subject));",
	} {
		if !strings.Contains(clustered, want) {
			t.Errorf("TALLY_CLICKHOUSE_CLUSTER=prod render lacks %q", want)
		}
	}
	flag, err := runTally(t, "migrations", "render", "--clickhouse-cluster", "tally")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(flag, "ON CLUSTER 'tally'") || strings.Contains(flag, "'prod'") {
		t.Error("--clickhouse-cluster does not override the environment")
	}

	if _, err := runTally(t, "migrations", "render", "--clickhouse-cluster", "a b"); err == nil {
		t.Error("a cluster name with a space was accepted")
	}
}

func TestRunRefusesClusterWithoutDSN(t *testing.T) {
	_, err := runTally(t, "run", "--clickhouse-cluster", "tally", "--data-dir", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "--clickhouse-dsn") {
		t.Errorf("run --clickhouse-cluster without a DSN: %v", err)
	}
}
