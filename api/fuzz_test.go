package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/aggregators"
	"github.com/tally-billing/tally/api"
	"github.com/tally-billing/tally/auth"
	"github.com/tally-billing/tally/billing"
	"github.com/tally-billing/tally/finance"
	"github.com/tally-billing/tally/payouts"
	"github.com/tally-billing/tally/pipeline"
)

const (
	financeKey  = "finance-key-0123456789abcdef"
	ingestKey   = "ingest-key-0123456789abcdef"
	providerKey = "provider-key-0123456789abcdef"
	tenantKey   = "tenant-key-of-t1-0123456789abcdef"
)

// apiNow is the router's clock.
var apiNow = time.Date(2026, 11, 15, 12, 0, 0, 0, time.UTC)

// recorder stands in for every backend and keeps the arguments it got.
type recorder struct {
	tenant         string // of the last usage or invoices read
	from, to, asOf time.Time
	period         string
	months         []string
	calls          int
	// barriers counts the read-your-writes barriers passed; behind makes
	// the next ones time out.
	barriers int
	behind   *pipeline.Behind
	seq      uint64 // the position the entitlement backend was asked to wait for
}

func (r *recorder) Barrier(context.Context) (pipeline.Progress, error) {
	r.barriers++
	if r.behind != nil {
		return pipeline.Progress{}, r.behind
	}
	return pipeline.Progress{Events: pipeline.StreamProgress{Last: 7, Through: 7}}, nil
}

func (r *recorder) Progress(context.Context) (pipeline.Progress, error) {
	return pipeline.Progress{Events: pipeline.StreamProgress{Last: 7, Through: 7}}, nil
}

func (r *recorder) FinanceTrend(_ context.Context, months []string) (finance.Trend, error) {
	r.calls++
	r.months = months
	return finance.Trend{}, nil
}

func (r *recorder) Usage(_ context.Context, tenant string, from, to time.Time) (aggregators.Usage, error) {
	r.calls++
	r.tenant = tenant
	r.from, r.to = from, to
	return aggregators.Usage{Tenant: tenant, From: from, To: to}, nil
}

func (r *recorder) ClosePeriod(_ context.Context, p billing.Period) (billing.CloseResult, error) {
	r.calls++
	r.period = p.String()
	return billing.CloseResult{Period: p.String()}, nil
}

func (r *recorder) Invoices(_ context.Context, tenant, period string) ([]billing.Invoice, error) {
	r.calls++
	r.tenant = tenant
	r.period = period
	return nil, nil
}

func (r *recorder) Unbilled(_ context.Context, p billing.Period) ([]billing.UnbilledItem, error) {
	r.calls++
	r.period = p.String()
	return nil, nil
}

func (r *recorder) FinanceReport(_ context.Context, period string) (finance.Report, error) {
	r.calls++
	r.period = period
	return finance.Report{Period: period}, nil
}

func (r *recorder) Balances(_ context.Context, provider string, asOf time.Time) (payouts.Balances, error) {
	r.calls++
	r.asOf = asOf
	return payouts.Balances{Provider: provider, AsOf: asOf}, nil
}

func (r *recorder) RunPayouts(_ context.Context, asOf time.Time) (payouts.RunResult, error) {
	r.calls++
	r.asOf = asOf
	return payouts.RunResult{AsOf: asOf}, nil
}

func (r *recorder) Payouts(context.Context, string) ([]payouts.Payout, error) {
	r.calls++
	return nil, nil
}

func newFuzzRouter(f testing.TB, rec *recorder) http.Handler {
	f.Helper()
	keys, err := auth.Parse([]byte(`{"keys":[
		{"name":"fin","role":"finance","key":"` + financeKey + `"},
		{"name":"tutor","role":"ingest","key":"` + ingestKey + `"},
		{"name":"acme","role":"provider","provider":"prov_acme","key":"` + providerKey + `"},
		{"name":"t1-portal","role":"tenant","tenant":"t1","key":"` + tenantKey + `"},
		{"name":"t2-portal","role":"tenant","tenant":"t2","key":"` + otherTenantKey + `"}]}`))
	if err != nil {
		f.Fatal(err)
	}
	h, err := api.NewRouter(api.Config{
		Keys:         keys,
		Ingest:       http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }),
		Usage:        rec,
		Billing:      rec,
		Marketplace:  rec,
		Reports:      rec,
		Trends:       rec,
		Entitlements: rec,
		Barrier:      rec,
		Ready:        func(context.Context) error { return nil },
		Metrics:      http.NotFoundHandler(),
		Now:          func() time.Time { return apiNow },
		Logger:       zerolog.Nop(),
	})
	if err != nil {
		f.Fatal(err)
	}
	return h
}

// serve sends one request and checks the shape every answer shares: an
// error answer is JSON with a non-empty "error".
func serve(t *testing.T, h http.Handler, method, target, key string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code >= 400 {
		var body struct{ Error string }
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error == "" {
			t.Fatalf("%s %s: %d with body %q", method, target, w.Code, w.Body)
		}
	}
	return w
}

// periodSyntax is the contract's "YYYY-MM" (years from 2000), written
// independently of the time package.
var periodSyntax = regexp.MustCompile(`^([0-9]{4})-(0[1-9]|1[0-2])$`)

func validPeriod(s string) bool { return monthIndex(s) >= 0 }

// monthIndex is year·12 + month − 1 of a valid period, else −1.
func monthIndex(s string) int {
	m := periodSyntax.FindStringSubmatch(s)
	if m == nil {
		return -1
	}
	y, _ := strconv.Atoi(m[1])
	mo, _ := strconv.Atoi(m[2])
	if y < 2000 {
		return -1
	}
	return y*12 + mo - 1
}

// queryTime is the documented reading of from, to and as_of: an RFC 3339
// time, or a YYYY-MM-DD date meaning midnight UTC.
func queryTime(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), true
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// FuzzQueryParams fuzzes the query and path parameters of the read API
// (from, to, as_of, period) through the real router: an answer is 200 or a
// 4xx with a JSON error; a 200 hands the backend exactly the documented
// value (a valid period printed back as given, a UTC time range that is
// not empty and at most 5 years long, an as_of not in the future for a
// payout run), and a valid value is never refused.
func FuzzQueryParams(f *testing.F) {
	for _, s := range []struct{ from, to, period, asOf string }{
		{"2026-11-01", "2026-12-01", "2026-11", "2026-11-15T00:00:00Z"},
		{"2026-11-01T00:00:00+01:00", "2026-11-01T00:00:00.000000001Z", "2000-01", "2026-11-30"},
		{"", "", "", ""},
		{"2026-12-01", "2026-11-01", "2026-13", "2027-01-01"},
		{"2020-01-01", "2026-01-01", "1999-12", "2026-11-15T12:00:00.000000001Z"},
		{"0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-1", "now"},
		{"2026-11-31", "2026-02-29", "2026-11-01", "2026-11-15T12:00:00+23:59"},
		{"2026-11-01T00:00:00z", "2026-11-01 00:00:00Z", "２０２６-11", " 2026-11-01"},
		{"2026-01-01", "2026-12", "2026-01", ""},
		{"", "2029-12", "2027-01", ""},
		{"", "2029-12", "2027-12", ""},
	} {
		f.Add(s.from, s.to, s.period, s.asOf)
	}
	rec := &recorder{}
	h := newFuzzRouter(f, rec)
	f.Fuzz(func(t *testing.T, from, to, period, asOf string) {
		q := func(kv ...string) string {
			v := url.Values{}
			for i := 0; i < len(kv); i += 2 {
				v.Set(kv[i], kv[i+1])
			}
			return v.Encode()
		}

		// Usage range.
		*rec = recorder{}
		w := serve(t, h, http.MethodGet, "/v1/tenants/t1/usage?"+q("from", from, "to", to), financeKey)
		monthStart := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		wantFrom, okFrom := monthStart, true
		if from != "" {
			wantFrom, okFrom = queryTime(from)
		}
		wantTo, okTo := monthStart.AddDate(0, 1, 0), true
		if to != "" {
			wantTo, okTo = queryTime(to)
		}
		valid := okFrom && okTo && wantFrom.Before(wantTo) && wantTo.Sub(wantFrom) <= 5*366*24*time.Hour
		switch w.Code {
		case http.StatusOK:
			if !valid || rec.calls != 1 || !rec.from.Equal(wantFrom) || !rec.to.Equal(wantTo) ||
				rec.from.Location() != time.UTC || rec.to.Location() != time.UTC {
				t.Fatalf("usage from=%q to=%q: 200 with range [%v, %v)", from, to, rec.from, rec.to)
			}
		case http.StatusBadRequest:
			if valid || rec.calls != 0 {
				t.Fatalf("usage from=%q to=%q: a valid range was refused: %s", from, to, w.Body)
			}
		default:
			t.Fatalf("usage: status %d", w.Code)
		}

		// Period parameters.
		for _, target := range []string{"/v1/reports?", "/v1/unbilled?", "/v1/invoices?"} {
			*rec = recorder{}
			w := serve(t, h, http.MethodGet, target+q("period", period), financeKey)
			ok := validPeriod(period) || target == "/v1/invoices?" && period == ""
			if (w.Code == http.StatusOK) != ok || w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
				t.Fatalf("%speriod=%q: status %d, valid %v", target, period, w.Code, ok)
			}
			if ok && (rec.calls != 1 || rec.period != period) {
				t.Fatalf("%speriod=%q: backend got %q", target, period, rec.period)
			}
		}
		// Trend: from=period, to=to, both YYYY-MM, at most 36 months.
		*rec = recorder{}
		w = serve(t, h, http.MethodGet, "/v1/reports/trend?"+q("from", period, "to", to), financeKey)
		first, last := monthIndex(period), monthIndex(to)
		n := last - first + 1
		if ok := first >= 0 && last >= 0 && n >= 1 && n <= finance.MaxTrendMonths; (w.Code == http.StatusOK) != ok ||
			w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
			t.Fatalf("trend from=%q to=%q: status %d, valid %v", period, to, w.Code, ok)
		}
		if w.Code == http.StatusOK {
			if len(rec.months) != n || rec.months[0] != period || rec.months[n-1] != to {
				t.Fatalf("trend from=%q to=%q: backend got %q", period, to, rec.months)
			}
			for i, m := range rec.months {
				if monthIndex(m) != first+i {
					t.Fatalf("trend from=%q to=%q: months %q not consecutive", period, to, rec.months)
				}
			}
		}

		*rec = recorder{}
		w = serve(t, h, http.MethodPost, "/v1/periods/"+url.PathEscape(period)+"/close", financeKey)
		switch w.Code {
		case http.StatusOK:
			if !validPeriod(period) || rec.period != period {
				t.Fatalf("close %q: closed %q", period, rec.period)
			}
		case http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed:
			if validPeriod(period) || rec.calls != 0 {
				t.Fatalf("close %q: a valid period was refused with %d", period, w.Code)
			}
		default:
			t.Fatalf("close %q: status %d", period, w.Code)
		}

		// as_of of a balance (any time) and of a payout run (not ahead of now).
		wantAsOf, okAsOf := apiNow, true
		if asOf != "" {
			wantAsOf, okAsOf = queryTime(asOf)
		}
		for _, provider := range []bool{false, true} {
			*rec = recorder{}
			key := financeKey
			if provider {
				key = providerKey
			}
			w := serve(t, h, http.MethodGet, "/v1/providers/prov_acme/balance?"+q("as_of", asOf), key)
			if (w.Code == http.StatusOK) != okAsOf || okAsOf && !rec.asOf.Equal(wantAsOf) {
				t.Fatalf("balance as_of=%q: status %d, backend got %v", asOf, w.Code, rec.asOf)
			}
		}
		*rec = recorder{}
		w = serve(t, h, http.MethodPost, "/v1/payouts/run?"+q("as_of", asOf), financeKey)
		switch {
		case !okAsOf:
			if w.Code != http.StatusBadRequest || rec.calls != 0 {
				t.Fatalf("payout run as_of=%q: status %d", asOf, w.Code)
			}
		case wantAsOf.After(apiNow):
			if w.Code != http.StatusConflict || rec.calls != 0 {
				t.Fatalf("payout run as_of=%q (future): status %d", asOf, w.Code)
			}
		default:
			if w.Code != http.StatusOK || !rec.asOf.Equal(wantAsOf) {
				t.Fatalf("payout run as_of=%q: status %d, backend got %v", asOf, w.Code, rec.asOf)
			}
		}
	})
}

// FuzzAuthorization fuzzes the Authorization header: only "Bearer" (any
// case), one space and a listed key (surrounding spaces aside) gets in;
// the key's role decides 200 or 403; anything else is 401 with a
// WWW-Authenticate challenge, and no request without a valid key reaches
// a backend.
func FuzzAuthorization(f *testing.F) {
	for _, h := range []string{
		"Bearer " + financeKey, "bearer " + financeKey, "BEARER  " + financeKey + " ", "Bearer " + ingestKey,
		"Bearer " + providerKey, "Bearer " + tenantKey, "Bearer " + financeKey + "x", "Basic " + financeKey, "Bearer", "Bearer ", "",
		financeKey, "Bearer\t" + financeKey, "Token " + financeKey,
	} {
		f.Add(h)
	}
	rec := &recorder{}
	h := newFuzzRouter(f, rec)
	f.Fuzz(func(t *testing.T, header string) {
		if strings.ContainsAny(header, "\r\n\x00") {
			return // net/http refuses such header values before any handler
		}
		*rec = recorder{}
		req := httptest.NewRequest(http.MethodGet, "/v1/reports?period=2026-10", nil)
		req.Header.Set("Authorization", header)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)

		secret := ""
		if len(header) > len("Bearer ") && strings.EqualFold(header[:len("Bearer ")], "Bearer ") {
			secret = strings.TrimSpace(header[len("Bearer "):])
		}
		switch w.Code {
		case http.StatusOK:
			if secret != financeKey || rec.calls != 1 {
				t.Fatalf("Authorization %q let a request in", header)
			}
		case http.StatusForbidden:
			if secret != ingestKey && secret != providerKey && secret != tenantKey || rec.calls != 0 {
				t.Fatalf("Authorization %q: 403 without a known key of another role", header)
			}
		case http.StatusUnauthorized:
			if secret == financeKey || secret == ingestKey || secret == providerKey || secret == tenantKey || rec.calls != 0 ||
				!strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer ") {
				t.Fatalf("Authorization %q: 401 for a known key, or no challenge", header)
			}
		default:
			t.Fatalf("Authorization %q: status %d", header, w.Code)
		}
	})
}
