package stripesync

import (
	"context"

	"github.com/tally-billing/tally/payouts"
)

// TransferSender implements [payouts.TransferSender] with a [Client]: it
// turns a payouts.Transfer into this package's [Transfer] and marks every
// error that retrying cannot fix ([ErrRejected], [ErrInvalid],
// [ErrConflict]) with [payouts.ErrTransferRefused], so the payout is marked
// failed; every other error (ErrUnavailable, a cancelled context) leaves
// it pending.
type TransferSender struct {
	c *Client
}

// NewTransferSender returns the payouts port of c.
func NewTransferSender(c *Client) TransferSender { return TransferSender{c: c} }

// PushTransfer pushes t with [Client.PushTransfer].
func (s TransferSender) PushTransfer(ctx context.Context, t payouts.Transfer) (string, error) {
	id, err := s.c.PushTransfer(ctx, Transfer{PayoutID: t.PayoutID, Account: t.Account, Currency: t.Currency,
		Amount: t.Amount, Description: t.Description})
	if err != nil {
		return "", asRefusal(err, payouts.ErrTransferRefused)
	}
	return id, nil
}
