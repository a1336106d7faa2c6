package entitlements

import (
	"context"
	"time"

	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/schemas"
)

// Store reads the stored events the state folds (chstore.Events
// implements it). "Stored at or below through" means with a stream
// sequence ≤ through: the store holds each event once, so a fold of
// (0, a] then (a, b] sees every event of (0, b] once.
type Store interface {
	// StateEvents returns the stored events of [StateTypes] with
	// after < stream sequence ≤ through, in stream order. Without
	// credits it leaves ai.credits.consumed out (a boot sums them with
	// CreditSums instead).
	StateEvents(ctx context.Context, after, through uint64, credits bool) ([]schemas.StoredEvent, error)
	// CreditMonths returns, per tenant, the months ("YYYY-MM" periods)
	// with ai.credits.consumed stored at or below through.
	CreditMonths(ctx context.Context, through uint64) (map[string][]rating.Period, error)
	// CreditSums sums each tenant's ai.credits.consumed stored at or below
	// through between consecutive instants of its cuts, one row per
	// (tenant, cut), like billing's CreditRows. Credits before a tenant's
	// first cut are left out; tenants without cuts are skipped.
	CreditSums(ctx context.Context, through uint64, cuts map[string][]time.Time) (map[string][]rating.CreditUsage, error)
}

// Position says how far the sink has stored the events stream, without
// waiting (pipeline.Watermark's Progress().Events.Through): every event
// at or below it is stored or dead-lettered.
type Position interface {
	StoredThrough(ctx context.Context) (uint64, error)
}

// Rejecter dead-letters a stored event with its reason, once: a second
// rejection of the same event changes nothing (daemon.storedRejecter).
type Rejecter interface {
	RejectStored(ctx context.Context, seqs []uint64, reason string) error
}

// StateTypes are the event types the state folds.
func StateTypes() []schemas.Type {
	return []schemas.Type{
		schemas.TypeSubscriptionStarted, schemas.TypeSubscriptionChanged, schemas.TypeSubscriptionCanceled,
		schemas.TypeSeatAssigned, schemas.TypeSeatReleased,
		schemas.TypeAICreditsConsumed, schemas.TypeAIPackPurchased,
		schemas.TypeFeatureFlagSet, schemas.TypeAICapSet,
		schemas.TypeSellerEnrolled, schemas.TypeSellerLeft,
	}
}
