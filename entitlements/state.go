package entitlements

import (
	"fmt"
	"time"

	"github.com/tally-billing/tally/aggregators"
	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

// fold is the state of every tenant after the stored events up to pos,
// applied in stream order. It does no I/O: [State] feeds it, reloads the
// credit sums it asks for and records its refusals. Not safe for
// concurrent use; State guards it.
type fold struct {
	book    *pricebook.Book
	matrix  Matrix
	pos     uint64
	tenants map[string]*tenant
}

// Refusal is a stored event the fold leaves out, with the reason it is
// dead-lettered with.
type Refusal struct {
	Seq    uint64
	Reason string
}

func newFold(book *pricebook.Book, m Matrix) *fold {
	return &fold{book: book, matrix: m, tenants: map[string]*tenant{}}
}

func (f *fold) tenant(id string) *tenant {
	t, ok := f.tenants[id]
	if !ok {
		t = newTenant(id)
		f.tenants[id] = t
	}
	return t
}

// apply folds one stored event. reload reports that the tenant's credit
// sums must be read again with its new cuts (a subscription event);
// refusal is non-nil when the event is left out for a stateful rule.
func (f *fold) apply(se schemas.StoredEvent) (reload bool, refusal *Refusal) {
	e := se.Event
	if e.Type.ProviderSubject() {
		return false, nil
	}
	t := f.tenant(e.Subject)
	t.version++
	switch d := e.Data.(type) {
	case *schemas.Subscription, *schemas.SubscriptionCanceled:
		t.addSubscription(f.book, se)
		return true, nil
	case *schemas.SeatChange:
		t.seats = append(t.seats, aggregators.SeatEvent{Time: e.Time, Assigned: e.Type == schemas.TypeSeatAssigned,
			UserID: d.UserID, SeatType: string(d.SeatType), Seq: se.Seq})
	case *schemas.AICreditsConsumed:
		t.credits.add(f.book, t.admitted, e.Time, d.Credits)
	case *schemas.AIPackPurchased:
		t.packs = append(t.packs, rating.PackPurchase{At: e.Time, PackID: d.PackID, Credits: d.Credits, Price: d.Price, Currency: d.Currency})
	case *schemas.FeatureFlagSet:
		t.setFlag(se, d)
	case *schemas.AICapSet:
		t.setCap(se, d)
	case *schemas.SellerEnrollment:
		enrolled := e.Type == schemas.TypeSellerEnrolled
		if enrolled {
			if why := f.sellerRefusal(t, se.Seq, e.Time); why != "" {
				return false, &Refusal{Seq: se.Seq, Reason: why}
			}
		}
		t.enrolments = append(t.enrolments, enrolment{stamp: stamp{e.Time, se.Seq}, provider: d.Provider, enrolled: enrolled})
	}
	return false, nil
}

// sellerRefusal judges an enrolment stored at seq, effective at at,
// against the subscription changes stored before it: refused when the
// plan in effect at its time has marketplace_seller not_available. A
// tenant with no subscription at that time is not refused (the
// enrolment is kept; checks allow nothing until a plan allows selling).
// Judged in stored order, the decision is the same on every replica and
// never changes as later events arrive.
func (f *fold) sellerRefusal(t *tenant, seq uint64, at time.Time) string {
	seg, ok, err := segmentAt(f.book, t.changesStoredBefore(seq), at)
	if err != nil || !ok {
		return ""
	}
	if v, ok := f.matrix.Entitlement(seg.Sub.Plan, CapMarketplaceSeller); ok && v == ValueNotAvailable {
		return fmt.Sprintf("%s: tenant %s enrolled as a seller at %s on plan %s, where marketplace_seller is not_available",
			RefusalSellerNotAvailable, t.id, at.UTC().Format(time.RFC3339Nano), seg.Sub.Plan)
	}
	return ""
}

// SaleVerdict judges a marketplace.sale.completed stored at seq, of
// provider, at time at, against what was stored before it: the reason
// it is refused (RefusalSellerNotEntitled …), or "" when it sells as
// before. A provider is a tenant's seller when the tenant's last
// enrolment or departure for it at or before the sale's time (among
// those stored before the sale) is an enrolment; the sale is refused when
// that tenant's plan at the sale's time (by the changes stored before the
// sale) has marketplace_seller not_available. Providers never enrolled
// sell as individuals.
func (f *fold) saleVerdict(seq uint64, provider string, at time.Time) string {
	for _, t := range f.tenants {
		enrolled := false
		var last stamp
		found := false
		for _, e := range t.enrolments {
			if e.provider != provider || e.seq >= seq || e.at.After(at) {
				continue
			}
			if !found || e.after(last) {
				last, enrolled, found = e.stamp, e.enrolled, true
			}
		}
		if !enrolled {
			continue
		}
		seg, ok, err := segmentAt(f.book, t.changesStoredBefore(seq), at)
		if err != nil || !ok {
			continue
		}
		if v, ok := f.matrix.Entitlement(seg.Sub.Plan, CapMarketplaceSeller); ok && v == ValueNotAvailable {
			return fmt.Sprintf("%s: provider %s is enrolled by tenant %s, whose plan %s at %s has marketplace_seller not_available",
				RefusalSellerNotEntitled, provider, t.id, seg.Sub.Plan, at.UTC().Format(time.RFC3339Nano))
		}
	}
	return ""
}
