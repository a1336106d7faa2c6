package chaos

// The checking side of the harness: ClickHouse queries, the drain wait and
// the exactly-once, usage and invoice checks against the ledger.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/daemon"
	"github.com/tally-billing/tally/pipeline"
)

// OpenClickHouse opens a clickhouse-go connection to dsn, closed when the
// test ends.
func OpenClickHouse(t *testing.T, dsn string) driver.Conn {
	t.Helper()
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// QueryUint64 runs a query returning one UInt64.
func QueryUint64(ctx context.Context, ch driver.Conn, query string, args ...any) (uint64, error) {
	var n uint64
	err := ch.QueryRow(ctx, query, args...).Scan(&n)
	return n, err
}

// mustUint64 is QueryUint64 that fails the test on an error.
func mustUint64(t *testing.T, ctx context.Context, ch driver.Conn, query string, args ...any) uint64 {
	t.Helper()
	n, err := QueryUint64(ctx, ch, query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// WaitDrained waits until Tally's durable consumers (validator, sink,
// dead letters) have no message pending or unacknowledged, checked twice
// in a row a second apart.
func WaitDrained(t *testing.T, ctx context.Context, natsURL string) {
	t.Helper()
	nc, err := nats.Connect(natsURL, nats.Name("tally-chaos-drain"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	consumers := []struct{ stream, durable string }{
		{pipeline.IngestStream, daemon.ValidatorConsumer},
		{pipeline.EventsStream, daemon.SinkConsumer},
		{pipeline.DeadLetterStream, daemon.DeadLetterConsumer},
	}
	idle := 0
	var last string
	for idle < 2 {
		busy := false
		var state []string
		for _, c := range consumers {
			info, err := js.Consumer(ctx, c.stream, c.durable)
			if err == nil {
				var ci *jetstream.ConsumerInfo
				if ci, err = info.Info(ctx); err == nil {
					state = append(state, fmt.Sprintf("%s pending %d ack-pending %d", c.durable, ci.NumPending, ci.NumAckPending))
					busy = busy || ci.NumPending > 0 || ci.NumAckPending > 0
				}
			}
			if err != nil {
				state = append(state, fmt.Sprintf("%s: %v", c.durable, err))
				busy = true
			}
		}
		last = strings.Join(state, "; ")
		if busy {
			idle = 0
		} else {
			idle++
		}
		select {
		case <-ctx.Done():
			t.Fatalf("consumers not drained: %v (%s)", ctx.Err(), last)
		case <-time.After(time.Second):
		}
	}
	t.Logf("drained: %s", last)
}

// CheckStored checks that ClickHouse holds every acknowledged event exactly
// once and nothing else: count(), count() FINAL and uniqExact(source, id)
// of the events table all equal the ledger, the identities are the
// ledger's, per-tenant counts and credit sums match, and no dead letter was
// recorded. The load must have finished (every handed-out event
// acknowledged) and the consumers drained.
func CheckStored(t *testing.T, ctx context.Context, ch driver.Conn, ledger *Ledger) {
	t.Helper()
	want := uint64(ledger.Len())
	rows := mustUint64(t, ctx, ch, "SELECT count() FROM events")
	final := mustUint64(t, ctx, ch, "SELECT count() FROM events FINAL")
	uniq := mustUint64(t, ctx, ch, "SELECT uniqExact(source, id) FROM events")
	t.Logf("stored: count() %d, count() FINAL %d, uniqExact(source, id) %d; acknowledged %d", rows, final, uniq, want)
	if rows != want || final != want || uniq != want {
		t.Errorf("exactly once: count() %d, count() FINAL %d, uniqExact %d; want %d each", rows, final, uniq, want)
	}

	keys := ledger.Keys()
	r, err := ch.Query(ctx, "SELECT source, id FROM events")
	if err != nil {
		t.Fatal(err)
	}
	extra, seen := 0, map[string]bool{}
	for r.Next() {
		var source, id string
		if err := r.Scan(&source, &id); err != nil {
			t.Fatal(err)
		}
		k := source + "\x00" + id
		if !keys[k] && extra < 5 {
			t.Errorf("stored but never acknowledged: %s/%s", source, id)
		}
		if !keys[k] {
			extra++
		}
		seen[k] = true
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	missing := 0
	for k := range keys {
		if !seen[k] {
			if missing < 5 {
				t.Errorf("acknowledged but not stored (lost): %q", k)
			}
			missing++
		}
	}
	if missing > 0 || extra > 0 {
		t.Errorf("%d acknowledged events lost, %d stored events never acknowledged", missing, extra)
	}

	byTenant := ledger.ByTenant()
	tr, err := ch.Query(ctx, "SELECT subject, count(), toString(sum(credits)) FROM events FINAL GROUP BY subject")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for tr.Next() {
		var subject, credits string
		var n uint64
		if err := tr.Scan(&subject, &n, &credits); err != nil {
			t.Fatal(err)
		}
		got[subject] = true
		w := byTenant[subject]
		if w == nil {
			t.Errorf("tenant %s stored, never sent", subject)
			continue
		}
		c, err := decimal.NewFromString(credits)
		if err != nil {
			t.Fatal(err)
		}
		if n != uint64(w.Events) || !c.Equal(w.Credits) {
			t.Errorf("tenant %s: %d events, %s credits stored; want %d and %s", subject, n, c, w.Events, w.Credits)
		}
	}
	if err := tr.Err(); err != nil {
		t.Fatal(err)
	}
	tr.Close()
	for tenant := range byTenant {
		if !got[tenant] {
			t.Errorf("tenant %s: nothing stored", tenant)
		}
	}
	if dl := mustUint64(t, ctx, ch, "SELECT count() FROM dead_letters"); dl != 0 {
		t.Errorf("%d dead letters; the load sends only valid, never conflicting events", dl)
	}
}

// API sends a request to the daemon with key and returns status and body.
func (p *Tally) API(ctx context.Context, method, path, key string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, p.BaseURL+path, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{Proxy: nil}}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// mustAPI is API that requires status want and decodes the body into out.
func (p *Tally) mustAPI(t *testing.T, ctx context.Context, method, path string, want int, out any) {
	t.Helper()
	status, body, err := p.API(ctx, method, path, p.FinanceKey)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, body)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s %s: decoding %s: %v", method, path, body, err)
		}
	}
}

// CheckUsage reads GET /v1/tenants/{t}/usage for [from, to) of every tenant
// in the ledger and compares AI credits and learner seat peaks.
func CheckUsage(t *testing.T, ctx context.Context, p *Tally, ledger *Ledger, from, to string) {
	t.Helper()
	for tenant, w := range ledger.ByTenant() {
		var u struct {
			AICredits struct {
				Total decimal.Decimal `json:"total"`
			} `json:"ai_credits"`
			Seats map[string]struct {
				Peak int `json:"peak"`
			} `json:"seats"`
		}
		p.mustAPI(t, ctx, http.MethodGet, "/v1/tenants/"+tenant+"/usage?from="+from+"&to="+to, http.StatusOK, &u)
		if !u.AICredits.Total.Equal(w.Credits) {
			t.Errorf("usage of %s: AI credits %s, want %s", tenant, u.AICredits.Total, w.Credits)
		}
		if got := u.Seats["learner"].Peak; got != w.Seats["learner"] {
			t.Errorf("usage of %s: learner peak %d, want %d", tenant, got, w.Seats["learner"])
		}
	}
}

// invoice is the part of GET /v1/invoices the checks read.
type invoice struct {
	Tenant   string          `json:"tenant"`
	Period   string          `json:"period"`
	Kind     string          `json:"kind"`
	Currency string          `json:"currency"`
	Total    decimal.Decimal `json:"total"`
	Lines    []struct {
		Kind     string          `json:"kind"`
		Item     string          `json:"item"`
		Quantity decimal.Decimal `json:"quantity"`
		Amount   decimal.Decimal `json:"amount"`
		Flags    []string        `json:"flags"`
	} `json:"lines"`
}

// teamStartEvent is the subscription of TeamTenant: Team, monthly, USD,
// from the first instant of month.
func teamStartEvent(month time.Time) Event {
	return NewEvent("chaos-billing", "team-start", "subscription.started", TeamTenant, month,
		`{"plan":"team","term":"monthly","currency":"USD"}`)
}

// CheckTeamInvoice closes the month and checks TeamTenant's invoice against
// SPEC §2/§3 worked by hand from the ledger: Team, monthly, subscribed the
// whole month, so base 199.00 (not prorated); learners: peak × 4.00 (none
// included); AI overage: (credits − 5,000 included) × 0.018, floored at 0;
// each line rounded half-to-even to cents; total = sum of the lines.
func CheckTeamInvoice(t *testing.T, ctx context.Context, p *Tally, ledger *Ledger, month time.Time) {
	t.Helper()
	period := month.Format("2006-01")
	w := ledger.ByTenant()[TeamTenant]
	if w == nil {
		t.Fatalf("no events of %s acknowledged", TeamTenant)
	}
	base := decimal.RequireFromString("199.00")
	learners := decimal.NewFromInt(int64(w.Seats["learner"])).Mul(decimal.RequireFromString("4.00")).RoundBank(2)
	over := w.Credits.Sub(decimal.NewFromInt(5000))
	if over.IsNegative() {
		over = decimal.Zero
	}
	overage := over.Mul(decimal.RequireFromString("0.018")).RoundBank(2)
	total := base.Add(learners).Add(overage)

	p.mustAPI(t, ctx, http.MethodPost, "/v1/periods/"+period+"/close", http.StatusOK, nil)
	var res struct {
		Invoices []invoice `json:"invoices"`
	}
	p.mustAPI(t, ctx, http.MethodGet, "/v1/invoices?tenant="+TeamTenant+"&period="+period, http.StatusOK, &res)
	if len(res.Invoices) != 1 {
		t.Fatalf("%s invoices of %s: %d, want 1: %+v", period, TeamTenant, len(res.Invoices), res.Invoices)
	}
	inv := res.Invoices[0]
	t.Logf("invoice of %s for %s: total %s %s (want %s: base %s, %d learners %s, %s credits → overage %s)",
		TeamTenant, period, inv.Total, inv.Currency, total, base, w.Seats["learner"], learners, w.Credits, overage)
	lines := map[string]decimal.Decimal{}
	for _, l := range inv.Lines {
		lines[l.Item] = lines[l.Item].Add(l.Amount)
	}
	for item, want := range map[string]decimal.Decimal{"base:team": base, "seats:learner": learners, "ai_overage": overage} {
		if !lines[item].Equal(want) {
			t.Errorf("invoice line %s: %s, want %s", item, lines[item], want)
		}
	}
	if !inv.Total.Equal(total) || inv.Currency != "USD" {
		t.Errorf("invoice total %s %s, want %s USD", inv.Total, inv.Currency, total)
	}
}

// MetricLines returns the lines of GET /metrics that start with prefix
// (for logging what the daemon saw of a fault).
func (p *Tally) MetricLines(ctx context.Context, prefix string) []string {
	status, body, err := p.API(ctx, http.MethodGet, "/metrics", "")
	if err != nil || status != http.StatusOK {
		return []string{fmt.Sprintf("metrics: status %d, %v", status, err)}
	}
	var out []string
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}
