package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tally-billing/tally/auth"
	"github.com/tally-billing/tally/schemas"
)

// The month the close and payouts phases bill: it lies wholly in the past,
// before tally was installed, so only a close on request closes it.
var (
	billedMonth = time.Date(2026, time.October, 1, 0, 0, 0, 0, time.UTC)
	billedLabel = "2026-10"
	closePath   = "/v1/periods/" + billedLabel + "/close"
	// payoutAsOf is after the 14-day hold of every October sale.
	payoutAsOf = time.Date(2026, time.November, 20, 0, 0, 0, 0, time.UTC)
)

// Shape of the close phase's month: per tenant, seatEventsPerTenant seat
// events over seatUsers users (learners, then authors), then AI credits.
const (
	seatEventsPerTenant = 100
	seatLearners        = 40
	seatAuthors         = 3
	// volumeChunk is the number of volume rows per INSERT … SELECT.
	volumeChunk = 1_000_000
)

// closePlans are the plans the tenants are spread over, each within its
// seat limits for the seat users above.
var closePlans = []string{"team", "business", "enterprise", "enterprise_plus", "healthcare"}

// closePhase seeds a month of -close-tenants tenants and -close-events
// usage events, then times `POST /v1/periods/2026-10/close`.
//
// The subscriptions go through the HTTP ingest like any event. The usage
// volume is written straight into the events table by INSERT … SELECT in
// ClickHouse, which takes seconds where the pipeline would take minutes:
// this phase measures the close, and the ingest phases measure ingest.
func (b *bench) closePhase(ctx context.Context, tp *tallyProc, res *phaseResult) error {
	tenants, volume := b.cfg.CloseTenants, b.cfg.CloseEvents
	m, err := b.closeSeededMonth(ctx, tp, "close", tenants, volume)
	if err != nil {
		return err
	}
	defer m.st.close()
	res.setRate(volume+tenants, m.took)
	res.SendSeconds = res.Seconds
	res.note("%d tenants, %d invoices; %.0f tenants/s", tenants, m.invoices, float64(tenants)/m.took.Seconds())
	return nil
}

// closedMonth is the billed month, seeded and closed once.
type closedMonth struct {
	st       *store
	finance  string        // the finance key
	took     time.Duration // the close
	invoices uint64
}

// closeSeededMonth seeds the billed month with seedMonth, times its close
// and checks that every tenant got an invoice. The caller must close
// st.
func (b *bench) closeSeededMonth(ctx context.Context, tp *tallyProc, label string, tenants, volume int) (closedMonth, error) {
	st, err := b.seedMonth(ctx, tp, label, tenants, volume)
	if err != nil {
		return closedMonth{}, err
	}
	m, err := b.closeMonth(ctx, tp, label, st, tenants, volume)
	if err != nil {
		st.close()
		return closedMonth{}, err
	}
	return m, nil
}

func (b *bench) closeMonth(ctx context.Context, tp *tallyProc, label string, st *store, tenants, volume int) (closedMonth, error) {
	m := closedMonth{st: st}
	var err error
	if m.finance, err = tp.Key(auth.RoleFinance); err != nil {
		return m, err
	}
	fmt.Fprintf(b.stderr, "%s: closing %s (%d tenants, %d usage events)\n", label, billedLabel, tenants, volume)
	start := time.Now()
	body, err := postFinance(ctx, tp.HTTPAddr, m.finance, closePath)
	m.took = time.Since(start)
	if err != nil {
		return m, err
	}
	if m.invoices, err = st.queryUint(ctx, fmt.Sprintf("SELECT uniqExact(invoice_id) FROM invoices WHERE period = '%s'", billedLabel)); err != nil {
		return m, err
	}
	if m.invoices < uint64(tenants) {
		return m, fmt.Errorf("the close made %d invoices for %d tenants: %s", m.invoices, tenants, body)
	}
	return m, nil
}

// seedMonth seeds the billed month: the subscriptions of tenants tenants
// over HTTP, then volume usage rows written straight into the events
// table. It returns the store once all are stored.
func (b *bench) seedMonth(ctx context.Context, tp *tallyProc, label string, tenants, volume int) (*store, error) {
	subs := make([]event, tenants)
	for i := range subs {
		subs[i] = subscriptionEvent(i)
	}
	st, err := b.seedHTTP(ctx, tp, label+": subscriptions", subs)
	if err != nil {
		return nil, err
	}
	bar := b.newBar(volume, label+": usage rows")
	for lo := 0; lo < volume; lo += volumeChunk {
		n := min(volumeChunk, volume-lo)
		if err := st.conn.Exec(ctx, volumeInsert(lo, n, tenants)); err != nil {
			endBar(bar, err)
			st.close()
			return nil, fmt.Errorf("inserting usage rows %d..%d: %w", lo, lo+n, err)
		}
		_ = bar.Add(n)
	}
	endBar(bar, nil)
	return st, nil
}

// payoutsPhase seeds -providers KYC-verified providers with
// -sales-per-provider sales each in October, then times one payout run.
func (b *bench) payoutsPhase(ctx context.Context, tp *tallyProc, res *phaseResult) error {
	providers, per := b.cfg.Providers, b.cfg.SalesPerProvider
	events := make([]event, 0, providers*(per+1))
	for p := range providers {
		events = append(events, kycEvent(p))
		for s := range per {
			events = append(events, saleEvent(p, s, per))
		}
	}
	st, err := b.seedHTTP(ctx, tp, "payouts: marketplace events", events)
	if err != nil {
		return err
	}
	defer st.close()
	finance, err := tp.Key(auth.RoleFinance)
	if err != nil {
		return err
	}
	fmt.Fprintf(b.stderr, "payouts: running payouts as of %s (%d providers, %d sales)\n",
		payoutAsOf.Format(time.RFC3339), providers, providers*per)
	start := time.Now()
	body, err := postFinance(ctx, tp.HTTPAddr, finance, "/v1/payouts/run?as_of="+payoutAsOf.Format(time.RFC3339))
	elapsed := time.Since(start)
	if err != nil {
		return err
	}
	paid, err := st.queryUint(ctx, "SELECT uniqExact(provider) FROM payouts")
	if err != nil {
		return err
	}
	if paid < uint64(providers) {
		return fmt.Errorf("the payout run paid %d of %d providers: %s", paid, providers, body)
	}
	res.setRate(len(events), elapsed)
	res.SendSeconds = res.Seconds
	res.note("%d providers paid; %.0f providers/s", paid, float64(paid)/elapsed.Seconds())
	return nil
}

// seedHTTP posts events through the HTTP ingest of a fresh tally with a
// progress bar, and returns its store once all of them are stored.
func (b *bench) seedHTTP(ctx context.Context, tp *tallyProc, label string, events []event) (*store, error) {
	h := newHTTPSender(tp.HTTPAddr, tp.ingestKey, b.cfg.HTTPWorkers)
	bar := b.newBar(len(events), label)
	err := h.sendAll(ctx, events, b.cfg.HTTPBatch, b.cfg.HTTPWorkers, func(n int) { _ = bar.Add(n) })
	endBar(bar, err)
	if err != nil {
		return nil, fmt.Errorf("seeding %s: %w", label, err)
	}
	st, err := openStore(ctx, tp.ClickHouseDSN)
	if err != nil {
		return nil, err
	}
	spec := waitSpec{target: uint64(len(events)), interval: 100 * time.Millisecond, stall: b.cfg.Stall}
	if _, err := st.waitStored(ctx, spec); err != nil {
		st.close()
		return nil, err
	}
	return st, nil
}

func tenantName(i int) string { return fmt.Sprintf("close-tenant-%05d", i) }

// subscriptionEvent starts tenant i's subscription on October 1: the plans
// in turn, the three currencies in turn, every fourth one annual.
func subscriptionEvent(i int) event {
	plan := closePlans[i%len(closePlans)]
	currency := []string{"USD", "EUR", "JPY"}[i%3]
	data := fmt.Sprintf(`{"plan":%q,"term":"monthly","currency":%q}`, plan, currency)
	if i%4 == 3 {
		data = fmt.Sprintf(`{"plan":%q,"term":"annual","currency":%q,"committed_seats":{"learner":"%d","author":"%d"}}`,
			plan, currency, seatLearners, seatAuthors)
	}
	return mustEvent(fmt.Sprintf(`{"specversion":"1.0","id":"sub-%d","source":"billing","type":%q,"subject":%q,"time":%q,"data":%s}`,
		i, schemas.TypeSubscriptionStarted, tenantName(i), billedMonth.Format(time.RFC3339), data))
}

func providerName(p int) string { return fmt.Sprintf("close-provider-%05d", p) }

func kycEvent(p int) event {
	d := newData().str("stripe_account", fmt.Sprintf("acct_bench%05d", p))
	return mustEvent(string(envelope("kyc", fmt.Sprintf("kyc-%d", p), schemas.TypeKYCVerified, providerName(p),
		billedMonth.Add(-24*time.Hour), d)))
}

// saleEvent is provider p's s-th October sale of per.
func saleEvent(p, s, per int) event {
	at := billedMonth.Add(time.Duration(s) * (30 * 24 * time.Hour) / time.Duration(per)).Add(time.Duration(p) * time.Second)
	pr := prices[(p+s)%len(prices)]
	d := newData().str("order_id", fmt.Sprintf("bo-%d-%d", p, s)).
		str("buyer_id", fmt.Sprintf("buyer-%d", s)).str("course_id", fmt.Sprintf("course-%d", p)).
		str("gross", pr.gross).str("tax", pr.tax).str("currency", pr.currency)
	return mustEvent(string(envelope("checkout", fmt.Sprintf("bs-%d-%d", p, s), schemas.TypeSaleCompleted, providerName(p), at, d)))
}

// mustEvent decodes a generated event; the generators above make only
// valid ones, so a failure is a bug in tally-bench.
func mustEvent(raw string) event {
	e, err := schemas.Decode([]byte(raw))
	if err != nil {
		panic(fmt.Sprintf("tally-bench generated an invalid event %s: %v", raw, err))
	}
	return event{raw: e.Raw, typ: e.Type}
}

// volumeInsert is an INSERT … SELECT that writes usage rows lo..lo+n-1 of
// the close month into events, with the payload each would have had.
// Row r belongs to tenant r mod tenants; its index k within the tenant
// orders it in time (one slot of 40 minutes each, from October 1). The
// first seatEventsPerTenant rows of a tenant are seat events: users
// 0..42 assigned, then released, then the first ones assigned again, so a
// tenant never holds more seats than its plan allows. The rest are AI
// credits, 0.5 to 96.5 each, over the eight features.
func volumeInsert(lo, n, tenants int) string {
	seatUsers := seatLearners + seatAuthors
	r := strings.NewReplacer(
		"{lo}", strconv.Itoa(lo), "{n}", strconv.Itoa(n), "{tenants}", strconv.Itoa(tenants),
		"{seats}", strconv.Itoa(seatEventsPerTenant), "{users}", strconv.Itoa(seatUsers),
		"{learners}", strconv.Itoa(seatLearners), "{month}", billedMonth.Format("2006-01-02 15:04:05"),
		"{credits}", string(schemas.TypeAICreditsConsumed), "{assigned}", string(schemas.TypeSeatAssigned),
		"{released}", string(schemas.TypeSeatReleased),
	)
	return r.Replace(`
INSERT INTO events (source, id, type, subject, time, content_hash, credits, feature, model, user_id, seat_type, payload, stream_seq)
SELECT source, id, type, subject, time, MD5(payload), credits, feature, model, user_id, seat_type, payload, stream_seq
FROM
(
    SELECT
        number AS r,
        r % {tenants} AS tenant_no,
        intDiv(r, {tenants}) AS k,
        k < {seats} AS is_seat,
        concat('close-tenant-', leftPad(toString(tenant_no), 5, '0')) AS subject,
        concat('bench-', toString(r)) AS id,
        toDateTime64('{month}', 9, 'UTC') + toIntervalSecond(k * 2400 + tenant_no % 600) AS time,
        toString(k % {users}) AS user_no,
        if(is_seat, concat('u-', user_no), concat('u-', toString(r % 50))) AS user_id,
        if(is_seat, if(toUInt64(user_no) < {learners}, 'learner', 'author'), '') AS seat_type,
        if(is_seat, if(intDiv(k, {users}) % 2 = 0, '{assigned}', '{released}'), '{credits}') AS type,
        if(is_seat, 'licences', 'ai-tutor') AS source,
        ['tutor', 'co_author', 'translate', 'tts', 'image', 'insight', 'search', 'other'][r % 8 + 1] AS feature_name,
        if(is_seat, '', feature_name) AS feature,
        if(is_seat, '', 'gpt-4o-mini') AS model,
        toString(r % 97) || '.5' AS credits_text,
        if(is_seat, toDecimal128(0, 9), toDecimal128(credits_text, 9)) AS credits,
        concat('{"specversion":"1.0","id":"', id, '","source":"', source, '","type":"', type,
            '","subject":"', subject, '","time":"', formatDateTime(time, '%Y-%m-%dT%H:%i:%SZ'), '","data":',
            if(is_seat,
                concat('{"user_id":"', user_id, '","seat_type":"', seat_type, '"}'),
                concat('{"credits":"', credits_text, '","feature":"', feature, '","model":"', model, '","user_id":"', user_id, '"}')),
            '}') AS payload,
        1000000000 + r AS stream_seq
    FROM numbers({lo}, {n})
)`)
}

// postFinance POSTs to the API with a finance key and returns the body of
// a 200 answer.
func postFinance(ctx context.Context, addr, key, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	a, err := postAPI(ctx, addr, key, path)
	if err != nil {
		return nil, err
	}
	if a.status != http.StatusOK {
		return nil, fmt.Errorf("POST %s: %d %s: %s", path, a.status, http.StatusText(a.status), a.body)
	}
	if !json.Valid(a.body) {
		return nil, fmt.Errorf("POST %s: the answer is not JSON: %.200s", path, a.body)
	}
	return a.body, nil
}

// apiAnswer is an answer of the API and how long it took, from sending the
// request to reading the whole body.
type apiAnswer struct {
	status int
	body   []byte
	took   time.Duration
}

// postAPI POSTs to the API with key. Any status is an answer; only a
// failed exchange is an error.
func postAPI(ctx context.Context, addr, key, path string) (apiAnswer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, nil)
	if err != nil {
		return apiAnswer{}, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return apiAnswer{}, fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return apiAnswer{}, fmt.Errorf("POST %s: reading the answer: %w", path, err)
	}
	return apiAnswer{status: resp.StatusCode, body: body, took: time.Since(start)}, nil
}
