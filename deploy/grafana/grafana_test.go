// Package grafana_test checks the Grafana provisioning files in this
// folder: the YAML and JSON parse and hang together, and every panel's SQL
// runs on a real ClickHouse (the managed local one, chlocal) with Tally's
// migrations applied and a small seeded month, returning the columns and
// the figures worked out by hand. Renaming a finance view or one of its
// columns breaks a query here. datasource_test.go checks the data source
// and the dashboard provider, dashboard_test.go the dashboard's structure,
// queries_test.go runs the panels' SQL.
package grafana_test

import (
	"os"
	"testing"

	"github.com/tally-billing/tally/chlocal"
	"github.com/tally-billing/tally/chlocal/chlocaltest"
)

const (
	pluginType = "grafana-clickhouse-datasource"

	datasourceFile = "provisioning/datasources/clickhouse.yaml"
	providerFile   = "provisioning/dashboards/tally.yaml"
	dashboardFile  = "dashboards/tally-finance.json"
)

var chServer *chlocal.Server

func TestMain(m *testing.M) { chlocaltest.Main(m, "grafana", &chServer) }

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
