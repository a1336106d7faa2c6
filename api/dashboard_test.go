package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tally-billing/tally/auth"
	"github.com/tally-billing/tally/finance"
	"github.com/tally-billing/tally/pipeline"
)

func TestTrendMonths(t *testing.T) {
	cases := []struct {
		from, to string
		want     string // months joined by " ", or "error"
	}{
		{"2026-10", "2026-11", "2026-10 2026-11"},
		{"2026-11", "2026-11", "2026-11"},
		{"2025-11", "2026-02", "2025-11 2025-12 2026-01 2026-02"},
		{"2026-11", "2026-10", "error"},
		{"2026-13", "2026-12", "error"},
		{"", "2026-12", "error"},
		{"2026-01", "", "error"},
		{"2024-01", "2026-12", "36 months"},
		{"2023-12", "2026-12", "error"}, // 37 months
	}
	for _, c := range cases {
		months, err := trendMonths(c.from, c.to)
		got := strings.Join(months, " ")
		switch {
		case err != nil:
			got = "error"
		case len(months) > 4:
			got = fmt.Sprintf("%d months", len(months))
			if months[0] != c.from || months[len(months)-1] != c.to {
				got += " from " + months[0] + " to " + months[len(months)-1]
			}
		}
		if got != c.want {
			t.Errorf("trendMonths(%q, %q) = %q (%v), want %q", c.from, c.to, got, err, c.want)
		}
	}
}

type fakeTrends struct{ asked [][]string }

func (f *fakeTrends) FinanceTrend(_ context.Context, months []string) (finance.Trend, error) {
	f.asked = append(f.asked, months)
	return finance.Trend{From: months[0], To: months[len(months)-1], Months: months,
		Totals: []finance.TrendTotal{{Period: months[0], Currency: "USD", MRR: "1238.20"}}}, nil
}

// Fakes for the rest of the router's dependencies; their methods are not
// called here.
type (
	fakeUsage       struct{ UsageReader }
	fakeBilling     struct{ Billing }
	fakeMarketplace struct{ Marketplace }
	fakeReports     struct{ Reports }
)

// passBarrier is a read-your-writes barrier with nothing to wait for.
type passBarrier struct{}

func (passBarrier) Barrier(context.Context) (pipeline.Progress, error) {
	return pipeline.Progress{}, nil
}
func (passBarrier) Progress(context.Context) (pipeline.Progress, error) {
	return pipeline.Progress{}, nil
}

const (
	testFinanceKey = "finance-key-for-the-api-tests"
	testIngestKey  = "ingest-key-for-the-api-tests"
)

func testRouter(t *testing.T, tr Trends) http.Handler {
	t.Helper()
	keys, err := auth.Parse([]byte(`{"keys":[{"name":"f","role":"finance","key":"` + testFinanceKey +
		`"},{"name":"i","role":"ingest","key":"` + testIngestKey + `"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewRouter(Config{
		Keys: keys, Ingest: http.NotFoundHandler(), Usage: fakeUsage{}, Billing: fakeBilling{}, Marketplace: fakeMarketplace{},
		Reports: fakeReports{}, Trends: tr, Entitlements: noEntitlements{}, Barrier: passBarrier{}, Ready: func(context.Context) error { return nil }, Metrics: http.NotFoundHandler(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func call(h http.Handler, path, key string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestTrendEndpoint(t *testing.T) {
	tr := &fakeTrends{}
	h := testRouter(t, tr)
	const path = "/v1/reports/trend?from=2026-10&to=2026-11"

	if rec := call(h, path, ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("no key: %d, want 401", rec.Code)
	}
	if rec := call(h, path, "not-a-key-of-this-server-at-all"); rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "unknown API key") {
		t.Errorf("wrong key: %d %s, want 401 unknown API key", rec.Code, rec.Body)
	}
	if rec := call(h, path, testIngestKey); rec.Code != http.StatusForbidden {
		t.Errorf("ingest key: %d, want 403", rec.Code)
	}
	if rec := call(h, "/v1/reports/trend?from=2026-11&to=2026-10", testFinanceKey); rec.Code != http.StatusBadRequest {
		t.Errorf("reversed range: %d, want 400", rec.Code)
	}
	if len(tr.asked) != 0 {
		t.Fatalf("refused requests reached the store: %v", tr.asked)
	}

	rec := call(h, path, testFinanceKey)
	if rec.Code != http.StatusOK {
		t.Fatalf("finance key: %d %s", rec.Code, rec.Body)
	}
	if fmt.Sprint(tr.asked) != "[[2026-10 2026-11]]" {
		t.Errorf("store asked for %v, want [[2026-10 2026-11]]", tr.asked)
	}
	// Money stays a JSON string.
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	mrr := body["totals"].([]any)[0].(map[string]any)["mrr"]
	if mrr != "1238.20" {
		t.Errorf("totals[0].mrr = %#v, want the string \"1238.20\"", mrr)
	}
}

func TestDashboardNeedsNoKey(t *testing.T) {
	h := testRouter(t, &fakeTrends{})
	rec := call(h, "/dashboard?from=2026-10&to=2026-11", "")
	if rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/dashboard/?from=2026-10&to=2026-11" {
		t.Errorf("/dashboard: %d to %q, want 301 to /dashboard/ with the query", rec.Code, rec.Header().Get("Location"))
	}
	rec = call(h, "/dashboard/", "")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "Finance API key") {
		t.Errorf("/dashboard/: %d, want the page", rec.Code)
	}
	if rec := call(h, "/dashboard/app.js", ""); rec.Code != http.StatusOK {
		t.Errorf("/dashboard/app.js: %d", rec.Code)
	}
}
