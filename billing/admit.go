package billing

import (
	"cmp"
	"errors"
	"slices"

	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

// Dead-letter reason codes of the subscription changes billing refuses
// (SPEC §5 "No accepted event makes a tenant unbillable"). A reason
// stored in dead_letters starts with its code, then says why.
const (
	// ReasonCurrencyChange: a subscription.changed (or a started while
	// subscribed) naming a currency other than the running subscription's.
	ReasonCurrencyChange = "currency_change"
	// ReasonAmbiguousChange: a subscription change at the same instant as
	// a different one stored before it.
	ReasonAmbiguousChange = "ambiguous_change"
)

// refusedChange is a stored subscription event left out of rating.
type refusedChange struct {
	tenant string
	seq    uint64
	reason string
}

// admitChanges turns a tenant's stored subscription events into rating
// input, leaving out those that would stop its rating because of other
// events (rating.AdmitChanges, which judges them in the order they were
// stored: the first stored wins, so a decision never changes as later
// events arrive and every close takes the same one).
func admitChanges(book *pricebook.Book, tenant string, events []schemas.StoredEvent) ([]rating.SubscriptionChange, []refusedChange) {
	events = slices.Clone(events)
	slices.SortStableFunc(events, func(a, b schemas.StoredEvent) int { return cmp.Compare(a.Seq, b.Seq) })
	kept, refusals := rating.AdmitChanges(book, subscriptionChanges(events))
	out := make([]refusedChange, 0, len(refusals))
	for _, r := range refusals {
		code := ReasonAmbiguousChange
		if errors.Is(r.Err, rating.ErrCurrencyChange) {
			code = ReasonCurrencyChange
		}
		out = append(out, refusedChange{tenant: tenant, seq: events[r.Index].Seq, reason: code + ": " + r.Err.Error()})
	}
	return kept, out
}
