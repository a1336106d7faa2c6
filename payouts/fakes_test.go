package payouts

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tally-billing/tally/aggregators/marketplace"
	"github.com/tally-billing/tally/internal/moneytest"
	"github.com/tally-billing/tally/schemas"
)

// In-memory fakes of the service's ports. Each keeps what it was asked, so
// a test can check the order of effects, and can be told to fail.

var (
	d   = moneytest.D
	ts  = moneytest.TS
	usd = moneytest.Cur("USD")
)

// errDown is what a failing fake answers.
var errDown = errors.New("down")

// fakeEvent is a stored event with the columns the fake filters on.
type fakeEvent struct {
	schemas.StoredEvent
	subject, order string
	typ            schemas.Type
	at             time.Time
}

// fakeEvents is the event source: events in (time, seq) order.
type fakeEvents struct {
	mu     sync.Mutex
	events []fakeEvent
	err    error // answered by every read when set
	reads  []string
}

// add stores e as the store would read it back (encoded and decoded: a
// valid event) with the next sequence number; it returns it.
func (f *fakeEvents) add(t testing.TB, e *schemas.Event) uint64 {
	t.Helper()
	raw, err := schemas.Encode(e)
	if err != nil {
		t.Fatalf("encoding %s: %v", e.ID, err)
	}
	stored, err := schemas.Decode(raw)
	if err != nil {
		t.Fatalf("decoding %s: %v", e.ID, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	seq := uint64(len(f.events) + 1)
	fe := fakeEvent{StoredEvent: schemas.StoredEvent{Seq: seq, Event: stored}, subject: e.Subject, typ: e.Type, at: e.Time.UTC()}
	switch p := e.Data.(type) {
	case *schemas.SaleCompleted:
		fe.order = p.OrderID
	case *schemas.RefundIssued:
		fe.order = p.OrderID
	}
	f.events = append(f.events, fe)
	slices.SortStableFunc(f.events, func(a, b fakeEvent) int { return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.Seq, b.Seq)) })
	return seq
}

// addStored stores e as it is, whatever its type (to feed the service bad
// records).
func (f *fakeEvents) addStored(e *schemas.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, fakeEvent{StoredEvent: schemas.StoredEvent{Seq: uint64(len(f.events) + 1), Event: e}, at: e.Time})
}

func (f *fakeEvents) MarketplaceEvents(_ context.Context, end time.Time) ([]schemas.StoredEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads = append(f.reads, "all")
	if f.err != nil {
		return nil, f.err
	}
	var out []schemas.StoredEvent
	for _, e := range f.events {
		if !e.at.After(end) {
			out = append(out, e.StoredEvent)
		}
	}
	return out, nil
}

// ProviderEvents follows the port's contract, written again here: the
// provider's events, and the sales of others with one of its order ids.
func (f *fakeEvents) ProviderEvents(_ context.Context, provider string, end time.Time) ([]schemas.StoredEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads = append(f.reads, "provider "+provider)
	if f.err != nil {
		return nil, f.err
	}
	orders := map[string]bool{}
	for _, e := range f.events {
		if e.subject == provider && e.order != "" && !e.at.After(end) {
			orders[e.order] = true
		}
	}
	var out []schemas.StoredEvent
	for _, e := range f.events {
		mine := e.subject == provider
		claims := e.typ == schemas.TypeSaleCompleted && orders[e.order]
		if (mine || claims) && !e.at.After(end) {
			out = append(out, e.StoredEvent)
		}
	}
	return out, nil
}

// fakeStore keeps payouts, runs and the ledger in memory. failOn makes
// the named method answer errDown: at its failCall-th call only, or at
// every call when failCall is 0.
type fakeStore struct {
	mu       sync.Mutex
	payouts  map[string]Payout
	runs     map[time.Time]time.Time
	runSizes map[time.Time]int
	ledger   []marketplace.Entry
	calls    []string
	counts   map[string]int
	failOn   string
	failCall int
}

func newFakeStore() *fakeStore {
	return &fakeStore{payouts: map[string]Payout{}, runs: map[time.Time]time.Time{}, runSizes: map[time.Time]int{}, counts: map[string]int{}}
}

// call records method and says whether it must fail.
func (f *fakeStore) call(method string) error {
	f.calls = append(f.calls, method)
	f.counts[method]++
	if f.failOn != method || (f.failCall != 0 && f.failCall != f.counts[method]) {
		return nil
	}
	return fmt.Errorf("%s: %w", method, errDown)
}

// fail makes the n-th call of method fail from now on (every call when n
// is 0).
func (f *fakeStore) fail(method string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failOn, f.failCall = method, 0
	if n > 0 {
		f.failCall = f.counts[method] + n
	}
}

// count returns how many times method was called.
func (f *fakeStore) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[method]
}

func (f *fakeStore) Payouts(_ context.Context, provider string) ([]Payout, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("Payouts"); err != nil {
		return nil, err
	}
	var out []Payout
	for _, p := range f.payouts {
		if provider == "" || p.Provider == provider {
			p.Statement = slices.Clone(p.Statement)
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b Payout) int {
		return cmp.Or(a.AsOf.Compare(b.AsOf), strings.Compare(a.Provider, b.Provider), strings.Compare(a.Currency, b.Currency))
	})
	return out, nil
}

func (f *fakeStore) SavePayouts(_ context.Context, ps []Payout) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("SavePayouts"); err != nil {
		return err
	}
	for _, p := range ps {
		f.payouts[p.ID] = p
	}
	return nil
}

func (f *fakeStore) UpdatePayoutStatuses(_ context.Context, ps []Payout) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("UpdatePayoutStatuses"); err != nil {
		return err
	}
	for _, p := range ps {
		if _, ok := f.payouts[p.ID]; !ok {
			return fmt.Errorf("updating unknown payout %s", p.ID)
		}
		f.payouts[p.ID] = p
	}
	return nil
}

func (f *fakeStore) PayoutRun(_ context.Context, asOf time.Time) (time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("PayoutRun"); err != nil {
		return time.Time{}, err
	}
	return f.runs[asOf], nil
}

func (f *fakeStore) RecordPayoutRun(_ context.Context, asOf, at time.Time, n int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("RecordPayoutRun"); err != nil {
		return err
	}
	if _, ok := f.runs[asOf]; !ok {
		f.runs[asOf], f.runSizes[asOf] = at, n
	}
	return nil
}

func (f *fakeStore) LedgerEntries(context.Context) ([]marketplace.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("LedgerEntries"); err != nil {
		return nil, err
	}
	return slices.Clone(f.ledger), nil
}

func (f *fakeStore) AppendLedger(_ context.Context, entries []marketplace.Entry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("AppendLedger"); err != nil {
		return err
	}
	f.ledger = append(f.ledger, entries...)
	return nil
}

func (f *fakeStore) PayoutsOfRun(ctx context.Context, asOf time.Time) ([]Payout, error) {
	ps, err := f.Payouts(ctx, "")
	return slices.DeleteFunc(ps, func(p Payout) bool { return !p.AsOf.Equal(asOf) }), err
}

func (f *fakeStore) LedgerEntriesOf(_ context.Context, providers []string, after time.Time) ([]marketplace.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("LedgerEntriesOf"); err != nil {
		return nil, err
	}
	var out []marketplace.Entry
	for _, e := range f.ledger {
		if slices.Contains(providers, e.Provider) || e.At.After(after) {
			out = append(out, e)
		}
	}
	return out, nil
}

// storeConfig is a Config with every port the fake store serves.
func storeConfig(f *fakeStore) Config {
	return Config{Runs: f, Payouts: f, Store: f, Statuses: f, Ledger: f}
}

// payout returns the stored payout of provider as of asOf.
func (f *fakeStore) payout(t testing.TB, provider string, asOf time.Time) Payout {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.payouts {
		if p.Provider == provider && p.AsOf.Equal(asOf) {
			return p
		}
	}
	t.Fatalf("no payout of %s as of %s", provider, asOf)
	return Payout{}
}
