package billing

import (
	"context"
	"errors"
	"fmt"

	"github.com/tally-billing/tally/aggregators"
	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/schemas"
)

// UnbilledItem is usage no invoice covers, for example AI credits of a
// tenant that has no subscription in that period.
type UnbilledItem struct {
	Tenant   string `json:"tenant"`
	Period   string `json:"period"`
	Meter    string `json:"meter"`
	Quantity string `json:"quantity"`
	Reason   string `json:"reason"`
}

// Unbilled lists the usage of p that no invoice covers: the usage of
// tenants with no subscription in the period, credits consumed outside
// subscribed time, and tenants whose usage cannot be rated (with why).
func (s *Service) Unbilled(ctx context.Context, p Period) ([]UnbilledItem, error) {
	in, err := s.loadInputs(ctx, p)
	if err != nil {
		return nil, err
	}
	var out []UnbilledItem
	for _, f := range in.failures {
		out = append(out, UnbilledItem{Tenant: f.Tenant, Period: p.String(), Meter: "all", Reason: "cannot be rated: " + f.Reason})
	}
	for _, t := range in.tenants {
		ti := in.byTenant[t]
		res, err := rating.RateMonth(s.cfg.Book, t, ti.changes, ti.usage, p)
		switch {
		case errors.Is(err, rating.ErrNotSubscribed):
			out = append(out, noSubscription(t, p, in.acts[t])...)
		case err != nil:
			out = append(out, UnbilledItem{Tenant: t, Period: p.String(), Meter: "all", Reason: "cannot be rated: " + err.Error()})
		case res.UnbilledCredits.IsPositive():
			out = append(out, UnbilledItem{Tenant: t, Period: p.String(), Meter: "ai_credits",
				Quantity: res.UnbilledCredits.String(), Reason: "consumed outside subscribed time"})
		}
	}
	return out, nil
}

func noSubscription(t string, p Period, a *TenantActivity) []UnbilledItem {
	const reason = "no subscription in the period"
	var out []UnbilledItem
	if credits := a.CreditsByMonth[p.String()]; credits.IsPositive() {
		out = append(out, UnbilledItem{Tenant: t, Period: p.String(), Meter: "ai_credits", Quantity: credits.String(), Reason: reason})
	}
	seats := aggregators.PeakSeats(a.Seats, p.Start(), p.End())
	for _, kind := range []string{string(schemas.SeatLearner), string(schemas.SeatAuthor)} {
		if su, ok := seats[kind]; ok && su.Peak > 0 {
			out = append(out, UnbilledItem{Tenant: t, Period: p.String(), Meter: "seats:" + kind, Quantity: fmt.Sprint(su.Peak), Reason: reason})
		}
	}
	for _, pk := range a.Packs {
		if PeriodOf(pk.Time) == p {
			if d, ok := pk.Data.(*schemas.AIPackPurchased); ok {
				out = append(out, UnbilledItem{Tenant: t, Period: p.String(), Meter: "ai_pack:" + d.PackID,
					Quantity: d.Price.String() + " " + d.Currency.Code, Reason: reason})
			}
		}
	}
	return out
}
