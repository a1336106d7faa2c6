package payouts

import (
	"context"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/aggregators/marketplace"
	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/schemas"
)

// The ports: what the service needs from the world, implemented by chstore
// (events, store), stripesync (transfers) and the daemon (dead letters).

// EventSource loads stored marketplace events: every
// marketplace.sale.completed, marketplace.refund.issued,
// provider.kyc.verified and provider.kyc.revoked event.
type EventSource interface {
	// MarketplaceEvents returns every marketplace event with time at or
	// before end. A payout run derives the whole ledger from them.
	MarketplaceEvents(ctx context.Context, end time.Time) ([]schemas.StoredEvent, error)
	// ProviderEvents returns, with time at or before end, every
	// marketplace event whose subject is provider, and every sale of
	// another provider with the order id of one of provider's sales or
	// refunds. Those sales matter: the earliest sale of an order id claims
	// it, so they decide whether provider's own sales and refunds are
	// accepted. Nothing else changes provider's balances. The order of the
	// events does not matter.
	ProviderEvents(ctx context.Context, provider string, end time.Time) ([]schemas.StoredEvent, error)
}

// Store keeps payouts, runs and the ledger.
type Store interface {
	// Payouts returns the latest state of every payout of provider (of
	// every provider when empty), with statements.
	Payouts(ctx context.Context, provider string) ([]Payout, error)
	// SavePayouts stores new payouts with their statements.
	SavePayouts(ctx context.Context, ps []Payout) error
	// UpdatePayoutStatuses records new statuses of stored payouts.
	UpdatePayoutStatuses(ctx context.Context, ps []Payout) error
	// PayoutRun returns when the run as of asOf was recorded; zero if not.
	PayoutRun(ctx context.Context, asOf time.Time) (time.Time, error)
	// RecordPayoutRun records that the run as of asOf decided n payouts.
	RecordPayoutRun(ctx context.Context, asOf, at time.Time, n int) error
	// LedgerEntries returns every stored ledger entry.
	LedgerEntries(ctx context.Context) ([]marketplace.Entry, error)
	// AppendLedger appends entries; entries with the same id fold.
	AppendLedger(ctx context.Context, entries []marketplace.Entry) error
}

// Transfer is what a [TransferSender] is asked to send: one payout to a
// provider's connected account.
type Transfer struct {
	PayoutID    string // Tally payout id; the sender's idempotency key
	Account     string // Stripe connected account, acct_...
	Currency    money.Currency
	Amount      decimal.Decimal // positive, at most the currency's minor digits
	Description string
}

// TransferSender sends the transfer of a payout and returns its id at the
// payment provider (tr_... on Stripe Connect). It must be idempotent per
// PayoutID: the service calls it again for a payout whose outcome it did
// not record, and expects the same transfer back, never a second one.
// An error wrapping [ErrTransferRefused] means the transfer will never be
// made; any other error means it may be tried again.
type TransferSender interface {
	PushTransfer(ctx context.Context, t Transfer) (string, error)
}

// EventRejecter dead-letters stored events with a reason.
type EventRejecter interface {
	RejectStored(ctx context.Context, seqs []uint64, reason string) error
}

// LedgerSnapshots keeps the state each payout run leaves and reads what
// came after it (docs/marketplace.md, "Incremental ledger"). It is
// optional: without it every run derives the whole history.
type LedgerSnapshots interface {
	// LedgerSnapshot returns the latest snapshot as of asOf or earlier
	// that was stored whole (the last stored of its as-of); nil if none.
	LedgerSnapshot(ctx context.Context, asOf time.Time) (*marketplace.Snapshot, error)
	// SaveLedgerSnapshot stores snap; it is read back only once stored
	// whole. savedAt tells a retried run's snapshot from the first.
	SaveLedgerSnapshot(ctx context.Context, snap *marketplace.Snapshot, savedAt time.Time) error
	// EventsAfter returns every marketplace event a snapshot at position,
	// as of at, does not hold: stored after position (stream sequence) or
	// dated after at; every one for zero arguments. An event may come
	// twice (copies of a stored row); the service counts it once.
	EventsAfter(ctx context.Context, position uint64, at time.Time) ([]schemas.StoredEvent, error)
	// ProvidersEvents returns every marketplace event whose subject is one
	// of providers, whatever its time.
	ProvidersEvents(ctx context.Context, providers []string) ([]schemas.StoredEvent, error)
	// OrderEvents returns the sales and refunds naming one of orderIDs
	// that a snapshot at position, as of at, counted: stored at or before
	// position and dated at or before at.
	OrderEvents(ctx context.Context, orderIDs []string, position uint64, at time.Time) ([]schemas.StoredEvent, error)
	// RecordedPayouts returns the latest state of every payout of
	// provider (of every provider when empty), without statements.
	RecordedPayouts(ctx context.Context, provider string) ([]Payout, error)
	// PayoutsOfRun returns the latest state of the payouts of the run as
	// of asOf, with statements.
	PayoutsOfRun(ctx context.Context, asOf time.Time) ([]Payout, error)
	// LedgerEntriesOf returns the stored ledger entries of providers and
	// every stored entry dated after after.
	LedgerEntriesOf(ctx context.Context, providers []string, after time.Time) ([]marketplace.Entry, error)
}

// StoredPosition says how far the events stream is stored: every event at
// or below the returned stream sequence can be read back (the sink
// acknowledges an event only once it is stored). Events above it may
// already be readable, out of sequence order: a snapshot claims only
// what is below it, so the next run reads the others again.
type StoredPosition interface {
	StoredThrough(ctx context.Context) (uint64, error)
}
