package payouts

import (
	"fmt"

	"github.com/tally-billing/tally/aggregators/marketplace"
)

func fromEngine(p marketplace.Payout) Payout {
	out := Payout{ID: p.ID, Provider: p.Provider, Currency: p.Currency.Code, Amount: p.Amount, AsOf: p.At.UTC(),
		Account: p.StripeAccount, Status: StatusPending}
	for _, l := range p.Lines {
		ref := l.OrderID
		switch {
		case l.RefundID != "":
			ref = l.RefundID
		case l.PayoutID != "":
			ref = l.PayoutID
		}
		out.Statement = append(out.Statement, StatementLine{Kind: string(l.Kind), Ref: ref, At: l.At.UTC(),
			Description: describe(l), Amount: l.Amount})
	}
	return out
}

func describe(l marketplace.StatementLine) string {
	switch l.Kind {
	case marketplace.LineSale:
		return fmt.Sprintf("share of order %s (course %s)", l.OrderID, l.CourseID)
	case marketplace.LineRefund:
		return fmt.Sprintf("refund %s of order %s", l.RefundID, l.OrderID)
	case marketplace.LineClawback:
		return fmt.Sprintf("clawback: refund %s of order %s after payout", l.RefundID, l.OrderID)
	case marketplace.LineReturnedPayout:
		return fmt.Sprintf("payout %s returned by Stripe", l.PayoutID)
	}
	return "balance carried over from the previous payout"
}
