package chstore

import (
	"context"
	"fmt"
	"sort"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/finance"
	"github.com/tally-billing/tally/money"
)

// finance.Report reads period's figures (YYYY-MM, validated by the caller)
// from the finance views, one query per section.
func (s *Finance) FinanceReport(ctx context.Context, period string) (finance.Report, error) {
	r := finance.Report{
		Period: period, BilledRevenue: []finance.RevenueRow{}, BilledTotals: []finance.CurrencyAmount{}, Discounts: []finance.DiscountRow{},
		MRR: []finance.MRRRow{}, AICredits: []finance.AICreditRow{}, AIAllowance: []finance.AIAllowanceRow{}, Marketplace: []finance.MarketplaceRow{},
		Liabilities: []finance.LiabilityRow{},
	}
	amount := money.FormatCode

	totals := map[string]decimal.Decimal{}
	err := s.each(ctx, "billed revenue", `
SELECT currency, plan, term, invoice_kind, kind, adjusts, invoices, lines, amount
FROM finance_billed_revenue
WHERE period = ?
ORDER BY currency, plan, term, invoice_kind, kind, adjusts`, []any{period}, func(scan func(...any) error) error {
		var row finance.RevenueRow
		var amt decimal.Decimal
		if err := scan(&row.Currency, &row.Plan, &row.Term, &row.InvoiceKind, &row.Kind, &row.Adjusts, &row.Invoices, &row.Lines, &amt); err != nil {
			return err
		}
		row.Amount = amount(amt, row.Currency)
		totals[row.Currency] = totals[row.Currency].Add(amt)
		r.BilledRevenue = append(r.BilledRevenue, row)
		return nil
	})
	if err != nil {
		return r, err
	}
	for _, c := range sortedKeys(totals) {
		r.BilledTotals = append(r.BilledTotals, finance.CurrencyAmount{Currency: c, Amount: amount(totals[c], c)})
	}

	err = s.each(ctx, "discounts", `
SELECT currency, plan, term, credit, rate, invoices, discounted_fees, discount_given
FROM finance_discounts
WHERE period = ?
ORDER BY currency, term, plan, credit, rate`, []any{period}, func(scan func(...any) error) error {
		var row finance.DiscountRow
		var credit uint8
		var rate, fees, given decimal.Decimal
		if err := scan(&row.Currency, &row.Plan, &row.Term, &credit, &rate, &row.Invoices, &fees, &given); err != nil {
			return err
		}
		row.Credit, row.Rate = credit != 0, rate.String()
		row.DiscountedFees, row.DiscountGiven = amount(fees, row.Currency), amount(given, row.Currency)
		r.Discounts = append(r.Discounts, row)
		return nil
	})
	if err != nil {
		return r, err
	}

	err = s.each(ctx, "MRR", `
SELECT currency, plan, term, tenants, mrr, arr
FROM finance_mrr
WHERE period = ?
ORDER BY currency, plan, term`, []any{period}, func(scan func(...any) error) error {
		var row finance.MRRRow
		var mrr, arr decimal.Decimal
		if err := scan(&row.Currency, &row.Plan, &row.Term, &row.Tenants, &mrr, &arr); err != nil {
			return err
		}
		row.MRR, row.ARR = amount(mrr, row.Currency), amount(arr, row.Currency)
		r.MRR = append(r.MRR, row)
		return nil
	})
	if err != nil {
		return r, err
	}

	err = s.each(ctx, "AI credits", `
SELECT feature, model, uniqExact(tenant), sum(events), sum(credits)
FROM finance_ai_credits
WHERE period = ?
GROUP BY feature, model
ORDER BY feature, model`, []any{period}, func(scan func(...any) error) error {
		var row finance.AICreditRow
		var credits decimal.Decimal
		if err := scan(&row.Feature, &row.Model, &row.Tenants, &row.Events, &credits); err != nil {
			return err
		}
		row.Credits = credits.String()
		r.AICredits = append(r.AICredits, row)
		return nil
	})
	if err != nil {
		return r, err
	}

	err = s.each(ctx, "AI allowance", `
SELECT currency, uniqExact(tenant), sum(credits_consumed), sum(allowance_used), sum(from_packs),
       sum(overage_credits), sum(overage_billed)
FROM finance_ai_allowance
WHERE period = ?
GROUP BY currency
ORDER BY currency`, []any{period}, func(scan func(...any) error) error {
		var row finance.AIAllowanceRow
		var consumed, allowance, packs, over, billed decimal.Decimal
		if err := scan(&row.Currency, &row.Tenants, &consumed, &allowance, &packs, &over, &billed); err != nil {
			return err
		}
		row.CreditsConsumed, row.AllowanceUsed, row.FromPacks, row.OverageCredits = consumed.String(), allowance.String(), packs.String(), over.String()
		row.OverageBilled = amount(billed, row.Currency)
		r.AIAllowance = append(r.AIAllowance, row)
		return nil
	})
	if err != nil {
		return r, err
	}

	err = s.each(ctx, "marketplace", `
SELECT currency, sales, refund_count, gmv, refunds, tax, net, platform_fee, provider_share, take_rate
FROM finance_marketplace
WHERE period = ?
ORDER BY currency`, []any{period}, func(scan func(...any) error) error {
		var row finance.MarketplaceRow
		var gmv, refunds, tax, net, fee, share, take decimal.Decimal
		if err := scan(&row.Currency, &row.Sales, &row.Refunds, &gmv, &refunds, &tax, &net, &fee, &share, &take); err != nil {
			return err
		}
		c := row.Currency
		row.GMV, row.Refunded, row.Tax, row.Net = amount(gmv, c), amount(refunds, c), amount(tax, c), amount(net, c)
		row.PlatformFee, row.ProviderShare, row.TakeRate = amount(fee, c), amount(share, c), take.String()
		r.Marketplace = append(r.Marketplace, row)
		return nil
	})
	if err != nil {
		return r, err
	}

	err = s.each(ctx, "provider liabilities", `
SELECT currency, count(), sum(h), sum(a), sum(p), sum(o), sum(n), countIf(n < 0)
FROM
(
    SELECT provider, currency,
           argMax(held, period) AS h, argMax(available, period) AS a, argMax(paid, period) AS p,
           argMax(owed_to_providers, period) AS o, argMax(negative_balance, period) AS n
    FROM finance_provider_balances
    WHERE period <= ?
    GROUP BY provider, currency
)
GROUP BY currency
ORDER BY currency`, []any{period}, func(scan func(...any) error) error {
		var row finance.LiabilityRow
		var held, avail, paid, owed, neg decimal.Decimal
		if err := scan(&row.Currency, &row.Providers, &held, &avail, &paid, &owed, &neg, &row.ProvidersNegative); err != nil {
			return err
		}
		c := row.Currency
		row.Held, row.Available, row.Paid = amount(held, c), amount(avail, c), amount(paid, c)
		row.OwedToProviders, row.NegativeBalance = amount(owed, c), amount(neg, c)
		r.Liabilities = append(r.Liabilities, row)
		return nil
	})
	return r, err
}

// each runs a query and hands every row to fn.
func (s *Finance) each(ctx context.Context, what, query string, args []any, fn func(scan func(...any) error) error) error {
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("querying %s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return fmt.Errorf("scanning %s: %w", what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", what, err)
	}
	return nil
}

func sortedKeys(m map[string]decimal.Decimal) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
