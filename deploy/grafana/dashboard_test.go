package grafana_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

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
