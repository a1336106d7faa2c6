package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/tally-billing/tally/pipeline"
	"github.com/tally-billing/tally/schemas"
)

// event is one synthetic event, ready to send: its exact JSON bytes and the
// JetStream message id Tally derives from it.
type event struct {
	raw   []byte
	msgID string
	typ   schemas.Type
}

// Shape of the synthetic workload.
const (
	numTenants   = 1000
	numProviders = 100
	numUsers     = 50000
	numCourses   = 2000
	// timeSpan is how far back event times go; every time is in the past.
	timeSpan = time.Hour
	// maxJitter makes events arrive slightly out of order, as they do.
	maxJitter = 2 * time.Minute
)

// featureSpec is an AI feature, the service that emits its events and its
// share of the credits events.
type featureSpec struct {
	name, source string
	weight       int
}

var (
	features = []featureSpec{
		{"tutor", "ai-tutor", 40}, {"co_author", "authoring", 18}, {"translate", "authoring", 10},
		{"tts", "media-ai", 8}, {"image", "media-ai", 8}, {"insight", "analytics", 7},
		{"search", "search", 6}, {"other", "ai-tutor", 3},
	}
	models = []string{"gpt-4o", "gpt-4o-mini", "claude-sonnet-4", "llama-3.3-70b", "whisper-large", "sdxl"}
	prices = []struct{ gross, tax, currency string }{
		{"59.00", "9.00", "USD"}, {"59.00", "9.00", "USD"}, {"29.00", "4.35", "USD"},
		{"99.00", "15.00", "USD"}, {"49.00", "7.82", "EUR"},
	}
	packs = []struct{ id, credits, price string }{
		{"pack-1k", "1000", "20.00"}, {"pack-5k", "5000", "90.00"}, {"pack-25k", "25000", "400.00"},
	}
)

// sale remembers a generated sale so that a later refund can point at it.
type sale struct {
	provider, orderID, gross, currency string
	at                                 time.Time
}

// generator builds a realistic mix of valid events: about 80 %
// ai.credits.consumed, 12 % seat changes, 5 % marketplace sales and 3 %
// refunds and credit pack purchases, over ~1,000 tenants (a few large, many
// small) and ~100 providers, with times in the hour before now.
type generator struct {
	rng       *rand.Rand
	tenants   *rand.Zipf
	providers *rand.Zipf
	now       time.Time
	prefix    string
	n         int
	sales     []sale
	featureW  int
}

func newGenerator(seed uint64, now time.Time, prefix string, n int) *generator {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	g := &generator{
		rng:       rng,
		tenants:   rand.NewZipf(rng, 1.1, 8, numTenants-1),
		providers: rand.NewZipf(rng, 1.1, 4, numProviders-1),
		now:       now,
		prefix:    prefix,
		n:         n,
	}
	for _, f := range features {
		g.featureW += f.weight
	}
	return g
}

// generateEvents returns n valid events with unique identities. Every event
// is decoded and time-checked with the schemas package, which also yields
// its message id (pipeline.EventMsgID).
func generateEvents(n int, seed uint64, now time.Time, progress func(int)) ([]event, error) {
	g := newGenerator(seed, now, "b"+strconv.FormatUint(seed%1000, 36), n)
	out := make([]event, n)
	for i := range out {
		raw := g.next(i)
		e, err := schemas.Decode(raw)
		if err == nil {
			err = e.CheckTime(now, schemas.MaxFutureSkew)
		}
		if err != nil {
			return nil, fmt.Errorf("validating generated event %d (%s): %w", i, raw, err)
		}
		out[i] = event{raw: e.Raw, msgID: pipeline.EventMsgID(e), typ: e.Type}
		if progress != nil && (i+1)%10000 == 0 {
			progress(10000)
		}
	}
	return out, nil
}

// next builds the JSON of event i.
func (g *generator) next(i int) []byte {
	id := g.prefix + "-" + strconv.Itoa(i)
	at := g.timeOf(i)
	switch r := g.rng.IntN(100); {
	case r < 80:
		return g.credits(id, at)
	case r < 86:
		return g.seat(id, at, schemas.TypeSeatAssigned)
	case r < 92:
		return g.seat(id, at, schemas.TypeSeatReleased)
	case r < 97:
		return g.sale(id, at)
	case r < 99 && len(g.sales) > 0:
		return g.refund(id, at)
	default:
		return g.pack(id, at)
	}
}

// timeOf spreads events over the last hour in order, with some jitter.
func (g *generator) timeOf(i int) time.Time {
	start := g.now.Add(-timeSpan)
	at := start.Add(time.Duration(float64(timeSpan) * float64(i) / float64(g.n)))
	at = at.Add(-time.Duration(g.rng.Int64N(int64(maxJitter))))
	return clampTime(at, start, g.now.Add(-time.Millisecond))
}

func clampTime(t, lo, hi time.Time) time.Time {
	if t.Before(lo) {
		return lo
	}
	if t.After(hi) {
		return hi
	}
	return t
}

func (g *generator) tenant() string   { return fmt.Sprintf("tenant-%04d", g.tenants.Uint64()+1) }
func (g *generator) provider() string { return fmt.Sprintf("provider-%03d", g.providers.Uint64()+1) }
func (g *generator) user() string     { return fmt.Sprintf("user-%05d", g.rng.IntN(numUsers)) }

func (g *generator) credits(id string, at time.Time) []byte {
	f := g.feature()
	d := newData().str("credits", decimalMilli(g.creditsMilli())).str("feature", f.name)
	if g.rng.IntN(10) < 7 {
		d.str("user_id", g.user())
	}
	if g.rng.IntN(2) == 0 {
		d.str("model", models[g.rng.IntN(len(models))])
	}
	return envelope(f.source, id, schemas.TypeAICreditsConsumed, g.tenant(), at, d)
}

func (g *generator) feature() featureSpec {
	r := g.rng.IntN(g.featureW)
	for _, f := range features {
		if r < f.weight {
			return f
		}
		r -= f.weight
	}
	return features[0]
}

// creditsMilli is a credits amount in thousandths: mostly small, some large.
func (g *generator) creditsMilli() int {
	if g.rng.IntN(20) == 0 {
		return 1 + g.rng.IntN(500_000)
	}
	return 1 + g.rng.IntN(25_000)
}

func (g *generator) seat(id string, at time.Time, t schemas.Type) []byte {
	seat := "learner"
	if g.rng.IntN(8) == 0 {
		seat = "author"
	}
	d := newData().str("user_id", g.user()).str("seat_type", seat)
	return envelope("licences", id, t, g.tenant(), at, d)
}

func (g *generator) sale(id string, at time.Time) []byte {
	p := prices[g.rng.IntN(len(prices))]
	s := sale{provider: g.provider(), orderID: "order-" + id, gross: p.gross, currency: p.currency, at: at}
	g.sales = append(g.sales, s)
	d := newData().str("order_id", s.orderID).
		str("buyer_id", fmt.Sprintf("buyer-%06d", g.rng.IntN(200_000))).
		str("course_id", fmt.Sprintf("course-%04d", g.rng.IntN(numCourses))).
		str("gross", p.gross).str("tax", p.tax).str("currency", p.currency)
	return envelope("marketplace-checkout", id, schemas.TypeSaleCompleted, s.provider, at, d)
}

// refund refunds, in full, an earlier sale, after it happened.
func (g *generator) refund(id string, at time.Time) []byte {
	s := g.sales[g.rng.IntN(len(g.sales))]
	if !at.After(s.at) {
		at = clampTime(s.at.Add(time.Second), s.at, g.now.Add(-time.Millisecond))
	}
	d := newData().str("order_id", s.orderID).str("refund_id", "refund-"+id).
		str("amount", s.gross).str("currency", s.currency)
	return envelope("marketplace-checkout", id, schemas.TypeRefundIssued, s.provider, at, d)
}

func (g *generator) pack(id string, at time.Time) []byte {
	p := packs[g.rng.IntN(len(packs))]
	d := newData().str("pack_id", p.id).str("credits", p.credits).str("price", p.price).str("currency", "USD")
	return envelope("billing-portal", id, schemas.TypeAIPackPurchased, g.tenant(), at, d)
}

// decimalMilli formats thousandths as a decimal string: 12500 → "12.5".
func decimalMilli(m int) string {
	s := strconv.Itoa(m / 1000)
	frac := m % 1000
	if frac == 0 {
		return s
	}
	f := fmt.Sprintf("%03d", frac)
	for f[len(f)-1] == '0' {
		f = f[:len(f)-1]
	}
	return s + "." + f
}

// data builds the data object of an event; every value is a JSON string.
type data struct{ b []byte }

func newData() *data { return &data{b: append(make([]byte, 0, 160), '{')} }

func (d *data) str(name, value string) *data {
	if len(d.b) > 1 {
		d.b = append(d.b, ',')
	}
	d.b = strconv.AppendQuote(d.b, name)
	d.b = append(d.b, ':')
	d.b = strconv.AppendQuote(d.b, value)
	return d
}

// envelope builds a CloudEvents 1.0 structured JSON event (the shape of the
// e2e helper ev). All strings here are printable ASCII, where Go and JSON
// quoting agree.
func envelope(source, id string, t schemas.Type, subject string, at time.Time, d *data) []byte {
	b := make([]byte, 0, 320)
	b = append(b, `{"specversion":"1.0","id":`...)
	b = strconv.AppendQuote(b, id)
	b = append(b, `,"source":`...)
	b = strconv.AppendQuote(b, source)
	b = append(b, `,"type":`...)
	b = strconv.AppendQuote(b, string(t))
	b = append(b, `,"subject":`...)
	b = strconv.AppendQuote(b, subject)
	b = append(b, `,"time":"`...)
	b = at.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	b = append(b, `","data":`...)
	b = append(b, d.b...)
	return append(b, '}', '}')
}
