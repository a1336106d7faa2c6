package entitlements

import (
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/aggregators"
	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

// tenant is the live state of one tenant: what rating needs to rate it
// (its admitted subscription changes, seat events, packs and AI credits
// summed between cuts) and what only entitlements need (flags, cap,
// seller enrolments). Every field is a fold of its stored events.
type tenant struct {
	id string
	// subs are the tenant's subscription events in stored order;
	// admitted are those rating.AdmitChanges keeps, with their sequences.
	subs        []schemas.StoredEvent
	admitted    []rating.SubscriptionChange
	admittedSeq []uint64
	seats       []aggregators.SeatEvent
	packs       []rating.PackPurchase
	credits     creditBook
	flags       map[string]flagValue
	cap         capValue
	enrolments  []enrolment // admitted enrolments and departures, stored order
	// version counts the changes folded in, so a cached view knows when it
	// is stale.
	version uint64
}

// stamp orders two events of one kind: the later time wins; at one
// instant the later stored.
type stamp struct {
	at  time.Time
	seq uint64
}

func (s stamp) after(o stamp) bool {
	if c := s.at.Compare(o.at); c != 0 {
		return c > 0
	}
	return s.seq > o.seq
}

type flagValue struct {
	stamp
	enabled bool
}

type capValue struct {
	stamp
	credits decimal.Decimal // zero: no cap
	set     bool
}

type enrolment struct {
	stamp
	provider string
	enrolled bool // false: left
}

func newTenant(id string) *tenant {
	return &tenant{id: id, flags: map[string]flagValue{}, credits: newCreditBook()}
}

// addSubscription folds a subscription event: the changes are admitted
// again, in stored order, with rating's own rule, and the cuts of the AI
// credits move (the caller reloads them).
func (t *tenant) addSubscription(book *pricebook.Book, se schemas.StoredEvent) {
	t.subs = append(t.subs, se)
	t.readmit(book)
	t.credits.cutsChanged()
}

func (t *tenant) readmit(book *pricebook.Book) {
	changes := make([]rating.SubscriptionChange, len(t.subs))
	for i, se := range t.subs {
		changes[i] = rating.ChangeOf(se.Event)
	}
	kept, refused := rating.AdmitChanges(book, changes)
	out := make([]uint64, 0, len(kept))
	skip := map[int]bool{}
	for _, r := range refused {
		skip[r.Index] = true
	}
	for i, se := range t.subs {
		if !skip[i] {
			out = append(out, se.Seq)
		}
	}
	t.admitted, t.admittedSeq = kept, out
}

// changesStoredBefore are the admitted changes stored before seq: what a
// decision taken in stored order at seq may know.
func (t *tenant) changesStoredBefore(seq uint64) []rating.SubscriptionChange {
	var out []rating.SubscriptionChange
	for i, c := range t.admitted {
		if t.admittedSeq[i] < seq {
			out = append(out, c)
		}
	}
	return out
}

func (t *tenant) setFlag(se schemas.StoredEvent, d *schemas.FeatureFlagSet) {
	v := flagValue{stamp: stamp{se.Event.Time, se.Seq}, enabled: d.Enabled}
	if old, ok := t.flags[d.Flag]; !ok || v.after(old.stamp) {
		t.flags[d.Flag] = v
	}
}

func (t *tenant) setCap(se schemas.StoredEvent, d *schemas.AICapSet) {
	v := capValue{stamp: stamp{se.Event.Time, se.Seq}, credits: d.MonthlyCredits, set: true}
	if !t.cap.set || v.after(t.cap.stamp) {
		t.cap = v
	}
}

// enrolledAt reports the providers the tenant is enrolled under at time
// at (the last enrolment or departure of each provider at or before at),
// sorted.
func (t *tenant) enrolledAt(at time.Time) []string {
	last := map[string]enrolment{}
	for _, e := range t.enrolments {
		if e.at.After(at) {
			continue
		}
		if old, ok := last[e.provider]; !ok || e.after(old.stamp) {
			last[e.provider] = e
		}
	}
	var out []string
	for p, e := range last {
		if e.enrolled {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// segmentAt is the subscription in effect at instant at under changes,
// if any.
func segmentAt(book *pricebook.Book, changes []rating.SubscriptionChange, at time.Time) (rating.Segment, bool, error) {
	segs, err := rating.Segments(book, changes, at, at.Add(time.Nanosecond))
	if err != nil || len(segs) == 0 {
		return rating.Segment{}, false, err
	}
	return segs[0], true, nil
}
