package chaos

// The load side of the harness: the event generator, the ledger (the
// independent oracle) and the two clients, an HTTP sender and a JetStream
// publisher, that retry with the same event ids until they get an
// acknowledgement and record in the ledger only what was acknowledged.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/pipeline"
	"github.com/tally-billing/tally/schemas"
)

// Event is one generated event and what the oracle needs to know of it.
type Event struct {
	Source, ID, Type, Tenant string
	Time                     time.Time
	Credits                  decimal.Decimal // ai.credits.consumed
	UserID, SeatType         string          // seat.assigned
	Raw                      []byte
}

func (e Event) key() string { return e.Source + "\x00" + e.ID }

// Totals is what the oracle expects of one tenant.
type Totals struct {
	Events  int
	Credits decimal.Decimal
	Seats   map[string]int // seat type → distinct users assigned (the generator never releases)
}

// Ledger records the events that got an acknowledgement (a 202 over HTTP,
// a JetStream ack over NATS). It is the independent count every check is
// made against. Safe for concurrent use.
type Ledger struct {
	mu       sync.Mutex
	accepted map[string]Event
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger { return &Ledger{accepted: map[string]Event{}} }

// Add records acknowledged events; an event acknowledged twice (a retry)
// is one event.
func (l *Ledger) Add(evs ...Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range evs {
		l.accepted[e.key()] = e
	}
}

// Len is the number of distinct acknowledged events.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.accepted)
}

// Has reports whether (source, id) was acknowledged.
func (l *Ledger) Has(source, id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.accepted[source+"\x00"+id]
	return ok
}

// ByTenant sums the acknowledged events per tenant.
func (l *Ledger) ByTenant() map[string]*Totals {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]*Totals{}
	users := map[string]map[string]bool{} // tenant/seat type → users
	for _, e := range l.accepted {
		tt := out[e.Tenant]
		if tt == nil {
			tt = &Totals{Seats: map[string]int{}}
			out[e.Tenant] = tt
		}
		tt.Events++
		switch e.Type {
		case "ai.credits.consumed":
			tt.Credits = tt.Credits.Add(e.Credits)
		case "seat.assigned":
			k := e.Tenant + "/" + e.SeatType
			if users[k] == nil {
				users[k] = map[string]bool{}
			}
			if !users[k][e.UserID] {
				users[k][e.UserID] = true
				tt.Seats[e.SeatType]++
			}
		}
	}
	return out
}

// Keys returns the acknowledged identities.
func (l *Ledger) Keys() map[string]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]bool, len(l.accepted))
	for k := range l.accepted {
		out[k] = true
	}
	return out
}

// Gen generates a deterministic stream of events for a month: mostly
// ai.credits.consumed with 1 to 20,000 thousandths of a credit, and now
// and then a seat.assigned of a new learner (at most MaxSeats per tenant,
// never released, so a tenant's seat peak is its number of assignments).
// Tenant 0 is TeamTenant. Not safe for concurrent use.
type Gen struct {
	rng      *rand.Rand
	tenants  []string
	month    time.Time
	seconds  int64
	seq      int
	seats    map[string]int
	MaxSeats int
}

// TeamTenant is the tenant the tests give a Team subscription.
const TeamTenant = "chaos-team"

var features = []string{"tutor", "co_author", "translate", "tts", "image", "insight", "search", "other"}

// NewGen returns a generator of events for tenants tenants, in the month
// starting at month (UTC).
func NewGen(seed uint64, tenants int, month time.Time) *Gen {
	g := &Gen{
		rng:      rand.New(rand.NewPCG(seed, seed^0x5eed)),
		month:    month,
		seconds:  int64(month.AddDate(0, 1, 0).Sub(month) / time.Second),
		seats:    map[string]int{},
		MaxSeats: 40,
	}
	g.tenants = append(g.tenants, TeamTenant)
	for i := 1; i < tenants; i++ {
		g.tenants = append(g.tenants, fmt.Sprintf("chaos-t%d", i))
	}
	return g
}

// Batch returns the next n events.
func (g *Gen) Batch(n int) []Event {
	out := make([]Event, n)
	for i := range out {
		out[i] = g.next()
	}
	return out
}

func (g *Gen) next() Event {
	g.seq++
	tenant := g.tenants[g.rng.IntN(len(g.tenants))]
	at := g.month.Add(time.Duration(g.rng.Int64N(g.seconds)) * time.Second).Add(time.Duration(g.rng.IntN(1000)) * time.Millisecond)
	if g.seats[tenant] < g.MaxSeats && g.rng.IntN(200) == 0 {
		g.seats[tenant]++
		e := Event{Source: "chaos-seats", ID: fmt.Sprintf("seat-%d", g.seq), Type: "seat.assigned", Tenant: tenant, Time: at,
			UserID: fmt.Sprintf("%s-u%d", tenant, g.seats[tenant]), SeatType: "learner"}
		e.Raw = rawEvent(e, fmt.Sprintf(`{"user_id":%q,"seat_type":%q}`, e.UserID, e.SeatType))
		return e
	}
	e := Event{Source: "chaos-ai", ID: fmt.Sprintf("c-%d", g.seq), Type: "ai.credits.consumed", Tenant: tenant, Time: at,
		Credits: decimal.New(int64(1+g.rng.IntN(20000)), -3)}
	e.Raw = rawEvent(e, fmt.Sprintf(`{"credits":%q,"feature":%q}`, e.Credits.String(), features[g.rng.IntN(len(features))]))
	return e
}

// NewEvent builds an event of any type with data given as JSON (numbers
// as strings, as SPEC §1 requires).
func NewEvent(source, id, typ, tenant string, at time.Time, data string) Event {
	e := Event{Source: source, ID: id, Type: typ, Tenant: tenant, Time: at}
	e.Raw = rawEvent(e, data)
	return e
}

func rawEvent(e Event, data string) []byte {
	return fmt.Appendf(nil, `{"specversion":"1.0","id":%q,"source":%q,"type":%q,"subject":%q,"time":%q,"data":%s}`,
		e.ID, e.Source, e.Type, e.Tenant, e.Time.UTC().Format(time.RFC3339Nano), data)
}

// SendStats counts what a client saw. All fields are updated atomically.
type SendStats struct {
	Attempts        atomic.Int64 // requests or publish rounds
	Accepted        atomic.Int64 // events acknowledged (retries included)
	Unavailable     atomic.Int64 // 503 answers
	RetryAfter      atomic.Int64 // 503 answers carrying a valid Retry-After
	ConnErrors      atomic.Int64 // transport errors (refused, reset, timeout)
	OtherStatus     atomic.Int64 // any other non-202 status (retried)
	PublishFailures atomic.Int64 // NATS: events whose publish or ack failed (retried)
}

func (s *SendStats) String() string {
	return fmt.Sprintf("attempts %d, acked %d, 503 %d (with Retry-After %d), connection errors %d, other statuses %d, publish failures %d",
		s.Attempts.Load(), s.Accepted.Load(), s.Unavailable.Load(), s.RetryAfter.Load(), s.ConnErrors.Load(),
		s.OtherStatus.Load(), s.PublishFailures.Load())
}

// HTTPSender posts batches to POST /v1/events, retrying the same batch (the
// same event ids) on 503, 5xx and connection errors until it gets a 202,
// which it records in the ledger. A 4xx other than 429 is a test failure.
type HTTPSender struct {
	URL    string
	Key    string
	Client *http.Client
	Ledger *Ledger
	Stats  SendStats
	// MaxWait caps the pause before a retry (Retry-After is honoured up to
	// it). Default 2s.
	MaxWait time.Duration
}

// NewHTTPSender returns a sender to the daemon's API with its ingest key.
func NewHTTPSender(p *Tally, ledger *Ledger) *HTTPSender {
	return &HTTPSender{
		URL: p.BaseURL + "/v1/events", Key: p.IngestKey, Ledger: ledger,
		Client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16}},
	}
}

// batchBody is batch as the JSON array POST /v1/events takes.
func batchBody(batch []Event) *bytes.Buffer {
	var body bytes.Buffer
	body.WriteByte('[')
	for i, e := range batch {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(e.Raw)
	}
	body.WriteByte(']')
	return &body
}

// ErrRejected is a batch the server refused for good (a 4xx).
var ErrRejected = errors.New("batch rejected")

// Send delivers batch, retrying until it is acknowledged or ctx ends.
func (s *HTTPSender) Send(ctx context.Context, batch []Event) error {
	body := batchBody(batch)
	maxWait := s.MaxWait
	if maxWait <= 0 {
		maxWait = 2 * time.Second
	}
	backoff := 50 * time.Millisecond
	for {
		s.Stats.Attempts.Add(1)
		status, retryAfter, respBody, err := s.post(ctx, body.Bytes())
		wait := backoff
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.Stats.ConnErrors.Add(1)
		case status == http.StatusAccepted:
			var res pipeline.IngestResult
			if err := json.Unmarshal(respBody, &res); err != nil {
				return fmt.Errorf("decoding 202 body %q: %w", respBody, err)
			}
			if res.Accepted+res.Duplicates != len(batch) {
				return fmt.Errorf("202 for %d events says accepted %d + duplicates %d", len(batch), res.Accepted, res.Duplicates)
			}
			s.Ledger.Add(batch...)
			s.Stats.Accepted.Add(int64(len(batch)))
			return nil
		case status == http.StatusServiceUnavailable:
			s.Stats.Unavailable.Add(1)
			if retryAfter > 0 {
				s.Stats.RetryAfter.Add(1)
				wait = retryAfter
			}
		case status == http.StatusTooManyRequests || status >= 500:
			s.Stats.OtherStatus.Add(1)
		default:
			return fmt.Errorf("%w: status %d: %s", ErrRejected, status, respBody)
		}
		wait = min(wait, maxWait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// post sends one request; retryAfter is 0 when the header is missing or
// not a positive number of seconds.
func (s *HTTPSender) post(ctx context.Context, body []byte) (status int, retryAfter time.Duration, respBody []byte, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return 0, 0, nil, err
	}
	req.Header.Set("Content-Type", pipeline.ContentTypeBatch)
	req.Header.Set("Authorization", "Bearer "+s.Key)
	resp, err := s.Client.Do(req)
	if err != nil {
		return 0, 0, nil, err
	}
	defer resp.Body.Close()
	respBody, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, 0, nil, err
	}
	if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 {
		retryAfter = time.Duration(n) * time.Second
	}
	return resp.StatusCode, retryAfter, respBody, nil
}

// NATSPublisher publishes events straight onto the ingest stream, as an
// emitter service would (pipeline/emitter, `tally emit --nats-url`): a
// JetStream publish on tally.ingest.events with the Nats-Msg-Id of
// pipeline.EventMsgID. Events whose publish or ack fails are published
// again, with the same id, until acknowledged or ctx ends; acknowledged
// ones go to the ledger. The connection reconnects forever.
type NATSPublisher struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	Subject string
	Ledger  *Ledger
	Stats   SendStats
}

// NewNATSPublisher connects to url; the connection is closed when the test
// ends.
func NewNATSPublisher(t *testing.T, url string, ledger *Ledger) *NATSPublisher {
	t.Helper()
	nc, err := nats.Connect(url, nats.Name("tally-chaos"), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond),
		nats.RetryOnFailedConnect(true), nats.ReconnectBufSize(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return &NATSPublisher{nc: nc, js: js, Subject: pipeline.IngestSubjectPrefix + "events", Ledger: ledger}
}

// Publish delivers batch, retrying the unacknowledged events.
func (p *NATSPublisher) Publish(ctx context.Context, batch []Event) error {
	pending := batch
	backoff := 50 * time.Millisecond
	for len(pending) > 0 {
		p.Stats.Attempts.Add(1)
		var failed []Event
		futures := make([]jetstream.PubAckFuture, len(pending))
		for i, e := range pending {
			ev, err := schemas.Decode(e.Raw)
			if err != nil {
				return fmt.Errorf("generated an invalid event %s: %w", e.ID, err)
			}
			m := nats.NewMsg(p.Subject)
			m.Data = e.Raw
			m.Header.Set(jetstream.MsgIDHeader, pipeline.EventMsgID(ev))
			if futures[i], err = p.js.PublishMsgAsync(m); err != nil {
				futures[i] = nil
			}
		}
		timeout := time.After(5 * time.Second)
		for i, f := range futures {
			if f == nil {
				failed = append(failed, pending[i])
				continue
			}
			select {
			case <-f.Ok():
				p.Ledger.Add(pending[i])
				p.Stats.Accepted.Add(1)
			case <-f.Err():
				failed = append(failed, pending[i])
			case <-timeout:
				failed = append(failed, pending[i])
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		p.Stats.PublishFailures.Add(int64(len(failed)))
		pending = failed
		if len(pending) > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
		} else {
			backoff = 50 * time.Millisecond
		}
	}
	return nil
}

// Load is a running load: one generator feeding HTTP senders and NATS
// publishers from a shared queue of batches. Progress() tells how many
// events were handed out; Wait returns the first error.
type Load struct {
	cancel    context.CancelFunc
	handedOut atomic.Int64
	wg        sync.WaitGroup
	mu        sync.Mutex
	err       error
}

// LoadConfig shapes a load.
type LoadConfig struct {
	Events    int // total events
	BatchSize int // events per HTTP request / publish round (default 200)
	// Rate caps the events handed out per second (0: as fast as the
	// clients go), to stretch a load over the faults of a test.
	Rate int
	HTTP []*HTTPSender
	NATS []*NATSPublisher
}

// RunLoad starts the load in the background.
func RunLoad(ctx context.Context, gen *Gen, cfg LoadConfig) *Load {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 200
	}
	ctx, cancel := context.WithCancel(ctx)
	l := &Load{cancel: cancel}
	batches := make(chan []Event, 4)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer close(batches)
		begin := time.Now()
		for sent := 0; sent < cfg.Events; {
			if cfg.Rate > 0 {
				due := begin.Add(time.Duration(sent) * time.Second / time.Duration(cfg.Rate))
				select {
				case <-time.After(time.Until(due)):
				case <-ctx.Done():
					return
				}
			}
			n := min(cfg.BatchSize, cfg.Events-sent)
			b := gen.Batch(n)
			select {
			case batches <- b:
			case <-ctx.Done():
				return
			}
			sent += n
			l.handedOut.Add(int64(n))
		}
	}()
	worker := func(send func(context.Context, []Event) error) {
		defer l.wg.Done()
		for b := range batches {
			if err := send(ctx, b); err != nil {
				l.fail(err)
				return
			}
		}
	}
	for _, s := range cfg.HTTP {
		l.wg.Add(1)
		go worker(s.Send)
	}
	for _, p := range cfg.NATS {
		l.wg.Add(1)
		go worker(p.Publish)
	}
	return l
}

func (l *Load) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = err
	}
	l.cancel() // the others stop too
}

// HandedOut is how many events the generator has handed to the clients.
func (l *Load) HandedOut() int { return int(l.handedOut.Load()) }

// Wait waits for the load to end and returns its first error.
func (l *Load) Wait() error {
	l.wg.Wait()
	l.cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}
