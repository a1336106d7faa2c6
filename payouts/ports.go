package payouts

import (
	"context"
	"time"

	"github.com/tally-billing/tally/aggregators/marketplace"
	"github.com/tally-billing/tally/stripesync"
)

// EventSource loads stored marketplace events.
type EventSource interface {
	MarketplaceEvents(ctx context.Context, end time.Time) ([]StoredEvent, error)
}

// StoredEvent is a stored event: its stream sequence and raw payload.
type StoredEvent struct {
	Seq     uint64
	Payload []byte
}

// Store keeps payouts, runs and the ledger.
type Store interface {
	Payouts(ctx context.Context, provider string) ([]Payout, error)
	// SavePayouts stores new payouts with their statements.
	SavePayouts(ctx context.Context, ps []Payout) error
	// UpdatePayoutStatuses records new statuses of stored payouts.
	UpdatePayoutStatuses(ctx context.Context, ps []Payout) error
	PayoutRun(ctx context.Context, asOf time.Time) (time.Time, error)
	RecordPayoutRun(ctx context.Context, asOf, at time.Time, n int) error
	LedgerEntries(ctx context.Context) ([]marketplace.Entry, error)
	AppendLedger(ctx context.Context, entries []marketplace.Entry) error
}

// TransferSender pushes a payout to Stripe Connect.
type TransferSender interface {
	PushTransfer(ctx context.Context, t stripesync.Transfer) (string, error)
}

// EventRejecter dead-letters stored events with a reason.
type EventRejecter interface {
	RejectStored(ctx context.Context, seqs []uint64, reason string) error
}
