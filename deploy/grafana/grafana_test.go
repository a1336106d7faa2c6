// Package grafana_test checks the Grafana provisioning files in this
// folder: the YAML and JSON parse and hang together, and every panel's SQL
// runs on a real ClickHouse (the managed local one, chlocal) with Tally's
// migrations applied and a small seeded month, returning the columns and
// the figures worked out by hand below. Renaming a finance view or one of
// its columns breaks a query here.
package grafana_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"
	"go.yaml.in/yaml/v3"

	"github.com/tally-billing/tally/chlocal"
	"github.com/tally-billing/tally/chlocal/chlocaltest"
	"github.com/tally-billing/tally/chstore"
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

// ---------------------------------------------------------------------------
// The data source

type datasourceFileT struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name           string         `yaml:"name"`
		UID            string         `yaml:"uid"`
		Type           string         `yaml:"type"`
		Access         string         `yaml:"access"`
		JSONData       map[string]any `yaml:"jsonData"`
		SecureJSONData map[string]any `yaml:"secureJsonData"`
	} `yaml:"datasources"`
}

// envRefRE finds $VAR and ${VAR}, the references Grafana replaces in
// provisioning files.
var envRefRE = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

// pluginSettings is what the ClickHouse plugin needs to connect, read the
// way its settings loader reads jsonData (strings or native values).
type pluginSettings struct {
	UID, Host, Protocol, Database, User, Password string
	Port                                          int64
	Secure                                        bool
}

// loadDatasource parses the data source file, replaces the environment
// references from env (as Grafana does when it loads the file) and returns
// the settings. Every reference must be in env.
func loadDatasource(t *testing.T, env map[string]string) pluginSettings {
	t.Helper()
	raw := readFile(t, datasourceFile)
	var f datasourceFileT
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatalf("%s: %v", datasourceFile, err)
	}
	if f.APIVersion != 1 {
		t.Errorf("%s: apiVersion %d, want 1", datasourceFile, f.APIVersion)
	}
	if len(f.Datasources) != 1 {
		t.Fatalf("%s: %d data sources, want 1", datasourceFile, len(f.Datasources))
	}
	ds := f.Datasources[0]
	if ds.Type != pluginType {
		t.Errorf("data source type %q, want %q", ds.Type, pluginType)
	}
	if ds.UID == "" || ds.Name == "" {
		t.Errorf("data source needs a uid and a name, got %q %q", ds.UID, ds.Name)
	}
	expand := func(key string, v any) string {
		s := fmt.Sprint(v)
		for _, m := range envRefRE.FindAllStringSubmatch(s, -1) {
			if _, ok := env[m[1]]; !ok {
				t.Errorf("%s: %s refers to $%s, which the test does not set", datasourceFile, key, m[1])
			}
		}
		return envRefRE.ReplaceAllStringFunc(s, func(ref string) string {
			return env[envRefRE.FindStringSubmatch(ref)[1]]
		})
	}
	get := func(key string) string {
		v, ok := ds.JSONData[key]
		if !ok {
			t.Errorf("%s: jsonData has no %s", datasourceFile, key)
			return ""
		}
		return expand(key, v)
	}
	s := pluginSettings{
		UID:      ds.UID,
		Host:     get("host"),
		Protocol: get("protocol"),
		Database: get("defaultDatabase"),
		User:     get("username"),
	}
	var err error
	if s.Port, err = strconv.ParseInt(get("port"), 0, 64); err != nil || s.Port <= 0 {
		t.Errorf("port %q is not a port number (%v)", get("port"), err)
	}
	if s.Secure, err = strconv.ParseBool(get("secure")); err != nil {
		t.Errorf("secure %q is not a boolean: %v", get("secure"), err)
	}
	if s.Protocol != "native" && s.Protocol != "http" {
		t.Errorf("protocol %q, want native or http", s.Protocol)
	}
	if s.Host == "" || s.Database == "" || s.User == "" {
		t.Errorf("host %q, database %q and user %q must all be set", s.Host, s.Database, s.User)
	}
	pw, ok := ds.SecureJSONData["password"]
	if !ok {
		t.Errorf("%s: the password belongs in secureJsonData", datasourceFile)
	}
	if _, inPlain := ds.JSONData["password"]; inPlain {
		t.Errorf("%s: password in jsonData (stored in clear); use secureJsonData", datasourceFile)
	}
	s.Password = expand("password", pw)
	return s
}

func TestDatasourceProvisioning(t *testing.T) {
	raw := string(readFile(t, datasourceFile))
	readme := string(readFile(t, "README.md"))
	// Every variable the file reads is documented, in the file and in the
	// README, and none is hard-wired.
	var vars []string
	var settings strings.Builder // the file without its comments
	for _, l := range strings.Split(raw, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			settings.WriteString(l + "\n")
		}
	}
	for _, m := range envRefRE.FindAllStringSubmatch(settings.String(), -1) {
		if !slices.Contains(vars, m[1]) {
			vars = append(vars, m[1])
		}
	}
	want := []string{"CLICKHOUSE_HOST", "CLICKHOUSE_PORT", "CLICKHOUSE_PROTOCOL", "CLICKHOUSE_SECURE",
		"CLICKHOUSE_DATABASE", "CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD"}
	slices.Sort(vars)
	slices.Sort(want)
	if !slices.Equal(vars, want) {
		t.Errorf("%s reads %v, want %v", datasourceFile, vars, want)
	}
	for _, v := range want {
		if !regexp.MustCompile(`(?m)^#\s+` + v + `\s`).MatchString(raw) {
			t.Errorf("%s: the header comment does not document %s", datasourceFile, v)
		}
		if !strings.Contains(readme, "`"+v+"`") {
			t.Errorf("README.md does not document %s", v)
		}
	}
	s := loadDatasource(t, map[string]string{
		"CLICKHOUSE_HOST": "ch-1", "CLICKHOUSE_PORT": "9000", "CLICKHOUSE_PROTOCOL": "native",
		"CLICKHOUSE_SECURE": "false", "CLICKHOUSE_DATABASE": "tally", "CLICKHOUSE_USER": "grafana",
		"CLICKHOUSE_PASSWORD": "secret",
	})
	if s.Host != "ch-1" || s.Port != 9000 || s.Database != "tally" || s.User != "grafana" || s.Password != "secret" || s.Secure {
		t.Errorf("settings after expansion: %+v", s)
	}
}

type providerFileT struct {
	APIVersion int `yaml:"apiVersion"`
	Providers  []struct {
		Name    string `yaml:"name"`
		Type    string `yaml:"type"`
		Folder  string `yaml:"folder"`
		Options struct {
			Path string `yaml:"path"`
		} `yaml:"options"`
	} `yaml:"providers"`
}

func TestDashboardProvider(t *testing.T) {
	var f providerFileT
	if err := yaml.Unmarshal(readFile(t, providerFile), &f); err != nil {
		t.Fatalf("%s: %v", providerFile, err)
	}
	if f.APIVersion != 1 || len(f.Providers) != 1 {
		t.Fatalf("%s: apiVersion %d with %d providers, want 1 and 1", providerFile, f.APIVersion, len(f.Providers))
	}
	p := f.Providers[0]
	if p.Type != "file" || p.Name == "" || p.Folder == "" {
		t.Errorf("provider %+v: want a named file provider with a folder", p)
	}
	if !filepath.IsAbs(p.Options.Path) {
		t.Errorf("provider path %q is not absolute", p.Options.Path)
	}
	// The README tells where to put the dashboards: the provider's path.
	if !strings.Contains(string(readFile(t, "README.md")), p.Options.Path) {
		t.Errorf("README.md does not name the provider path %s", p.Options.Path)
	}
}

// ---------------------------------------------------------------------------
// The dashboard

type (
	dsRef struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}
	target struct {
		RefID      string `json:"refId"`
		Datasource *dsRef `json:"datasource"`
		EditorType string `json:"editorType"`
		Format     *int   `json:"format"`
		QueryType  string `json:"queryType"`
		RawSQL     string `json:"rawSql"`
	}
	gridPos struct {
		X, Y, W, H int
	}
	panel struct {
		ID         int      `json:"id"`
		Type       string   `json:"type"`
		Title      string   `json:"title"`
		Datasource *dsRef   `json:"datasource"`
		GridPos    *gridPos `json:"gridPos"`
		Targets    []target `json:"targets"`
		Panels     []panel  `json:"panels"`
	}
	variable struct {
		Name       string `json:"name"`
		Type       string `json:"type"`
		Datasource *dsRef `json:"datasource"`
		Query      any    `json:"query"`
		Multi      bool   `json:"multi"`
		IncludeAll bool   `json:"includeAll"`
		Current    struct {
			Value any `json:"value"`
		} `json:"current"`
	}
	dashboard struct {
		UID        string  `json:"uid"`
		Title      string  `json:"title"`
		Timezone   string  `json:"timezone"`
		Schema     int     `json:"schemaVersion"`
		Panels     []panel `json:"panels"`
		Templating struct {
			List []variable `json:"list"`
		} `json:"templating"`
	}
)

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	var d dashboard
	if err := json.Unmarshal(readFile(t, dashboardFile), &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// queryPanels returns the panels that query, including those nested in
// collapsed rows.
func queryPanels(d dashboard) []panel {
	var out []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			out = append(out, p)
		}
	}
	walk(d.Panels)
	return out
}

// The ClickHouse plugin's time macros this dashboard may use, expanded by
// expandMacros as the plugin expands them (whole seconds, UTC).
var (
	macroRE       = regexp.MustCompile(`\$__([A-Za-z_]+)`)
	timeFilterRE  = regexp.MustCompile(`\$__timeFilter\(\s*([^()]+?)\s*\)`)
	knownMacros   = []string{"fromTime", "toTime", "timeFilter"}
	templateVarRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::[a-z]+)?\}|\$([A-Za-z][A-Za-z0-9_]*)`)
)

func expandMacros(sql string, from, to time.Time, vars map[string]string) string {
	f := fmt.Sprintf("toDateTime(%d)", from.Unix())
	tt := fmt.Sprintf("toDateTime(%d)", to.Unix())
	sql = timeFilterRE.ReplaceAllString(sql, "$1 >= "+f+" AND $1 <= "+tt)
	sql = strings.ReplaceAll(sql, "$__fromTime", f)
	sql = strings.ReplaceAll(sql, "$__toTime", tt)
	return templateVarRE.ReplaceAllStringFunc(sql, func(ref string) string {
		m := templateVarRE.FindStringSubmatch(ref)
		name := m[1] + m[2]
		if v, ok := vars[name]; ok {
			return v
		}
		return ref
	})
}

// notTimeBound are the panels that show the present state, whatever the
// time range.
var notTimeBound = []string{"Owed to providers now", "Provider liabilities"}

// financeViews reads the view names migration 0004 creates.
func financeViews(t *testing.T) []string {
	t.Helper()
	sql := string(readFile(t, filepath.Join("..", "..", "chstore", "migrations", "0004_finance_views.sql")))
	var out []string
	for _, m := range regexp.MustCompile(`CREATE VIEW IF NOT EXISTS (?:\{table:)?(\w+)`).FindAllStringSubmatch(sql, -1) {
		out = append(out, m[1])
	}
	if len(out) < 10 {
		t.Fatalf("found only %d views in migration 0004: %v", len(out), out)
	}
	return out
}

func TestDashboardStructure(t *testing.T) {
	d := loadDashboard(t)
	s := loadDatasource(t, map[string]string{
		"CLICKHOUSE_HOST": "h", "CLICKHOUSE_PORT": "9000", "CLICKHOUSE_PROTOCOL": "native", "CLICKHOUSE_SECURE": "false",
		"CLICKHOUSE_DATABASE": "tally", "CLICKHOUSE_USER": "u", "CLICKHOUSE_PASSWORD": "",
	})
	if d.UID == "" || d.Title == "" || d.Schema == 0 {
		t.Errorf("dashboard needs uid, title and schemaVersion: %q %q %d", d.UID, d.Title, d.Schema)
	}
	// Periods are UTC months: show them in UTC.
	if d.Timezone != "utc" {
		t.Errorf("timezone %q, want utc", d.Timezone)
	}
	checkDS := func(where string, r *dsRef) {
		if r == nil || r.UID != s.UID || r.Type != pluginType {
			t.Errorf("%s: datasource %+v, want the provisioned uid %q of type %s", where, r, s.UID, pluginType)
		}
	}

	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
		checkDS("variable "+v.Name, v.Datasource)
		if _, ok := v.Query.(string); !ok || v.Type != "query" {
			t.Errorf("variable %s: want a query variable with an SQL string, got %s %T", v.Name, v.Type, v.Query)
		}
	}
	if !vars["currency"] {
		t.Fatal("no currency template variable")
	}

	// Layout: unique ids, positions inside the 24-column grid, no overlap.
	ids := map[int]string{}
	var boxes []struct {
		title string
		g     gridPos
	}
	var all func([]panel)
	all = func(ps []panel) {
		for _, p := range ps {
			if prev, dup := ids[p.ID]; dup || p.ID <= 0 {
				t.Errorf("panel %q: id %d (also %q)", p.Title, p.ID, prev)
			}
			ids[p.ID] = p.Title
			g := p.GridPos
			if g == nil || g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
				t.Errorf("panel %q: gridPos %+v", p.Title, g)
			} else {
				for _, b := range boxes {
					if g.X < b.g.X+b.g.W && b.g.X < g.X+g.W && g.Y < b.g.Y+b.g.H && b.g.Y < g.Y+g.H {
						t.Errorf("panel %q %+v overlaps %q %+v", p.Title, *g, b.title, b.g)
					}
				}
				boxes = append(boxes, struct {
					title string
					g     gridPos
				}{p.Title, *g})
			}
			all(p.Panels)
		}
	}
	all(d.Panels)

	views := financeViews(t)
	used := map[string]bool{}
	titles := map[string]bool{}
	for _, p := range queryPanels(d) {
		if titles[p.Title] {
			t.Errorf("two panels titled %q", p.Title)
		}
		titles[p.Title] = true
		checkDS("panel "+p.Title, p.Datasource)
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		refs := map[string]bool{}
		timeBound := false
		for _, tg := range p.Targets {
			where := fmt.Sprintf("panel %q query %s", p.Title, tg.RefID)
			checkDS(where, tg.Datasource)
			if tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("%s: empty or repeated refId", where)
			}
			refs[tg.RefID] = true
			if tg.EditorType != "sql" || strings.TrimSpace(tg.RawSQL) == "" {
				t.Errorf("%s: want editorType sql with rawSql", where)
			}
			// format: 0 time series, 1 table (the plugin's sqlutil formats).
			wantFormat := 1
			if p.Type == "timeseries" {
				wantFormat = 0
			}
			if tg.Format == nil || *tg.Format != wantFormat {
				t.Errorf("%s: format %v, want %d for a %s panel", where, tg.Format, wantFormat, p.Type)
			}
			// The plugin's query types: table, timeSeries (its QueryType).
			if wantType := map[int]string{0: "timeSeries", 1: "table"}[wantFormat]; tg.QueryType != wantType {
				t.Errorf("%s: queryType %q, want %q", where, tg.QueryType, wantType)
			}
			for _, m := range macroRE.FindAllStringSubmatch(tg.RawSQL, -1) {
				if !slices.Contains(knownMacros, m[1]) {
					t.Errorf("%s: macro $__%s is not one of %v", where, m[1], knownMacros)
				}
				timeBound = true
			}
			for _, m := range templateVarRE.FindAllStringSubmatch(tg.RawSQL, -1) {
				if name := m[1] + m[2]; !strings.HasPrefix(name, "__") && !vars[name] {
					t.Errorf("%s: $%s is not a template variable", where, name)
				}
			}
			for _, m := range regexp.MustCompile(`\bfinance_\w+`).FindAllString(tg.RawSQL, -1) {
				if !slices.Contains(views, m) {
					t.Errorf("%s: %s is not a view of migration 0004", where, m)
				}
				used[m] = true
			}
		}
		if timeBound == slices.Contains(notTimeBound, p.Title) {
			t.Errorf("panel %q: uses the time range: %v; it should unless it shows the present", p.Title, timeBound)
		}
	}
	// The views the issue asks for are all on the dashboard.
	for _, v := range []string{"finance_mrr", "finance_billed_revenue", "finance_discounts", "finance_ai_credits",
		"finance_ai_allowance", "finance_marketplace", "finance_provider_liabilities", "finance_invoices",
		"finance_unbilled_tenants"} {
		if !used[v] {
			t.Errorf("no panel reads %s", v)
		}
	}
	// Every query panel is checked against ClickHouse below.
	for title := range titles {
		if _, ok := expectedColumns[title]; !ok {
			t.Errorf("panel %q has no expected columns in this test", title)
		}
	}
	for title := range expectedColumns {
		if !titles[title] {
			t.Errorf("expected panel %q is not on the dashboard", title)
		}
	}
}

// ---------------------------------------------------------------------------
// The queries on a real ClickHouse

// expectedColumns are the columns every panel returns, in order.
var expectedColumns = map[string][]string{
	"MRR and ARR, latest closed month in range":          {"period", "mrr", "arr"},
	"MRR by plan and term":                               {"time", "plan_term", "mrr"},
	"ARR by plan and term":                               {"time", "plan_term", "arr"},
	"MRR and ARR by month, plan and term":                {"period", "plan", "term", "tenants", "mrr", "arr"},
	"Billed in range":                                    {"billed", "invoices"},
	"Billed revenue by line kind":                        {"time", "line_kind", "amount"},
	"Billed revenue by period, plan, term and line kind": {"period", "plan", "term", "invoice_kind", "kind", "adjusts", "invoices", "tenants", "lines", "amount"},
	"Discounts":                          {"period", "plan", "term", "credit", "rate", "invoices", "tenants", "discounted_fees", "discount_given"},
	"AI credits by feature":              {"time", "feature", "credits"},
	"AI credits by feature and model":    {"feature", "model", "tenants", "events", "credits"},
	"AI allowance and overage by month":  {"period", "tenants", "credits_consumed", "allowance_used", "from_packs", "overage_credits", "overage_billed"},
	"Marketplace in range":               {"gmv", "refunds", "net", "platform_fee", "take_rate"},
	"GMV, net, platform fee and refunds": {"time", "gmv", "net", "platform_fee", "provider_share", "refunds"},
	"Marketplace by month":               {"period", "sales", "refund_count", "gmv", "refunds", "tax", "net", "platform_fee", "provider_share", "take_rate"},
	"Owed to providers now":              {"owed_to_providers", "held", "available", "negative_balance"},
	"Provider liabilities":               {"provider", "as_of_period", "held", "available", "paid", "owed_to_providers", "negative_balance"},
	"Invoices issued in range by status": {"status", "invoice_kind", "invoices", "total", "not_in_stripe"},
	"Latest invoices": {"issued_at", "invoice_id", "tenant", "period", "invoice_kind", "plan", "term", "total", "status",
		"status_reason", "stripe_customer_id", "stripe_invoice_id"},
	"Latest payouts": {"as_of", "payout_id", "provider", "amount", "status", "status_reason", "account", "stripe_transfer_id", "failed_at"},
	"Unbilled usage": {"period", "tenant", "period_closed", "ai_events", "ai_credits", "seat_events", "pack_events"},
}

// The seeded data (USD unless said otherwise), and what the panels must show
// for October–December 2026, worked by hand from docs/finance.md:
//
//   - tenant-a: subscription.started team/monthly 2026-10-20; 6,000 AI
//     credits (tutor, gpt-4o) in November; monthly invoice 2026-11 issued
//     2026-12-01: base:team 199.00 and ai_overage 20.00 (1,000 credits over
//     5,000 included), send_failed (card declined), no Stripe invoice.
//   - tenant-b: business/annual from 2026-10-05; upfront invoice issued that
//     day: base 12 × 1,299.00 = 15,588.00, discount:annual 20 % = −3,117.60,
//     net 12,470.40, sent (in_up_b). MRR 12,470.40 ÷ 12 = 1,039.20 in every
//     month October 2026 – September 2027.
//   - tenant-c: 100 AI credits (search, no model) in November, no invoice:
//     unbilled in a closed month.
//   - tenant-d: a draft invoice of 999.00 for 2026-11 (drafts count nowhere).
//   - closed_periods: 2026-11.
//   - prov-x (USD): order o-1 on 2026-11-03, gross 59.00, tax 9.00, fee
//     7.50, share 42.50 held, released 2026-11-20, paid out 42.50 on
//     2026-11-30 (po-1, tr_1); order o-2 on 2026-11-25, gross 99.00, tax
//     15.00, fee 12.60, share 71.40 held.
//     GMV 158.00, net 158 − 24 = 134.00, fee 20.10, take rate 0.15; owed now:
//     held 71.40, available 42.50 − 42.50 = 0.
//   - prov-y (EUR): order o-3 gross 49.00, tax 7.82, fee 6.18, share 35.00
//     held: only the currency variable's list and the EUR view show it.
//
// MRR of the latest closed month (2026-11): team 199.00 + business 1,039.20
// = 1,238.20; ARR 14,858.40. Billed with periods in range: 12,470.40 +
// 219.00 = 12,689.40 on 2 invoices.
var expectedRows = map[string][]string{
	"MRR and ARR, latest closed month in range": {"2026-11 1238.2 14858.4"},
	"MRR by plan and term": {
		"2026-10-01T00:00:00Z business / annual 1039.2",
		"2026-11-01T00:00:00Z business / annual 1039.2",
		"2026-11-01T00:00:00Z team / monthly 199",
		"2026-12-01T00:00:00Z business / annual 1039.2",
	},
	"MRR and ARR by month, plan and term": {
		"2026-12 business annual 1 1039.2 12470.4",
		"2026-11 business annual 1 1039.2 12470.4",
		"2026-11 team monthly 1 199 2388",
		"2026-10 business annual 1 1039.2 12470.4",
	},
	"Billed in range": {"12689.4 2"},
	"Billed revenue by period, plan, term and line kind": {
		"2026-11 team monthly monthly ai_overage  1 1 1 20",
		"2026-11 team monthly monthly base  1 1 1 199",
		"2026-10 business annual upfront base  1 1 1 15588",
		"2026-10 business annual upfront discount  1 1 1 -3117.6",
	},
	"Discounts": {"2026-10 business annual 0 0.2 1 1 15588 3117.6"},
	"AI credits by feature and model": {
		"tutor gpt-4o 1 1 6000",
		"search (none) 1 1 100",
	},
	"AI allowance and overage by month": {"2026-11 2 6100 5000 0 1000 20"},
	"Marketplace in range":              {"158 0 134 20.1 0.15"},
	"Marketplace by month":              {"2026-11 2 0 158 0 24 134 20.1 113.9 0.15"},
	"Owed to providers now":             {"71.4 71.4 0 0"},
	"Provider liabilities":              {"prov-x 2026-11 71.4 0 42.5 71.4 0"},
	"Invoices issued in range by status": {
		"send_failed monthly 1 219 1",
		"sent upfront 1 12470.4 0",
	},
	"Latest invoices": {
		"2026-12-01T00:00:00Z inv-a-2026-11 tenant-a 2026-11 monthly team monthly 219 send_failed card declined cus_a ",
		"2026-10-05T00:00:00Z inv-b-up tenant-b 2026-10 upfront business annual 12470.4 sent  cus_b in_up_b",
	},
	"Latest payouts": {"2026-11-30T00:00:00Z po-1 prov-x 42.5 paid  acct_x tr_1 "},
	"Unbilled usage": {"2026-11 tenant-c 1 1 100 0 0"},
}

// seed is the data described above.
var seed = []string{
	`INSERT INTO events (source, id, type, subject, time, content_hash, credits, feature, model, user_id, seat_type,
        order_id, currency, amount, tax, payload, stream_seq) VALUES
 ('billing', 'sub-a', 'subscription.started', 'tenant-a', '2026-10-20 00:00:00', 'hash-sub-a-00000', 0, '', '', '', '', '', '', 0, 0,
  '{"data":{"plan":"team","term":"monthly","currency":"USD"}}', 1),
 ('billing', 'sub-b', 'subscription.started', 'tenant-b', '2026-10-05 00:00:00', 'hash-sub-b-00000', 0, '', '', '', '', '', '', 0, 0,
  '{"data":{"plan":"business","term":"annual","currency":"USD"}}', 2),
 ('ai-tutor', 'ai-1', 'ai.credits.consumed', 'tenant-a', '2026-11-10 12:00:00', 'hash-ai-1-000000', 6000, 'tutor', 'gpt-4o', 'u-1', '', '', '', 0, 0, '{}', 3),
 ('search', 'ai-2', 'ai.credits.consumed', 'tenant-c', '2026-11-12 08:00:00', 'hash-ai-2-000000', 100, 'search', '', 'u-2', '', '', '', 0, 0, '{}', 4)`,
	`INSERT INTO invoices (invoice_id, tenant, period, kind, currency, price_book_version, subtotal, discount, total,
        status, status_reason, stripe_customer_id, stripe_invoice_id, issued_at, version) VALUES
 ('inv-a-2026-11', 'tenant-a', '2026-11', 'monthly', 'USD', 'v1', 219, 0, 219, 'finalized', '', '', '', '2026-12-01 00:00:00', 1),
 ('inv-a-2026-11', 'tenant-a', '2026-11', 'monthly', 'USD', 'v1', 219, 0, 219, 'send_failed', 'card declined', 'cus_a', '', '2026-12-01 00:00:00', 2),
 ('inv-b-up', 'tenant-b', '2026-10', 'upfront', 'USD', 'v1', 15588, 3117.6, 12470.4, 'sent', '', 'cus_b', 'in_up_b', '2026-10-05 00:00:00', 2),
 ('inv-d-2026-11', 'tenant-d', '2026-11', 'monthly', 'USD', 'v1', 999, 0, 999, 'draft', '', '', '', '2026-12-01 00:00:00', 1)`,
	// Lines as Tally writes them: the facts in their columns (the views
	// read those, never the description).
	`INSERT INTO invoice_lines (invoice_id, line_no, tenant, kind, item, adjusts, description, quantity, unit_price, amount, period, flags,
        plan, term, meter, used, included, from_packs) VALUES
 ('inv-a-2026-11', 1, 'tenant-a', 'base', 'base:team', '', 'team base fee 2026-11', 1, 199, 199, '2026-11', [],
  'team', 'monthly', 'subscription', 0, 0, 0),
 ('inv-a-2026-11', 2, 'tenant-a', 'ai_overage', 'ai_overage', '', 'AI credits 2026-11: 6000 consumed, 5000 included, 0 from packs, 1000 over', 1000, 0.02, 20, '2026-11', [],
  'team', 'monthly', 'ai_credits', 6000, 5000, 0),
 ('inv-b-up', 1, 'tenant-b', 'base', 'base:business', '', 'business base fee (annual term), 2026-10-05 to 2027-10-05', 12, 1299, 15588,
  '2026-10-05T00:00:00Z/2027-10-05T00:00:00Z', [], 'business', 'annual', 'subscription', 0, 0, 0),
 ('inv-b-up', 2, 'tenant-b', 'discount', 'discount:annual', '', 'annual term discount 20 % on recurring fees', 15588, -0.2, -3117.6,
  '2026-10-05T00:00:00Z/2027-10-05T00:00:00Z', [], 'business', 'annual', 'subscription', 0, 0, 0),
 ('inv-d-2026-11', 1, 'tenant-d', 'base', 'base:team', '', 'draft', 1, 999, 999, '2026-11', [], 'team', 'monthly', 'subscription', 0, 0, 0)`,
	`INSERT INTO closed_periods (period, closed_at, invoices) VALUES ('2026-11', '2026-12-01 00:10:00', 1)`,
	`INSERT INTO ledger (entry_id, provider, currency, kind, bucket, amount, at, order_id, refund_id, payout_id, revises) VALUES
 ('e1', 'prov-x', 'USD', 'sale', '', 59, '2026-11-03 10:00:00', 'o-1', '', '', ''),
 ('e2', 'prov-x', 'USD', 'tax', '', 9, '2026-11-03 10:00:00', 'o-1', '', '', ''),
 ('e3', 'prov-x', 'USD', 'fee', '', 7.5, '2026-11-03 10:00:00', 'o-1', '', '', ''),
 ('e4', 'prov-x', 'USD', 'share', 'held', 42.5, '2026-11-03 10:00:00', 'o-1', '', '', ''),
 ('e5', 'prov-x', 'USD', 'hold_release', 'available', 42.5, '2026-11-20 10:00:00', 'o-1', '', '', ''),
 ('e6', 'prov-x', 'USD', 'sale', '', 99, '2026-11-25 10:00:00', 'o-2', '', '', ''),
 ('e7', 'prov-x', 'USD', 'tax', '', 15, '2026-11-25 10:00:00', 'o-2', '', '', ''),
 ('e8', 'prov-x', 'USD', 'fee', '', 12.6, '2026-11-25 10:00:00', 'o-2', '', '', ''),
 ('e9', 'prov-x', 'USD', 'share', 'held', 71.4, '2026-11-25 10:00:00', 'o-2', '', '', ''),
 ('e10', 'prov-y', 'EUR', 'sale', '', 49, '2026-11-05 10:00:00', 'o-3', '', '', ''),
 ('e11', 'prov-y', 'EUR', 'tax', '', 7.82, '2026-11-05 10:00:00', 'o-3', '', '', ''),
 ('e12', 'prov-y', 'EUR', 'fee', '', 6.18, '2026-11-05 10:00:00', 'o-3', '', '', ''),
 ('e13', 'prov-y', 'EUR', 'share', 'held', 35, '2026-11-05 10:00:00', 'o-3', '', '', '')`,
	`INSERT INTO payouts (payout_id, provider, currency, amount, as_of, account, status, status_reason, stripe_transfer_id, failed_at, version) VALUES
 ('po-1', 'prov-x', 'USD', 42.5, '2026-11-30 00:00:00', 'acct_x', 'pending', '', '', 0, 1),
 ('po-1', 'prov-x', 'USD', 42.5, '2026-11-30 00:00:00', 'acct_x', 'paid', '', 'tr_1', 0, 2)`,
	`INSERT INTO payout_statement_lines (payout_id, line_no, kind, ref, description, at, amount) VALUES
 ('po-1', 1, 'sale', 'o-1', 'o-1 share', '2026-11-03 10:00:00', 42.5)`,
}

// newDatabase creates a database with Tally's migrations and the seed.
func newDatabase(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "grafana_" + hex.EncodeToString(b[:])
	st, err := chstore.Open(ctx, chstore.Config{DSN: chServer.DSN()})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Conn().Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	st.Close()
	dsn := strings.TrimSuffix(chServer.DSN(), "/default") + "/" + name
	st, err = chstore.Open(ctx, chstore.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrating: %v", err)
	}
	for i, q := range seed {
		if err := st.Conn().Exec(ctx, q); err != nil {
			t.Fatalf("seed statement %d: %v", i+1, err)
		}
	}
	return name
}

// connect opens a connection the way the provisioned data source does, with
// the file's environment references set to the test server.
func connect(t *testing.T, database string) driver.Conn {
	t.Helper()
	opts, err := clickhouse.ParseDSN(chServer.DSN())
	if err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(opts.Addr[0])
	if err != nil {
		t.Fatal(err)
	}
	s := loadDatasource(t, map[string]string{
		"CLICKHOUSE_HOST": host, "CLICKHOUSE_PORT": port, "CLICKHOUSE_PROTOCOL": "native", "CLICKHOUSE_SECURE": "false",
		"CLICKHOUSE_DATABASE": database, "CLICKHOUSE_USER": "default", "CLICKHOUSE_PASSWORD": "",
	})
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:     []string{net.JoinHostPort(s.Host, strconv.FormatInt(s.Port, 10))},
		Protocol: clickhouse.Native,
		Auth:     clickhouse.Auth{Database: s.Database, Username: s.User, Password: s.Password},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

type result struct {
	columns []string
	types   []string
	rows    []string // each row's values joined by spaces
}

func query(ctx context.Context, conn driver.Conn, sql string) (result, error) {
	var r result
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return r, err
	}
	defer rows.Close()
	cts := rows.ColumnTypes()
	for _, ct := range cts {
		r.columns = append(r.columns, ct.Name())
		r.types = append(r.types, ct.DatabaseTypeName())
	}
	for rows.Next() {
		vals := make([]any, len(cts))
		for i, ct := range cts {
			vals[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(vals...); err != nil {
			return r, err
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = formatValue(reflect.ValueOf(v).Elem().Interface())
		}
		r.rows = append(r.rows, strings.Join(parts, " "))
	}
	return r, rows.Err()
}

func formatValue(v any) string {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return "NULL"
		}
		return formatValue(rv.Elem().Interface())
	}
	switch x := v.(type) {
	case decimal.Decimal:
		return x.String()
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	default:
		return fmt.Sprint(x)
	}
}

// The time range the figures are worked for: October–December 2026, as the
// time picker sends it (to = the last second of December), and a range with
// none of the seeded data.
var (
	rangeFrom = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	rangeTo   = time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC)
	emptyFrom = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	emptyTo   = time.Date(2020, 3, 31, 23, 59, 59, 0, time.UTC)
)

func TestDashboardQueriesOnTallySchema(t *testing.T) {
	d := loadDashboard(t)
	db := newDatabase(t)
	conn := connect(t, db)
	ctx := context.Background()
	vars := map[string]string{"currency": "USD"}

	// The currency variable lists the currencies of invoices and sales.
	for _, v := range d.Templating.List {
		sql, _ := v.Query.(string)
		r, err := query(ctx, conn, expandMacros(sql, rangeFrom, rangeTo, vars))
		if err != nil {
			t.Fatalf("variable %s: %v\n%s", v.Name, err, sql)
		}
		if v.Name == "currency" && !slices.Equal(r.rows, []string{"EUR", "USD"}) {
			t.Errorf("currency variable lists %q, want EUR and USD", r.rows)
		}
	}

	for _, p := range queryPanels(d) {
		for _, tg := range p.Targets {
			sql := expandMacros(tg.RawSQL, rangeFrom, rangeTo, vars)
			if strings.Contains(sql, "$") {
				t.Errorf("panel %q: unexpanded reference left in\n%s", p.Title, sql)
				continue
			}
			r, err := query(ctx, conn, sql)
			if err != nil {
				t.Errorf("panel %q: %v\n%s", p.Title, err, sql)
				continue
			}
			if want := expectedColumns[p.Title]; !slices.Equal(r.columns, want) {
				t.Errorf("panel %q: columns %q, want %q", p.Title, r.columns, want)
			}
			// Money stays decimal up to Grafana: no Float column anywhere.
			for i, typ := range r.types {
				if strings.Contains(typ, "Float") {
					t.Errorf("panel %q: column %s is %s; money must stay Decimal", p.Title, r.columns[i], typ)
				}
			}
			if p.Type == "timeseries" && (len(r.types) == 0 || !strings.HasPrefix(r.types[0], "DateTime")) {
				t.Errorf("panel %q: a time series needs a DateTime first column, got %q", p.Title, r.types)
			}
			if len(r.rows) == 0 {
				t.Errorf("panel %q: no rows on the seeded data", p.Title)
			}
			if want, ok := expectedRows[p.Title]; ok && !slices.Equal(r.rows, want) {
				t.Errorf("panel %q:\n got  %q\n want %q", p.Title, r.rows, want)
			}

			// Outside the seeded months the time-bound panels are empty
			// (stats: zero), so they do follow the time range.
			if slices.Contains(notTimeBound, p.Title) {
				continue
			}
			e, err := query(ctx, conn, expandMacros(tg.RawSQL, emptyFrom, emptyTo, vars))
			if err != nil {
				t.Errorf("panel %q, empty range: %v", p.Title, err)
				continue
			}
			if p.Type != "stat" {
				if len(e.rows) != 0 {
					t.Errorf("panel %q: %d rows for 2020, want none: %q", p.Title, len(e.rows), e.rows)
				}
				continue
			}
			for _, row := range e.rows {
				for _, f := range strings.Fields(row) {
					if n, err := decimal.NewFromString(f); err == nil && !n.IsZero() {
						t.Errorf("panel %q: %q for 2020, want zeros", p.Title, row)
					}
				}
			}
		}
	}

	// The currency variable filters: EUR shows prov-y's sale only.
	for _, p := range queryPanels(d) {
		if p.Title != "Marketplace in range" {
			continue
		}
		r, err := query(ctx, conn, expandMacros(p.Targets[0].RawSQL, rangeFrom, rangeTo, map[string]string{"currency": "EUR"}))
		if err != nil {
			t.Fatal(err)
		}
		// net 49 − 7.82 = 41.18; take rate 6.18 ÷ 41.18 = 0.150072850 (9
		// decimals, truncated as ClickHouse divides decimals).
		if want := []string{"49 0 41.18 6.18 0.15007285"}; !slices.Equal(r.rows, want) {
			t.Errorf("EUR marketplace: %q, want %q", r.rows, want)
		}
	}
}
