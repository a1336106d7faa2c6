package billing

import (
	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/aggregators"
	"github.com/tally-billing/tally/schemas"
)

// TenantActivity is what rating needs to know about one tenant, from every
// event before a cut-off instant.
type TenantActivity struct {
	Tenant string
	// Subscriptions are the subscription.* events, in time order (ties in
	// the order they were stored).
	Subscriptions []schemas.StoredEvent
	// Seats are the seat events, in time order.
	Seats []aggregators.SeatEvent
	// CreditsByMonth is the AI credits consumed per month ("YYYY-MM").
	CreditsByMonth map[string]decimal.Decimal
	// Packs are the ai.credits.pack_purchased events, in time order.
	Packs []*schemas.Event
}
