package chstore

import (
	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/schemas"
)

// hotFields are the typed columns of an events row; fields a type does not
// have stay zero.
type hotFields struct {
	credits, amount, tax                                decimal.Decimal
	feature, model, userID, seatType, orderID, currency string
}

func hotFieldsOf(e *schemas.Event) hotFields {
	var f hotFields
	switch d := e.Data.(type) {
	case *schemas.AICreditsConsumed:
		f.credits, f.feature, f.model, f.userID = d.Credits, string(d.Feature), d.Model, d.UserID
	case *schemas.AIPackPurchased:
		f.credits, f.amount, f.currency = d.Credits, d.Price, d.Currency.Code
	case *schemas.SeatChange:
		f.userID, f.seatType = d.UserID, string(d.SeatType)
	case *schemas.Subscription:
		f.currency = d.Currency.Code
	case *schemas.SaleCompleted:
		f.orderID, f.amount, f.tax, f.currency = d.OrderID, d.Gross, d.Tax, d.Currency.Code
	case *schemas.RefundIssued:
		f.orderID, f.amount, f.currency = d.OrderID, d.Amount, d.Currency.Code
	}
	return f
}
