package chstore

import (
	"context"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/finance"
	"github.com/tally-billing/tally/money"
)

// FinanceTrend reads the figures of every month in months (consecutive
// YYYY-MM strings, validated by the caller) from the finance views, one
// query per series, for the dashboard (docs/finance.md).
func (s *Finance) FinanceTrend(ctx context.Context, months []string) (finance.Trend, error) {
	from, to := months[0], months[len(months)-1]
	tr := finance.Trend{
		From: from, To: to, Months: months, Totals: []finance.TrendTotal{}, MRR: []finance.TrendMRRRow{},
		Revenue: []finance.TrendRevenueRow{}, AICredits: []finance.TrendAICreditRow{}, Marketplace: []finance.TrendMarketplaceRow{},
		Liabilities: []finance.TrendLiabilityRow{}, Invoices: []finance.TrendInvoice{}, Payouts: []finance.TrendPayout{},
	}
	amount := money.FormatCode
	sums := newTrendSums()

	err := s.each(ctx, "MRR trend", `
SELECT period, currency, plan, uniqExactIf(tenant, mrr != 0), sum(mrr), sum(arr)
FROM finance_mrr_tenants
WHERE period BETWEEN ? AND ?
GROUP BY period, currency, plan
ORDER BY period, currency, plan`, []any{from, to}, func(scan func(...any) error) error {
		var row finance.TrendMRRRow
		var mrr, arr decimal.Decimal
		if err := scan(&row.Period, &row.Currency, &row.Plan, &row.Tenants, &mrr, &arr); err != nil {
			return err
		}
		row.MRR, row.ARR = amount(mrr, row.Currency), amount(arr, row.Currency)
		t := sums.at(row.Period, row.Currency)
		t.mrr, t.arr = t.mrr.Add(mrr), t.arr.Add(arr)
		tr.MRR = append(tr.MRR, row)
		return nil
	})
	if err != nil {
		return tr, err
	}

	err = s.each(ctx, "revenue trend", `
SELECT period, currency, plan, sum(amount)
FROM finance_billed_revenue
WHERE period BETWEEN ? AND ?
GROUP BY period, currency, plan
ORDER BY period, currency, plan`, []any{from, to}, func(scan func(...any) error) error {
		var row finance.TrendRevenueRow
		var amt decimal.Decimal
		if err := scan(&row.Period, &row.Currency, &row.Plan, &amt); err != nil {
			return err
		}
		row.Amount = amount(amt, row.Currency)
		t := sums.at(row.Period, row.Currency)
		t.billed = t.billed.Add(amt)
		tr.Revenue = append(tr.Revenue, row)
		return nil
	})
	if err != nil {
		return tr, err
	}

	err = s.each(ctx, "AI credits trend", `
SELECT period, feature, uniqExact(tenant), sum(events), sum(credits)
FROM finance_ai_credits
WHERE period BETWEEN ? AND ?
GROUP BY period, feature
ORDER BY period, feature`, []any{from, to}, func(scan func(...any) error) error {
		var row finance.TrendAICreditRow
		var credits decimal.Decimal
		if err := scan(&row.Period, &row.Feature, &row.Tenants, &row.Events, &credits); err != nil {
			return err
		}
		row.Credits = credits.String()
		tr.AICredits = append(tr.AICredits, row)
		return nil
	})
	if err != nil {
		return tr, err
	}

	err = s.each(ctx, "marketplace trend", `
SELECT period, currency, sales, refund_count, gmv, refunds, tax, net, platform_fee, provider_share, take_rate
FROM finance_marketplace
WHERE period BETWEEN ? AND ?
ORDER BY period, currency`, []any{from, to}, func(scan func(...any) error) error {
		var row finance.TrendMarketplaceRow
		var gmv, refunds, tax, net, fee, share, take decimal.Decimal
		if err := scan(&row.Period, &row.Currency, &row.Sales, &row.Refunds, &gmv, &refunds, &tax, &net, &fee, &share, &take); err != nil {
			return err
		}
		c := row.Currency
		row.GMV, row.Refunded, row.Tax, row.Net = amount(gmv, c), amount(refunds, c), amount(tax, c), amount(net, c)
		row.PlatformFee, row.ProviderShare, row.TakeRate = amount(fee, c), amount(share, c), take.String()
		t := sums.at(row.Period, c)
		t.gmv, t.fee, t.take = gmv, fee, take
		tr.Marketplace = append(tr.Marketplace, row)
		return nil
	})
	if err != nil {
		return tr, err
	}

	// Each month's end: every provider's latest balance row at or before it.
	err = s.each(ctx, "liabilities trend", `
SELECT month, currency, count(), sum(h), sum(a), sum(p), sum(o), sum(n), countIf(n < 0)
FROM
(
    SELECT m.month AS month, b.provider AS provider, b.currency AS currency,
           argMax(b.held, b.period) AS h, argMax(b.available, b.period) AS a, argMax(b.paid, b.period) AS p,
           argMax(b.owed_to_providers, b.period) AS o, argMax(b.negative_balance, b.period) AS n
    FROM finance_provider_balances AS b
    CROSS JOIN (SELECT arrayJoin(CAST(? AS Array(String))) AS month) AS m
    WHERE b.period <= m.month
    GROUP BY month, provider, currency
)
GROUP BY month, currency
ORDER BY month, currency`, []any{months}, func(scan func(...any) error) error {
		var row finance.TrendLiabilityRow
		var held, avail, paid, owed, neg decimal.Decimal
		if err := scan(&row.Period, &row.Currency, &row.Providers, &held, &avail, &paid, &owed, &neg, &row.ProvidersNegative); err != nil {
			return err
		}
		c := row.Currency
		row.Held, row.Available, row.Paid = amount(held, c), amount(avail, c), amount(paid, c)
		row.OwedToProviders, row.NegativeBalance = amount(owed, c), amount(neg, c)
		sums.at(row.Period, c).owed = owed
		tr.Liabilities = append(tr.Liabilities, row)
		return nil
	})
	if err != nil {
		return tr, err
	}
	tr.Totals = sums.rows(months)

	err = s.each(ctx, "latest invoices", `
SELECT invoice_id, tenant, period, invoice_kind, plan, currency, total, status, status_reason, stripe_invoice_id, issued_at
FROM finance_invoices
WHERE period BETWEEN ? AND ?
ORDER BY issued_at DESC, invoice_id
LIMIT ?`, []any{from, to, finance.LatestRows}, func(scan func(...any) error) error {
		var inv finance.TrendInvoice
		var total decimal.Decimal
		var issued time.Time
		if err := scan(&inv.ID, &inv.Tenant, &inv.Period, &inv.Kind, &inv.Plan, &inv.Currency, &total, &inv.Status,
			&inv.StatusReason, &inv.StripeInvoiceID, &issued); err != nil {
			return err
		}
		inv.Total, inv.IssuedAt = amount(total, inv.Currency), issued.UTC().Format(time.RFC3339)
		tr.Invoices = append(tr.Invoices, inv)
		return nil
	})
	if err != nil {
		return tr, err
	}

	err = s.each(ctx, "latest payouts", `
SELECT payout_id, provider, currency, amount, as_of, status, status_reason, stripe_transfer_id
FROM payouts FINAL
WHERE formatDateTime(as_of, '%Y-%m') BETWEEN ? AND ?
ORDER BY as_of DESC, payout_id
LIMIT ?`, []any{from, to, finance.LatestRows}, func(scan func(...any) error) error {
		var p finance.TrendPayout
		var amt decimal.Decimal
		var asOf time.Time
		if err := scan(&p.ID, &p.Provider, &p.Currency, &amt, &asOf, &p.Status, &p.StatusReason, &p.StripeTransferID); err != nil {
			return err
		}
		p.Amount, p.AsOf = amount(amt, p.Currency), asOf.UTC().Format(time.RFC3339)
		tr.Payouts = append(tr.Payouts, p)
		return nil
	})
	return tr, err
}

// trendSum accumulates one month's headline figures in one currency,
// unrounded.
type trendSum struct {
	mrr, arr, billed, gmv, fee, take, owed decimal.Decimal
}

type trendKey struct{ period, currency string }

type trendSums struct {
	byKey      map[trendKey]*trendSum
	currencies map[string]decimal.Decimal
}

func newTrendSums() *trendSums {
	return &trendSums{byKey: map[trendKey]*trendSum{}, currencies: map[string]decimal.Decimal{}}
}

func (s *trendSums) at(period, currency string) *trendSum {
	s.currencies[currency] = decimal.Zero
	k := trendKey{period, currency}
	if s.byKey[k] == nil {
		s.byKey[k] = &trendSum{}
	}
	return s.byKey[k]
}

// rows returns a total for every month and every currency seen in the
// range (zero where a month has no figures), rounded to the currency.
func (s *trendSums) rows(months []string) []finance.TrendTotal {
	out := []finance.TrendTotal{}
	for _, m := range months {
		for _, c := range sortedKeys(s.currencies) {
			t := s.byKey[trendKey{m, c}]
			if t == nil {
				t = &trendSum{}
			}
			f := func(d decimal.Decimal) string { return money.FormatCode(d, c) }
			out = append(out, finance.TrendTotal{
				Period: m, Currency: c, MRR: f(t.mrr), ARR: f(t.arr), Billed: f(t.billed), GMV: f(t.gmv),
				PlatformFee: f(t.fee), TakeRate: t.take.String(),
				TakeRatePercent: t.take.Shift(2).StringFixedBank(2), OwedToProviders: f(t.owed),
			})
		}
	}
	return out
}
