package payouts

import (
	"context"
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/tally-billing/tally/internal/moneytest"
	"github.com/tally-billing/tally/money"
)

// A provider's balance read from its own events (and the sales of others
// that claim its order ids) and its own payouts equals, to the minor unit,
// its balance in the ledger of the whole marketplace — the derivation a
// run makes, kept here as the reference. Histories are random: several
// providers and currencies, order ids shared between providers, refunds by
// the wrong provider, above the sale or of unknown orders, KYC changes,
// and payout runs whose transfers are paid, refused or left pending.
func TestProviderBalanceEqualsFullDerivation(t *testing.T) {
	providers := []string{"p1", "p2", "p3"}
	currencies := []money.Currency{usd, moneytest.Cur("JPY"), moneytest.Cur("EUR")}
	start := ts("2026-11-01")
	rapid.Check(t, func(rt *rapid.T) {
		w := newWorld(t, false)
		at := func(label string) time.Time {
			return start.Add(time.Duration(rapid.IntRange(0, 60*24).Draw(rt, label)) * time.Minute * 60)
		}
		nOrders := rapid.IntRange(1, 12).Draw(rt, "orders")
		for i := range nOrders {
			order := fmt.Sprintf("o%d", rapid.IntRange(0, nOrders).Draw(rt, "order id")) // ids repeat
			p := rapid.SampledFrom(providers).Draw(rt, "seller")
			c := rapid.SampledFrom(currencies).Draw(rt, "currency")
			gross := rapid.IntRange(0, 40000).Draw(rt, "gross minor")
			tax := rapid.IntRange(0, gross).Draw(rt, "tax minor")
			e := saleEvent(p, order, at("sale at").Format(time.RFC3339), c, minor(c, gross), minor(c, tax))
			e.ID = fmt.Sprintf("sale-%d", i)
			w.events.add(t, e)
			for j := range rapid.IntRange(0, 2).Draw(rt, "refunds") {
				by := p
				if rapid.IntRange(0, 5).Draw(rt, "wrong provider") == 0 {
					by = rapid.SampledFrom(providers).Draw(rt, "refunder")
				}
				r := refundEvent(by, order, fmt.Sprintf("r%d-%d", i, j), at("refund at").Format(time.RFC3339), c,
					minor(c, rapid.IntRange(1, 25000).Draw(rt, "refund minor")))
				w.events.add(t, r)
			}
		}
		for _, p := range providers {
			switch rapid.IntRange(0, 2).Draw(rt, "kyc") {
			case 1:
				w.events.add(t, kycEvent(p, at("verified").Format(time.RFC3339), "acct_"+p))
			case 2:
				w.events.add(t, kycEvent(p, start.Format(time.RFC3339), "acct_"+p))
				w.events.add(t, revokeEvent(p, at("revoked").Format(time.RFC3339)))
			}
		}
		// Transfers are sent concurrently: their outcomes follow from the
		// payout id and one draw, not from draws made by the sends.
		offset := rapid.IntRange(0, 2).Draw(rt, "transfer outcomes")
		w.sender.answer = func(tr Transfer, call int) error {
			switch (int(tr.PayoutID[len(tr.PayoutID)-1]) + call + offset) % 3 {
			case 1:
				return fmt.Errorf("refused: %w", ErrTransferRefused)
			case 2:
				return fmt.Errorf("stripe unavailable")
			}
			return nil
		}
		for _, asOf := range []time.Time{ts("2026-11-20"), ts("2026-12-01"), ts("2026-12-15")} {
			if rapid.Bool().Draw(rt, "run") {
				w.now = asOf.Add(time.Hour)
				_, _ = w.svc.RunPayouts(context.Background(), asOf) // a transient failure leaves payouts pending
			}
		}

		asOf := at("as of")
		full, err := w.svc.derive(context.Background(), asOf)
		if err != nil {
			rt.Fatal(err)
		}
		want := map[string]string{}
		for _, b := range full.ledger.Balances(asOf) {
			want[b.Provider] += fmt.Sprintf("%s held %s available %s paid %s; ", b.Currency.Code,
				money.FormatDecimal(b.Held), money.FormatDecimal(b.Available), money.FormatDecimal(b.Paid))
		}
		for _, p := range append(providers, "nobody") {
			got, err := w.svc.Balances(context.Background(), p, asOf)
			if err != nil {
				rt.Fatal(err)
			}
			var s string
			for _, b := range got.Balances {
				s += fmt.Sprintf("%s held %s available %s paid %s; ", b.Currency,
					money.FormatDecimal(b.Held), money.FormatDecimal(b.Available), money.FormatDecimal(b.Paid))
			}
			if s != want[p] {
				rt.Fatalf("%s as of %s:\n  filtered %s\n  full     %s", p, asOf, s, want[p])
			}
		}
	})
}

// minor writes n minor units of c as a decimal literal.
func minor(c money.Currency, n int) string {
	return money.FormatDecimal(c.FromMinor(int64(n)))
}

func TestBalancesOfAProviderWithoutEventsIsEmpty(t *testing.T) {
	w := newWorld(t, false)
	w.specHistory(t)
	b, err := w.svc.Balances(context.Background(), "prov-nobody", dec1)
	if err != nil || b.Provider != "prov-nobody" || !b.AsOf.Equal(dec1) || b.Balances == nil || len(b.Balances) != 0 {
		t.Errorf("got %+v, %v; want an empty list", b, err)
	}
	// It read that provider's events only.
	if got := w.events.reads; len(got) != 1 || got[0] != "provider prov-nobody" {
		t.Errorf("reads %v", got)
	}
}
