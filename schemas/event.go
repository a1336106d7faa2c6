package schemas

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/money"
)

// SpecVersion is the only CloudEvents version accepted.
const SpecVersion = "1.0"

// MaxFutureSkew is how far ahead of the receiver's clock an event's time
// may be (SPEC §1: more than 5 minutes in the future is rejected).
const MaxFutureSkew = 5 * time.Minute

// Event is a validated Tally usage event.
//
// An Event returned by [Decode] satisfies every rule of the schema; Raw is
// a private copy of the exact bytes decoded, safe to keep and store, and
// its strings share memory with Raw: Raw is read-only (writing to it would
// change the strings; nothing in Tally does).
// Extension attributes and datacontenttype are validated but only kept in
// Raw.
type Event struct {
	SpecVersion string
	ID          string
	Source      string
	Type        Type
	Subject     string    // tenant id, or provider id for marketplace and KYC types
	Time        time.Time // when the usage happened, in UTC
	Data        Payload   // the typed data; its concrete type follows Type
	Raw         []byte    // the exact bytes decoded; nil for an Event built in code
}

// Identity returns (source, id).
func (e *Event) Identity() Identity { return Identity{Source: e.Source, ID: e.ID} }

// CheckTime returns a [*FieldError] for "time" wrapping [ErrFutureTime] if
// the event happened more than maxAhead after now. Callers pass their
// clock's now and usually [MaxFutureSkew].
func (e *Event) CheckTime(now time.Time, maxAhead time.Duration) error {
	if limit := now.Add(maxAhead); e.Time.After(limit) {
		return &FieldError{
			Field: "time",
			Message: fmt.Sprintf("must not be more than %s ahead of the receiver's clock (%s), got %s",
				maxAhead, now.UTC().Format(time.RFC3339Nano), e.Time.UTC().Format(time.RFC3339Nano)),
			Err: ErrFutureTime,
		}
	}
	return nil
}

// Payload is the typed data of an event: one of *AICreditsConsumed,
// *AIPackPurchased, *SeatChange, *Subscription, *SubscriptionCanceled,
// *SaleCompleted, *RefundIssued, *KYCVerified, *KYCRevoked, and the
// tenant state payloads of SPEC §6 (tenantdata.go): *FeatureFlagSet,
// *AICapSet, *SellerEnrollment. The set is closed; use a type switch.
//
// Struct tags: `json` is the data field name; `tally` is "required",
// "optional" or "conditional" (required or forbidden depending on another
// field). The JSON Schema files are checked against these tags by a test.
type Payload interface {
	// appendCanonical appends the payload's canonical form for ContentHash.
	appendCanonical(b []byte) []byte
	// appendJSON appends the payload as a JSON object for Encode.
	appendJSON(b []byte) []byte
}

// AICreditsConsumed is the data of ai.credits.consumed.
type AICreditsConsumed struct {
	Credits  decimal.Decimal `json:"credits" tally:"required"` // > 0, at most 9 fraction digits
	Feature  Feature         `json:"feature" tally:"required"`
	UserID   string          `json:"user_id,omitempty" tally:"optional"`
	Model    string          `json:"model,omitempty" tally:"optional"`
	Provider string          `json:"provider,omitempty" tally:"optional"` // the AI vendor, not a marketplace provider
}

// AIPackPurchased is the data of ai.credits.pack_purchased.
type AIPackPurchased struct {
	PackID   string          `json:"pack_id" tally:"required"`
	Credits  decimal.Decimal `json:"credits" tally:"required"` // > 0, at most 9 fraction digits
	Currency money.Currency  `json:"currency" tally:"required"`
	Price    decimal.Decimal `json:"price" tally:"required"` // ≥ 0, at most the currency's minor-unit digits
}

// SeatChange is the data of seat.assigned and seat.released.
type SeatChange struct {
	UserID   string   `json:"user_id" tally:"required"`
	SeatType SeatType `json:"seat_type" tally:"required"`
}

// Subscription is the data of subscription.started and
// subscription.changed.
type Subscription struct {
	Plan      string         `json:"plan" tally:"required"` // a price-book plan key; existence is checked by rating
	Term      Term           `json:"term" tally:"required"`
	TermYears int32          `json:"term_years,omitempty" tally:"conditional"` // 2–5 for multi_year, else 0
	Currency  money.Currency `json:"currency" tally:"required"`
	// CommittedSeats has an entry for every seat type when present; it is
	// present for prepaid terms and may be for monthly. nil when absent.
	CommittedSeats map[SeatType]int64 `json:"committed_seats,omitempty" tally:"conditional"`
	Addons         []string           `json:"addons,omitempty" tally:"optional"` // unique add-on keys, in the order sent
}

// SubscriptionCanceled is the data of subscription.canceled.
type SubscriptionCanceled struct {
	Reason string `json:"reason,omitempty" tally:"optional"`
}

// SaleCompleted is the data of marketplace.sale.completed.
type SaleCompleted struct {
	OrderID  string          `json:"order_id" tally:"required"`
	BuyerID  string          `json:"buyer_id" tally:"required"`
	CourseID string          `json:"course_id" tally:"required"`
	Currency money.Currency  `json:"currency" tally:"required"`
	Gross    decimal.Decimal `json:"gross" tally:"required"` // ≥ 0, what the buyer paid incl. tax
	Tax      decimal.Decimal `json:"tax" tally:"required"`   // ≥ 0 and ≤ gross
}

// RefundIssued is the data of marketplace.refund.issued.
type RefundIssued struct {
	OrderID  string          `json:"order_id" tally:"required"`
	RefundID string          `json:"refund_id" tally:"required"`
	Currency money.Currency  `json:"currency" tally:"required"`
	Amount   decimal.Decimal `json:"amount" tally:"required"` // > 0, gross refunded incl. tax
}

// KYCVerified is the data of provider.kyc.verified.
type KYCVerified struct {
	StripeAccount string `json:"stripe_account" tally:"required"` // "acct_" + letters and digits
}

// KYCRevoked is the data of provider.kyc.revoked.
type KYCRevoked struct {
	Reason string `json:"reason,omitempty" tally:"optional"`
}

// payloadFits reports whether p is the payload type of events of type t.
func payloadFits(t Type, p Payload) bool {
	switch p.(type) {
	case *AICreditsConsumed:
		return t == TypeAICreditsConsumed
	case *AIPackPurchased:
		return t == TypeAIPackPurchased
	case *SeatChange:
		return t == TypeSeatAssigned || t == TypeSeatReleased
	case *Subscription:
		return t == TypeSubscriptionStarted || t == TypeSubscriptionChanged
	case *SubscriptionCanceled:
		return t == TypeSubscriptionCanceled
	case *SaleCompleted:
		return t == TypeSaleCompleted
	case *RefundIssued:
		return t == TypeRefundIssued
	case *KYCVerified:
		return t == TypeKYCVerified
	case *KYCRevoked:
		return t == TypeKYCRevoked
	case *FeatureFlagSet:
		return t == TypeFeatureFlagSet
	case *AICapSet:
		return t == TypeAICapSet
	case *SellerEnrollment:
		return t == TypeSellerEnrolled || t == TypeSellerLeft
	}
	return false
}

// StoredEvent is an event as the event store holds it: the event and the
// sequence of the events stream it was stored at, the handle a stored
// event is dead-lettered by. An Event read back from the store's typed
// columns has a nil Raw.
type StoredEvent struct {
	Seq   uint64
	Event *Event
}
