package chaos

// Stripe through a fault-injecting proxy: `tally run` talks to a real
// stripe-mock through a reverse proxy that, on a seeded share of the write
// calls, times out, answers 429 or 500, resets the connection, or forwards
// the write and then drops the answer (Stripe applied it; Tally never
// hears). The period is closed and payouts run the way an operator would,
// repeating each call until it answers 200; then the proxy's record and
// ClickHouse are checked.

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/internal/stripemock"
)

// Fault kinds the proxy injects.
const (
	faultTimeout = "timeout" // no answer until the client gives up
	fault429     = "429"
	fault500     = "500"
	faultReset   = "reset" // TCP reset before forwarding
	faultLost    = "lost"  // forwarded (applied), then the connection reset
)

var faultKinds = []string{faultTimeout, fault429, fault500, faultReset, faultLost}

// stripeCall is one request the proxy saw.
type stripeCall struct {
	Method, Path, Key string
	Form              url.Values
	Fault             string // empty: forwarded and answered
}

// faultProxy is a reverse proxy in front of stripe-mock that injects faults
// on a share of the POSTs (every write Tally makes: customers, invoices,
// invoice items, finalize, transfers). The first len(faultKinds) POSTs get
// one fault of each kind, in a seeded order, so that every kind happens
// whatever the size; after that each POST is faulted with probability
// share, the kind drawn at random.
//
// Behind the faults it keeps Stripe's idempotency, which stateless
// stripe-mock lacks: the first answer (below 500, not 429) to a POST with
// an Idempotency-Key is kept, and a later POST with that key gets it again
// without reaching stripe-mock, or a 400 idempotency_error when its
// parameters differ, as Stripe answers. So a retry after a lost answer
// sees the object the lost write made, as it would on Stripe.
type faultProxy struct {
	t        *testing.T
	upstream string
	srv      *httptest.Server
	client   *http.Client

	mu     sync.Mutex
	rng    *rand.Rand
	share  float64
	forced []string
	calls  []stripeCall
	counts map[string]int
	// kept holds the first answer to each idempotency key, with its form.
	kept map[string]keptAnswer
}

// keptAnswer is an answer stored under an idempotency key.
type keptAnswer struct {
	form   url.Values
	status int
	header http.Header
	body   []byte
}

func newFaultProxy(t *testing.T, upstream string, seed uint64, share float64) *faultProxy {
	p := &faultProxy{t: t, upstream: upstream, rng: rand.New(rand.NewPCG(seed, 7)), share: share,
		counts: map[string]int{}, kept: map[string]keptAnswer{}, client: &http.Client{Transport: &http.Transport{Proxy: nil}}}
	p.forced = append([]string(nil), faultKinds...)
	p.rng.Shuffle(len(p.forced), func(i, j int) { p.forced[i], p.forced[j] = p.forced[j], p.forced[i] })
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *faultProxy) pick(method string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if method != http.MethodPost {
		return ""
	}
	if len(p.forced) > 0 {
		f := p.forced[0]
		p.forced = p.forced[1:]
		return f
	}
	if p.rng.Float64() < p.share {
		return faultKinds[p.rng.IntN(len(faultKinds))]
	}
	return ""
}

func (p *faultProxy) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	form, _ := url.ParseQuery(string(body))
	c := stripeCall{Method: r.Method, Path: r.URL.Path, Key: r.Header.Get("Idempotency-Key"), Form: form, Fault: p.pick(r.Method)}
	p.mu.Lock()
	p.calls = append(p.calls, c)
	if c.Fault != "" {
		p.counts[c.Fault]++
	}
	p.mu.Unlock()

	switch c.Fault {
	case faultTimeout:
		<-r.Context().Done() // the client's attempt timeout closes the connection
		return
	case fault429:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"error":{"type":"invalid_request_error","code":"rate_limit","message":"Too many requests"}}`)
		return
	case fault500:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"error":{"type":"api_error","message":"Something went wrong on Stripe's end."}}`)
		return
	case faultReset:
		resetConn(w)
		return
	}

	if c.Key != "" && r.Method == http.MethodPost {
		p.mu.Lock()
		k, ok := p.kept[c.Key]
		p.mu.Unlock()
		if ok {
			if !reflect.DeepEqual(k.form, form) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, `{"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters they were first used with."}}`)
				return
			}
			if c.Fault == faultLost {
				resetConn(w)
				return
			}
			writeAnswer(w, k.status, k.header, k.body)
			return
		}
	}

	out, err := http.NewRequestWithContext(context.WithoutCancel(r.Context()), r.Method, p.upstream+r.URL.RequestURI(), strings.NewReader(string(body)))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	for k, v := range r.Header {
		if k != "Accept-Encoding" && k != "Connection" {
			out.Header[k] = v
		}
	}
	resp, err := p.client.Do(out)
	if err != nil {
		p.t.Errorf("proxy: forwarding %s %s: %v", r.Method, r.URL.Path, err)
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	respBody, _ := io.ReadAll(resp.Body)
	if c.Key != "" && r.Method == http.MethodPost && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
		p.mu.Lock()
		if _, ok := p.kept[c.Key]; !ok {
			p.kept[c.Key] = keptAnswer{form: form, status: resp.StatusCode, header: resp.Header.Clone(), body: respBody}
		}
		p.mu.Unlock()
	}
	if c.Fault == faultLost {
		resetConn(w) // stripe-mock applied it; the answer is lost
		return
	}
	writeAnswer(w, resp.StatusCode, resp.Header, respBody)
}

func writeAnswer(w http.ResponseWriter, status int, header http.Header, body []byte) {
	for k, v := range header {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// resetConn drops the client's connection with a TCP reset.
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("proxy: response writer cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

func (p *faultProxy) snapshot() ([]stripeCall, map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	counts := map[string]int{}
	for k, v := range p.counts {
		counts[k] = v
	}
	return append([]stripeCall(nil), p.calls...), counts
}

// creatingIdentity names the Tally object a creating POST stands for, from
// the metadata stripesync puts on it; "" for other calls.
func creatingIdentity(c stripeCall) (kind, id string) {
	if c.Method != http.MethodPost {
		return "", ""
	}
	meta := func(k string) string { return c.Form.Get("metadata[" + k + "]") }
	switch c.Path {
	case "/v1/customers":
		return "customer", meta("tally_tenant")
	case "/v1/invoices":
		return "invoice", meta("tally_invoice_id")
	case "/v1/invoiceitems":
		return "item", meta("tally_invoice_id") + "/" + meta("tally_line_id")
	case "/v1/transfers":
		return "transfer", meta("tally_payout_id")
	}
	if strings.HasPrefix(c.Path, "/v1/invoices/") && strings.HasSuffix(c.Path, "/finalize") {
		return "finalize", c.Path
	}
	return "", ""
}

// TestStripeFaults seeds a month for several Team tenants and several
// KYC-verified providers, closes it and runs payouts through the faulting
// proxy, and checks: every creating call for one Tally object carried one
// and the same Idempotency-Key (and the same parameters) however often it
// was retried, keys differ between objects, every invoice ended sent and
// every payout paid with their Stripe ids recorded, the amounts equal
// SPEC's rules worked by hand, and Tally logged the retries.
func TestStripeFaults(t *testing.T) {
	scale := min(max(chaosEvents(t)/3000, 6), 100) // 6 in CI, 100 under make chaos
	tenants := envInt(t, "TALLY_CHAOS_STRIPE_TENANTS", scale)
	providers := envInt(t, "TALLY_CHAOS_STRIPE_PROVIDERS", scale*2/3)
	sharePct := envInt(t, "TALLY_CHAOS_STRIPE_FAULT_PCT", 30)
	s := seed(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute+time.Duration(tenants+providers)*10*time.Second)
	defer cancel()
	month := lastMonth()
	period := month.Format("2006-01")
	asOf := month.AddDate(0, 1, 0)

	sm, err := stripemock.Start(ctx)
	if err != nil {
		t.Fatalf("starting stripe-mock: %v", err)
	}
	t.Cleanup(sm.Stop)
	proxy := newFaultProxy(t, sm.URL, s, float64(sharePct)/100)
	p := StartTally(t, TallyConfig{Args: []string{"--stripe-key", "sk_test_x", "--stripe-api-base", proxy.srv.URL,
		"--stripe-attempt-timeout", "2s"}})

	// The month: tenant i is on Team (monthly, USD) from the first instant
	// and consumes 4 + i%3 events of 1,500.250 credits each. Provider j is
	// verified at the start and sells 1 + j%3 courses of 100.00 (no tax)
	// and one of 59.00 with 9.00 tax, all before the 11th.
	ledger := NewLedger()
	hs := NewHTTPSender(p, ledger)
	var evs []Event
	wantInvoice := map[string]decimal.Decimal{} // tenant → total
	wantOverage := map[string]decimal.Decimal{}
	perCredit := decimal.RequireFromString("1500.250")
	for i := range tenants {
		tenant := fmt.Sprintf("stripe-t%d", i)
		evs = append(evs, NewEvent("chaos-billing", tenant+"-start", "subscription.started", tenant, month,
			`{"plan":"team","term":"monthly","currency":"USD"}`))
		n := 4 + i%3
		for k := range n {
			evs = append(evs, NewEvent("chaos-ai", fmt.Sprintf("%s-c%d", tenant, k), "ai.credits.consumed", tenant,
				month.Add(time.Duration(k+1)*time.Hour), fmt.Sprintf(`{"credits":%q,"feature":"tutor"}`, perCredit.String())))
		}
		// Team: base 199.00; 5,000 credits included, then 0.018 each,
		// rounded half-to-even to cents.
		over := perCredit.Mul(decimal.NewFromInt(int64(n))).Sub(decimal.NewFromInt(5000))
		if over.IsNegative() {
			over = decimal.Zero
		}
		wantOverage[tenant] = over.Mul(decimal.RequireFromString("0.018")).RoundBank(2)
		wantInvoice[tenant] = decimal.RequireFromString("199.00").Add(wantOverage[tenant])
	}
	wantPayout := map[string]decimal.Decimal{} // provider → amount
	for j := range providers {
		prov := fmt.Sprintf("stripe-p%d", j)
		evs = append(evs, NewEvent("kyc", prov+"-kyc", "provider.kyc.verified", prov, month,
			fmt.Sprintf(`{"stripe_account":"acct_%s"}`, strings.ReplaceAll(prov, "-", ""))))
		sale := func(id, gross, tax string, day int) Event {
			return NewEvent("checkout", id, "marketplace.sale.completed", prov, month.AddDate(0, 0, day).Add(time.Hour),
				fmt.Sprintf(`{"order_id":%q,"buyer_id":"b1","course_id":"c1","gross":%q,"tax":%q,"currency":"USD"}`, id, gross, tax))
		}
		n := 1 + j%3
		for k := range n {
			evs = append(evs, sale(fmt.Sprintf("%s-o%d", prov, k), "100.00", "0", k+1)) // net 100.00, fee 15.00, share 85.00
		}
		evs = append(evs, sale(prov+"-tax", "59.00", "9.00", 9)) // net 50.00, fee 7.50, share 42.50
		wantPayout[prov] = decimal.RequireFromString("85.00").Mul(decimal.NewFromInt(int64(n))).Add(decimal.RequireFromString("42.50"))
	}
	if err := hs.Send(ctx, evs); err != nil {
		t.Fatal(err)
	}
	WaitDrained(t, ctx, p.NATSURL())

	// The operator repeats each call until it answers 200.
	repeat := func(path string) []byte {
		for attempt := 1; ; attempt++ {
			status, body, err := p.API(ctx, http.MethodPost, path, p.FinanceKey)
			if err == nil && status == http.StatusOK {
				t.Logf("POST %s: 200 after %d calls", path, attempt)
				return body
			}
			t.Logf("POST %s, call %d: status %d, %v: %.300s", path, attempt, status, err, body)
			if ctx.Err() != nil {
				t.Fatalf("POST %s never answered 200", path)
			}
			time.Sleep(time.Second)
		}
	}
	repeat("/v1/periods/" + period + "/close")
	repeat("/v1/payouts/run?as_of=" + asOf.Format(time.RFC3339))

	calls, counts := proxy.snapshot()
	t.Logf("proxy: %d calls, faults injected %v", len(calls), counts)
	for _, k := range faultKinds {
		if counts[k] == 0 {
			t.Errorf("no %s fault injected", k)
		}
	}

	// One key per Tally object, one object per key, same parameters on
	// every retry.
	keysOf := map[string]map[string]bool{} // kind/id → keys
	objectOf := map[string]string{}        // key → kind/id
	formOf := map[string]url.Values{}      // key → first parameters
	perKind := map[string]int{}
	for _, c := range calls {
		kind, id := creatingIdentity(c)
		if kind == "" {
			continue
		}
		obj := kind + "/" + id
		if id == "" || strings.HasSuffix(id, "/") {
			t.Errorf("%s %s without the Tally id in its metadata: %v", c.Method, c.Path, c.Form)
			continue
		}
		if c.Key == "" {
			t.Errorf("%s %s for %s without an Idempotency-Key", c.Method, c.Path, obj)
			continue
		}
		if keysOf[obj] == nil {
			keysOf[obj] = map[string]bool{}
			perKind[kind]++
		}
		keysOf[obj][c.Key] = true
		if prev, ok := objectOf[c.Key]; ok && prev != obj {
			t.Errorf("key %s used for %s and %s", c.Key, prev, obj)
		}
		objectOf[c.Key] = obj
		if f, ok := formOf[c.Key]; ok && !reflect.DeepEqual(f, c.Form) {
			t.Errorf("key %s sent with different parameters: %v and %v", c.Key, f, c.Form)
		} else if !ok {
			formOf[c.Key] = c.Form
		}
	}
	for obj, keys := range keysOf {
		if len(keys) != 1 {
			t.Errorf("%s created under %d idempotency keys: %v", obj, len(keys), keys)
		}
	}
	t.Logf("creating calls per kind of object (distinct objects): %v", perKind)

	// ClickHouse: every invoice sent, every payout paid, with Stripe ids,
	// and the amounts worked by hand.
	ch := OpenClickHouse(t, p.ClickHouseDSN())
	rows, err := ch.Query(ctx, `SELECT invoice_id, tenant, status, stripe_customer_id, stripe_invoice_id, toString(total)
		FROM invoices FINAL WHERE period = ?`, period)
	if err != nil {
		t.Fatal(err)
	}
	seenTenants := map[string]bool{}
	for rows.Next() {
		var id, tenant, status, cust, sinv, total string
		if err := rows.Scan(&id, &tenant, &status, &cust, &sinv, &total); err != nil {
			t.Fatal(err)
		}
		seenTenants[tenant] = true
		if status != "sent" || cust == "" || sinv == "" {
			t.Errorf("invoice %s of %s: status %s, customer %q, stripe invoice %q; want sent with both ids", id, tenant, status, cust, sinv)
		}
		if len(keysOf["invoice/"+id]) != 1 {
			t.Errorf("invoice %s: creating keys %v, want one", id, keysOf["invoice/"+id])
		}
		if want, ok := wantInvoice[tenant]; !ok {
			t.Errorf("invoice %s for unexpected tenant %s", id, tenant)
		} else if got := decimal.RequireFromString(total); !got.Equal(want) {
			t.Errorf("invoice of %s: total %s, want %s (199.00 + overage %s)", tenant, got, want, wantOverage[tenant])
		}
	}
	rows.Close()
	if len(seenTenants) != tenants {
		t.Errorf("invoices of %d tenants stored, want %d", len(seenTenants), tenants)
	}
	if perKind["invoice"] != tenants || perKind["customer"] != tenants {
		t.Errorf("proxy saw %d invoices and %d customers created, want %d each", perKind["invoice"], perKind["customer"], tenants)
	}

	prow, err := ch.Query(ctx, `SELECT payout_id, provider, toString(amount), status, stripe_transfer_id FROM payouts FINAL`)
	if err != nil {
		t.Fatal(err)
	}
	paid := map[string]bool{}
	for prow.Next() {
		var id, prov, amount, status, tr string
		if err := prow.Scan(&id, &prov, &amount, &status, &tr); err != nil {
			t.Fatal(err)
		}
		paid[prov] = true
		if status != "paid" || tr == "" {
			t.Errorf("payout %s of %s: status %s, transfer %q; want paid with a transfer id", id, prov, status, tr)
		}
		if len(keysOf["transfer/"+id]) != 1 {
			t.Errorf("payout %s: transfer keys %v, want one", id, keysOf["transfer/"+id])
		}
		if want, ok := wantPayout[prov]; !ok {
			t.Errorf("payout %s to unexpected provider %s", id, prov)
		} else if got := decimal.RequireFromString(amount); !got.Equal(want) {
			t.Errorf("payout of %s: %s, want %s", prov, got, want)
		}
	}
	prow.Close()
	if len(paid) != providers || perKind["transfer"] != providers {
		t.Errorf("%d providers paid, %d transfers created at the proxy; want %d", len(paid), perKind["transfer"], providers)
	}
	t0, p0 := "stripe-t0", "stripe-p0"
	t.Logf("hand-worked: %s invoice %s (overage %s); %s payout %s", t0, wantInvoice[t0], wantOverage[t0], p0, wantPayout[p0])

	// Tally logged its retries.
	retries := countLogLines(t, p, "stripe request failed, retrying")
	t.Logf("tally logged %d stripe retries", retries)
	if retries == 0 {
		t.Error("no retry logged, yet faults were injected")
	}
}

// countLogLines counts the daemon's log lines (all its runs) holding s.
func countLogLines(t *testing.T, p *Tally, s string) int {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(p.logDir, "*.log"))
	sort.Strings(files)
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n += strings.Count(string(data), s)
	}
	return n
}
