package payouts

import (
	"context"
	"time"
)

// Balances returns a provider's balances as of asOf. It reads only what
// can change them (see [Service.deriveProvider]), not the whole
// marketplace, and answers what a run at asOf would see.
func (s *Service) Balances(ctx context.Context, provider string, asOf time.Time) (Balances, error) {
	d, err := s.deriveProvider(ctx, provider, asOf)
	if err != nil {
		return Balances{}, err
	}
	out := Balances{Provider: provider, AsOf: asOf.UTC(), Balances: []Balance{}}
	for _, b := range d.ledger.Balances(asOf) {
		if b.Provider == provider {
			out.Balances = append(out.Balances, Balance{Currency: b.Currency.Code, Held: b.Held, Available: b.Available, Paid: b.Paid})
		}
	}
	return out, nil
}
