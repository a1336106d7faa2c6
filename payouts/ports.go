package payouts

import (
	"context"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/money"
)

// The ports: what the service needs from the world, each declared beside
// the step that uses it (run.go, derive.go, decide.go, send.go,
// advance.go, balances.go) and implemented by chstore (events: Store;
// ledger, payouts, runs and snapshots: Ledger), stripesync (transfers)
// and the daemon (dead letters, stored position). The ones below are
// shared by several steps.

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

// StoredPosition says how far the events stream is stored: every event at
// or below the returned stream sequence can be read back (the sink
// acknowledges an event only once it is stored). Events above it may
// already be readable, out of sequence order: a snapshot claims only
// what is below it, so the next run reads the others again.
type StoredPosition interface {
	StoredThrough(ctx context.Context) (uint64, error)
}
