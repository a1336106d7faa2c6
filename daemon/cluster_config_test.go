package daemon

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateClickHouseCluster(t *testing.T) {
	// The managed local ClickHouse is one server: a cluster needs a DSN.
	err := Config{ClickHouseCluster: "tally"}.Validate()
	if !errors.Is(err, ErrClusterNeedsDSN) || !strings.Contains(err.Error(), "--clickhouse-dsn") {
		t.Errorf("cluster without DSN: err %v, want %v", err, ErrClusterNeedsDSN)
	}
	if err := (Config{ClickHouseCluster: "tally", ClickHouseDSN: "clickhouse://ch-1:9000/tally"}).Validate(); err != nil {
		t.Errorf("cluster with DSN: %v", err)
	}
	if err := (Config{ClickHouseCluster: "no'quotes", ClickHouseDSN: "clickhouse://ch-1:9000/tally"}).Validate(); err == nil {
		t.Error("a cluster name with a quote was accepted")
	}
	if err := (Config{ClickHouseDSN: "clickhouse://ch-1:9000/tally"}).Validate(); err != nil {
		t.Errorf("no cluster: %v", err)
	}
}
