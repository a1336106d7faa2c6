package stripesync

import (
	"context"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
	"github.com/stripe/stripe-go/v76"

	"github.com/tally-billing/tally/money"
)

// Transfer is a Tally payout to a provider's Stripe connected account.
type Transfer struct {
	PayoutID    string // Tally payout id
	Account     string // connected account, acct_...
	Currency    money.Currency
	Amount      decimal.Decimal // positive, at most the currency's minor digits
	Description string
}

// PushTransfer makes Stripe hold exactly one transfer for t.PayoutID and
// returns its id (tr_...). It is safe to call again after any failure.
//
// Order of effects:
//  1. list transfers in group tally-payout-<PayoutID> and return the one
//     whose metadata tally_payout_id is PayoutID (it must have the same
//     destination, currency and amount, else ErrConflict) — this covers an
//     idempotency key that has expired;
//  2. else create it: key tally-transfer-<PayoutID>, metadata
//     tally_payout_id, transfer_group tally-payout-<PayoutID>.
//
// A 4xx (for example an account that cannot receive transfers) is a
// *PermanentError: the payout failed and the money stays with the platform.
func (c *Client) PushTransfer(ctx context.Context, t Transfer) (string, error) {
	minor, err := planTransfer(t)
	if err != nil {
		return "", err
	}
	group := transferGroup(t.PayoutID)

	var found *stripe.Transfer
	err = c.call(ctx, "listing transfers", "", func(ctx context.Context) error {
		found = nil
		p := &stripe.TransferListParams{TransferGroup: stripe.String(group)}
		p.Context = ctx
		p.Limit = stripe.Int64(10)
		it := c.transfers.List(p)
		for it.Next() {
			tr := it.Transfer()
			if tr.Metadata[MetaPayoutID] != t.PayoutID {
				continue // stripe-mock answers with a fixture
			}
			found = tr
			break
		}
		return it.Err()
	})
	if err != nil {
		return "", fmt.Errorf("pushing transfer for payout %s: %w", t.PayoutID, err)
	}
	if found != nil {
		if err := checkFoundTransfer(found, t, minor); err != nil {
			return "", fmt.Errorf("pushing transfer for payout %s: %w", t.PayoutID, err)
		}
		c.log.Info().Str("tally_payout_id", t.PayoutID).Str("stripe_transfer_id", found.ID).Msg("transfer already in stripe")
		return found.ID, nil
	}

	var tr *stripe.Transfer
	key := transferKey(t.PayoutID)
	err = c.call(ctx, "creating transfer", key, func(ctx context.Context) error {
		p := &stripe.TransferParams{
			Amount:        stripe.Int64(minor),
			Currency:      stripe.String(stripeCurrency(t.Currency)),
			Destination:   stripe.String(t.Account),
			TransferGroup: stripe.String(group),
		}
		if t.Description != "" {
			p.Description = stripe.String(t.Description)
		}
		p.Context = ctx
		p.SetIdempotencyKey(key)
		p.AddMetadata(MetaPayoutID, t.PayoutID)
		var err error
		tr, err = c.transfers.New(p)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("pushing transfer for payout %s: %w", t.PayoutID, err)
	}
	c.log.Info().Str("tally_payout_id", t.PayoutID).Str("stripe_transfer_id", tr.ID).Str("account", t.Account).Msg("transfer pushed")
	return tr.ID, nil
}

// planTransfer validates t and converts its amount to minor units.
func planTransfer(t Transfer) (int64, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("checking transfer for payout %q: %s: %w", t.PayoutID, fmt.Sprintf(format, args...), ErrInvalid)
	}
	if t.PayoutID == "" {
		return 0, bad("payout id is empty")
	}
	if len(transferKey(t.PayoutID)) > maxIdempotencyKey {
		return 0, bad("idempotency key longer than %d", maxIdempotencyKey)
	}
	if !strings.HasPrefix(t.Account, "acct_") || len(t.Account) == len("acct_") {
		return 0, bad("account %q is not a connected account id (acct_...)", t.Account)
	}
	if err := checkCurrency(t.Currency); err != nil {
		return 0, bad("%v", err)
	}
	if t.Amount.Sign() <= 0 {
		return 0, bad("amount %s is not positive", money.FormatDecimal(t.Amount))
	}
	minor, err := t.Currency.ToMinor(t.Amount)
	if err != nil {
		return 0, fmt.Errorf("checking transfer for payout %q: %w: %w", t.PayoutID, ErrInvalid, err)
	}
	return minor, nil
}

func checkFoundTransfer(tr *stripe.Transfer, t Transfer, minor int64) error {
	dest := ""
	if tr.Destination != nil {
		dest = tr.Destination.ID
	}
	if tr.Amount != minor || string(tr.Currency) != stripeCurrency(t.Currency) || (dest != "" && dest != t.Account) {
		return fmt.Errorf("stripe transfer %s for %s %q is %d %s to %s, want %d %s to %s: %w",
			tr.ID, MetaPayoutID, t.PayoutID, tr.Amount, tr.Currency, dest, minor, stripeCurrency(t.Currency), t.Account, ErrConflict)
	}
	return nil
}
