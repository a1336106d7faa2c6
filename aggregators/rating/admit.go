package rating

import (
	"fmt"
	"slices"
	"time"

	"github.com/tally-billing/tally/pricebook"
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
// are known). The changes must be given in the order they were stored:
// each is admitted when, walked in time order with the changes admitted
// before it, it leaves a history with
//   - no started or changed naming a currency other than the subscription
//     running at its time ([ErrCurrencyChange]; a cancel and a new start
//     may change currency), and
//   - no two different changes at one instant ([ErrAmbiguousChanges];
//     identical ones are fine, rating counts them once);
//
// otherwise it is refused. The first stored wins: when all changes are
// stored in time order, a change is refused for the subscription running
// at its time; when one arrives late, it is refused rather than the
// changes already billed. So a decision never changes as more events
// arrive. A refused change is as if it had never been sent. Kept changes
// are returned in the order given, refusals in that order too. Changes
// the price book cannot rate are kept (rating reports them: that is a
// price-book problem, not a conflict between events).
func AdmitChanges(book *pricebook.Book, changes []SubscriptionChange) ([]SubscriptionChange, []Refusal) {
	var kept []SubscriptionChange
	var refusals []Refusal
	for i, c := range changes {
		if err := conflict(book, append(slices.Clone(kept), c), c); err != nil {
			refusals = append(refusals, Refusal{Index: i, Err: err})
			continue
		}
		kept = append(kept, c)
	}
	return kept, refusals
}

// conflict walks changes in time order (ties in the order given) and
// reports the first currency change or ambiguity, naming c.
func conflict(book *pricebook.Book, changes []SubscriptionChange, c SubscriptionChange) error {
	slices.SortStableFunc(changes, func(a, b SubscriptionChange) int { return a.At.Compare(b.At) })
	when := c.At.UTC().Format(time.RFC3339Nano)
	var running *SubscriptionChange // the last start or change, nil after a cancel
	for i := range changes {
		x := &changes[i]
		if i > 0 && x.At.Equal(changes[i-1].At) && !sameChange(book, changes[i-1], *x) {
			return fmt.Errorf("subscription %s at %s: a different change for the same instant was stored first: %w", c.Kind, when, ErrAmbiguousChanges)
		}
		if x.Kind != Canceled && running != nil && running.Subscription.Currency.Code != x.Subscription.Currency.Code {
			return fmt.Errorf("subscription %s at %s in %s: the subscription running around it (stored first) is in %s; cancel it and start a new one to change currency: %w",
				c.Kind, when, c.Subscription.Currency.Code, otherCurrency(c, *running, *x), ErrCurrencyChange)
		}
		switch x.Kind {
		case Started, Changed:
			running = x
		case Canceled:
			running = nil
		}
	}
	return nil
}

// otherCurrency is the currency of the conflict that is not c's.
func otherCurrency(c, a, b SubscriptionChange) string {
	if a.Subscription.Currency.Code != c.Subscription.Currency.Code {
		return a.Subscription.Currency.Code
	}
	return b.Subscription.Currency.Code
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
