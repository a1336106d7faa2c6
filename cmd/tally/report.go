package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tally-billing/tally/auth"
	"github.com/tally-billing/tally/billing"
	"github.com/tally-billing/tally/finance"
)

func newReportCmd() *cobra.Command {
	var cf clientFlags
	var period string
	var asCSV bool
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Show a month's finance figures: billed revenue, discounts, MRR/ARR, AI credits, marketplace, provider liabilities",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := billing.ParsePeriod(period)
			if err != nil {
				return err
			}
			if asCSV && cf.json {
				return errors.New("--json and --csv exclude each other")
			}
			path := "/v1/reports?period=" + p.String()
			if asCSV {
				body, err := cf.call(cmd.Context(), http.MethodGet, path, auth.RoleFinance)
				if err != nil {
					return err
				}
				var rep finance.Report
				if err := json.Unmarshal(body, &rep); err != nil {
					return fmt.Errorf("decoding the answer of %s: %w", path, err)
				}
				return writeReportCSV(cmd.OutOrStdout(), rep)
			}
			return query(cmd, &cf, http.MethodGet, path, auth.RoleFinance, printReport)
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&period, "period", "", "period YYYY-MM (required)")
	cmd.Flags().BoolVar(&asCSV, "csv", false, "print CSV: one row per figure (period, section, dimensions, metric, value)")
	annotateEnv(cmd)
	return cmd
}

// printReport shows the report as one table per section.
func printReport(w io.Writer, r finance.Report) {
	fmt.Fprintf(w, "Finance report %s\n", r.Period)
	section := func(title, header string, n int, rows func(tw io.Writer)) {
		fmt.Fprintf(w, "\n%s\n", title)
		if n == 0 {
			fmt.Fprintln(w, "  (none)")
			return
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  "+header)
		rows(tw)
		tw.Flush()
	}
	section("Billed revenue (invoices of the period)", "CURRENCY\tPLAN\tTERM\tINVOICE\tLINE KIND\tINVOICES\tLINES\tAMOUNT", len(r.BilledRevenue), func(tw io.Writer) {
		for _, x := range r.BilledRevenue {
			kind := x.Kind
			if x.Adjusts != "" {
				kind += " (" + x.Adjusts + ")"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", x.Currency, x.Plan, x.Term, x.InvoiceKind, kind, x.Invoices, x.Lines, x.Amount)
		}
		for _, t := range r.BilledTotals {
			fmt.Fprintf(tw, "  %s\ttotal\t\t\t\t\t\t%s\n", t.Currency, t.Amount)
		}
	})
	section("Discounts given", "CURRENCY\tTERM\tPLAN\tRATE\tCREDIT\tINVOICES\tON FEES\tDISCOUNT", len(r.Discounts), func(tw io.Writer) {
		for _, x := range r.Discounts {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%t\t%d\t%s\t%s\n", x.Currency, x.Term, x.Plan, x.Rate, x.Credit, x.Invoices, x.DiscountedFees, x.DiscountGiven)
		}
	})
	section("MRR / ARR", "CURRENCY\tPLAN\tTERM\tTENANTS\tMRR\tARR", len(r.MRR), func(tw io.Writer) {
		for _, x := range r.MRR {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\t%s\n", x.Currency, x.Plan, x.Term, x.Tenants, x.MRR, x.ARR)
		}
	})
	section("AI credits consumed", "FEATURE\tMODEL\tTENANTS\tEVENTS\tCREDITS", len(r.AICredits), func(tw io.Writer) {
		for _, x := range r.AICredits {
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%s\n", x.Feature, x.Model, x.Tenants, x.Events, x.Credits)
		}
	})
	section("AI allowance and overage", "CURRENCY\tTENANTS\tCONSUMED\tALLOWANCE USED\tFROM PACKS\tOVERAGE\tOVERAGE BILLED", len(r.AIAllowance), func(tw io.Writer) {
		for _, x := range r.AIAllowance {
			cur := x.Currency
			if cur == "" {
				cur = "(no invoice)"
			}
			fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\t%s\n", cur, x.Tenants, x.CreditsConsumed, x.AllowanceUsed, x.FromPacks, x.OverageCredits, x.OverageBilled)
		}
	})
	section("Marketplace", "CURRENCY\tSALES\tREFUNDS\tGMV\tREFUNDED\tTAX\tNET\tPLATFORM FEE\tPROVIDER SHARE\tTAKE RATE", len(r.Marketplace), func(tw io.Writer) {
		for _, x := range r.Marketplace {
			fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.Currency, x.Sales, x.Refunds, x.GMV, x.Refunded, x.Tax, x.Net, x.PlatformFee, x.ProviderShare, x.TakeRate)
		}
	})
	section("Provider liabilities at the end of "+r.Period, "CURRENCY\tPROVIDERS\tHELD\tAVAILABLE\tPAID\tOWED TO PROVIDERS\tNEGATIVE\tPROVIDERS NEGATIVE", len(r.Liabilities), func(tw io.Writer) {
		for _, x := range r.Liabilities {
			fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\t%s\t%d\n", x.Currency, x.Providers, x.Held, x.Available, x.Paid, x.OwedToProviders, x.NegativeBalance, x.ProvidersNegative)
		}
	})
}

// writeReportCSV writes the report in long form, one figure per row, so a
// spreadsheet can pivot it: period, section, currency, plan, term, kind,
// feature, model, metric, value. Dimensions a section lacks are empty.
func writeReportCSV(w io.Writer, r finance.Report) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"period", "section", "currency", "plan", "term", "kind", "feature", "model", "metric", "value"})
	type dims struct{ section, currency, plan, term, kind, feature, model string }
	put := func(d dims, metric, value string) {
		_ = cw.Write([]string{r.Period, d.section, d.currency, d.plan, d.term, d.kind, d.feature, d.model, metric, value})
	}
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	for _, x := range r.BilledRevenue {
		kind := x.InvoiceKind + "/" + x.Kind
		if x.Adjusts != "" {
			kind += "/" + x.Adjusts
		}
		d := dims{section: "billed_revenue", currency: x.Currency, plan: x.Plan, term: x.Term, kind: kind}
		put(d, "invoices", u(x.Invoices))
		put(d, "lines", u(x.Lines))
		put(d, "amount", x.Amount)
	}
	for _, x := range r.BilledTotals {
		put(dims{section: "billed_total", currency: x.Currency}, "amount", x.Amount)
	}
	for _, x := range r.Discounts {
		kind := "discount"
		if x.Credit {
			kind = "credit"
		}
		d := dims{section: "discounts", currency: x.Currency, plan: x.Plan, term: x.Term, kind: kind}
		put(d, "rate", x.Rate)
		put(d, "invoices", u(x.Invoices))
		put(d, "discounted_fees", x.DiscountedFees)
		put(d, "discount_given", x.DiscountGiven)
	}
	for _, x := range r.MRR {
		d := dims{section: "mrr", currency: x.Currency, plan: x.Plan, term: x.Term}
		put(d, "tenants", u(x.Tenants))
		put(d, "mrr", x.MRR)
		put(d, "arr", x.ARR)
	}
	for _, x := range r.AICredits {
		d := dims{section: "ai_credits", feature: x.Feature, model: x.Model}
		put(d, "tenants", u(x.Tenants))
		put(d, "events", u(x.Events))
		put(d, "credits", x.Credits)
	}
	for _, x := range r.AIAllowance {
		d := dims{section: "ai_allowance", currency: x.Currency}
		put(d, "tenants", u(x.Tenants))
		put(d, "credits_consumed", x.CreditsConsumed)
		put(d, "allowance_used", x.AllowanceUsed)
		put(d, "from_packs", x.FromPacks)
		put(d, "overage_credits", x.OverageCredits)
		put(d, "overage_billed", x.OverageBilled)
	}
	for _, x := range r.Marketplace {
		d := dims{section: "marketplace", currency: x.Currency}
		put(d, "sales", u(x.Sales))
		put(d, "refunds", u(x.Refunds))
		put(d, "gmv", x.GMV)
		put(d, "refunded", x.Refunded)
		put(d, "tax", x.Tax)
		put(d, "net", x.Net)
		put(d, "platform_fee", x.PlatformFee)
		put(d, "provider_share", x.ProviderShare)
		put(d, "take_rate", x.TakeRate)
	}
	for _, x := range r.Liabilities {
		d := dims{section: "provider_liabilities", currency: x.Currency}
		put(d, "providers", u(x.Providers))
		put(d, "held", x.Held)
		put(d, "available", x.Available)
		put(d, "paid", x.Paid)
		put(d, "owed_to_providers", x.OwedToProviders)
		put(d, "negative_balance", x.NegativeBalance)
		put(d, "providers_negative", u(x.ProvidersNegative))
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("writing CSV: %w", err)
	}
	return nil
}
