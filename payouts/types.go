package payouts

import (
	"encoding/json"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/money"
)

// Payout statuses.
const (
	// StatusPending: decided, not yet accepted by Stripe.
	StatusPending = "pending"
	// StatusPaid: Stripe accepted the transfer.
	StatusPaid = "paid"
	// StatusNotSent: dry run (no Stripe key): decided and recorded only.
	StatusNotSent = "not_sent"
	// StatusFailed: Stripe refused it (a 4xx); the money is available again.
	StatusFailed = "failed"
)

// Balance is a provider's money in one currency at an instant.
type Balance struct {
	Currency  string          `json:"currency"`
	Held      decimal.Decimal `json:"held"`
	Available decimal.Decimal `json:"available"`
	Paid      decimal.Decimal `json:"paid"`
}

// Balances is a provider's balances at an instant.
type Balances struct {
	Provider string    `json:"provider"`
	AsOf     time.Time `json:"as_of"`
	Balances []Balance `json:"balances"`
}

// StatementLine is one thing a payout settles.
type StatementLine struct {
	Kind        string          `json:"kind"` // sale, refund, carry_over
	Ref         string          `json:"ref"`  // order, refund or payout id
	Description string          `json:"description"`
	At          time.Time       `json:"at"`
	Amount      decimal.Decimal `json:"amount"`
}

// Payout is one transfer to a provider.
type Payout struct {
	ID               string          `json:"id"`
	Provider         string          `json:"provider"`
	Currency         string          `json:"currency"`
	Amount           decimal.Decimal `json:"amount"`
	AsOf             time.Time       `json:"as_of"`
	Account          string          `json:"stripe_account"`
	Status           string          `json:"status"`
	StatusReason     string          `json:"status_reason,omitempty"`
	StripeTransferID string          `json:"stripe_transfer_id,omitempty"`
	FailedAt         time.Time       `json:"failed_at,omitzero"`
	Statement        []StatementLine `json:"statement"`
}

// RunResult is what a payout run produced.
type RunResult struct {
	AsOf    time.Time `json:"as_of"`
	Payouts []Payout  `json:"payouts"`
	// AlreadyRun is true when a run with this as-of time happened before;
	// the payouts are those of the first run.
	AlreadyRun bool `json:"already_run"`
}

// MarshalJSON writes the amounts with the currency's minor-unit digits.
func (b Balance) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Currency  string `json:"currency"`
		Held      string `json:"held"`
		Available string `json:"available"`
		Paid      string `json:"paid"`
	}{b.Currency, money.FormatCode(b.Held, b.Currency), money.FormatCode(b.Available, b.Currency), money.FormatCode(b.Paid, b.Currency)})
}

// MarshalJSON writes the amounts with the currency's minor-unit digits.
func (p Payout) MarshalJSON() ([]byte, error) {
	type line struct {
		StatementLine
		Amount string `json:"amount"`
	}
	type payout Payout
	out := struct {
		payout
		Amount    string `json:"amount"`
		Statement []line `json:"statement"`
	}{payout: payout(p), Amount: money.FormatCode(p.Amount, p.Currency), Statement: make([]line, len(p.Statement))}
	for i, l := range p.Statement {
		out.Statement[i] = line{StatementLine: l, Amount: money.FormatCode(l.Amount, p.Currency)}
	}
	return json.Marshal(out)
}
