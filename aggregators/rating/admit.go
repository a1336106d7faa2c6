package rating

import (
	"fmt"
	"slices"
	"time"

	"github.com/tally-billing/tally/aggregators/pricebook"
)

// Refusal is a subscription change [AdmitChanges] leaves out of rating.
type Refusal struct {
	// Index is the change's position in the slice given to AdmitChanges.
	Index int
	// Err says why; it wraps [ErrCurrencyChange] or [ErrAmbiguousChanges].
	Err error
}

// AdmitChanges leaves out the subscription changes that would stop the
// tenant's rating and that are only wrong because of other events (SPEC
// §5: what cannot be refused at the door is refused once its neighbours
// are known). It walks the changes in time order, ties in the order
// given (callers pass the order the events were stored in, so the first
// stored wins), and refuses:
//   - a started or changed naming a currency other than the subscription
//     running at its time ([ErrCurrencyChange]); a cancel and a new start
//     may change currency;
//   - a change at the same instant as an admitted change that differs
//     from it ([ErrAmbiguousChanges]); identical changes stay (rating
//     counts them once).
//
// A refused change is as if it had never been sent: the changes after it
// are judged against the subscription that was running without it. The
// kept changes are returned in the order given, the refusals in time
// order. Changes the price book cannot rate are kept (rating reports
// them: that is a price-book problem, not a conflict between events).
func AdmitChanges(book *pricebook.Book, changes []SubscriptionChange) ([]SubscriptionChange, []Refusal) {
	order := make([]int, len(changes))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return changes[a].At.Compare(changes[b].At) })
	var (
		refusals []Refusal
		refused  = map[int]bool{}
		running  *SubscriptionChange // the last admitted start or change, nil after a cancel
		instant  time.Time
		atOnce   []*SubscriptionChange // admitted at instant
	)
	refuse := func(i int, err error) {
		refusals = append(refusals, Refusal{Index: i, Err: err})
		refused[i] = true
	}
	for _, i := range order {
		c := &changes[i]
		if !c.At.Equal(instant) {
			instant, atOnce = c.At, nil
		}
		when := c.At.UTC().Format(time.RFC3339Nano)
		if slices.ContainsFunc(atOnce, func(o *SubscriptionChange) bool { return !sameChange(book, *o, *c) }) {
			refuse(i, fmt.Errorf("subscription %s at %s differs from the one stored first for the same instant: %w", c.Kind, when, ErrAmbiguousChanges))
			continue
		}
		if c.Kind != Canceled && running != nil && running.Subscription.Currency.Code != c.Subscription.Currency.Code {
			refuse(i, fmt.Errorf("subscription %s at %s names %s while the running subscription is in %s (cancel it and start a new one to change currency): %w",
				c.Kind, when, c.Subscription.Currency.Code, running.Subscription.Currency.Code, ErrCurrencyChange))
			continue
		}
		atOnce = append(atOnce, c)
		switch c.Kind {
		case Started, Changed:
			running = c
		case Canceled:
			running = nil
		}
	}
	kept := make([]SubscriptionChange, 0, len(changes)-len(refusals))
	for i, c := range changes {
		if !refused[i] {
			kept = append(kept, c)
		}
	}
	return kept, refusals
}

// sameChange reports whether two changes at one instant say the same
// thing, as rating judges it (a start and a change with the same data are
// the same). A change the price book cannot resolve conflicts with
// nothing here: rating reports it.
func sameChange(book *pricebook.Book, a, b SubscriptionChange) bool {
	if (a.Kind == Canceled) != (b.Kind == Canceled) {
		return false
	}
	if a.Kind == Canceled {
		return true
	}
	sa, err := resolve(book, a.Subscription)
	if err != nil {
		return true
	}
	sb, err := resolve(book, b.Subscription)
	if err != nil {
		return true
	}
	return sa.key() == sb.key()
}
