package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tally-billing/tally/auth"
	"github.com/tally-billing/tally/billing"
	"github.com/tally-billing/tally/money"
)

func newCloseCmd() *cobra.Command {
	var cf clientFlags
	var period string
	cmd := &cobra.Command{
		Use:   "close",
		Short: "Close a billing period: rate, finalize and send every tenant's invoices (idempotent)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := billing.ParsePeriod(period)
			if err != nil {
				return err
			}
			return query(cmd, &cf, http.MethodPost, "/v1/periods/"+p.String()+"/close", auth.RoleFinance, func(w io.Writer, res billing.CloseResult) {
				state := "closed"
				if res.AlreadyClosed {
					state = "was already closed"
				}
				fmt.Fprintf(w, "period %s %s: %d invoices\n\n", res.Period, state, len(res.Invoices))
				printInvoiceTable(w, res.Invoices)
				printCloseFailures(w, res.Failures)
			})
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&period, "period", "", "period YYYY-MM (required)")
	annotateEnv(cmd)
	return cmd
}

// printCloseFailures lists the tenants a close could not rate; the
// period is closed without them and every later close retries them.
func printCloseFailures(w io.Writer, failures []billing.TenantFailure) {
	if len(failures) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%d tenants could not be rated (closed without them; the next close retries them):\n", len(failures))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tREASON")
	for _, f := range failures {
		fmt.Fprintf(tw, "%s\t%s\n", f.Tenant, f.Reason)
	}
	tw.Flush()
}

func newInvoicesCmd() *cobra.Command {
	var cf clientFlags
	var tenant, period string
	cmd := &cobra.Command{
		Use:   "invoices",
		Short: "List invoices with their lines",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			if tenant != "" {
				q.Set("tenant", tenant)
			}
			if period != "" {
				q.Set("period", period)
			}
			return query(cmd, &cf, http.MethodGet, "/v1/invoices?"+q.Encode(), auth.RoleFinance, func(w io.Writer, res struct {
				Invoices []billing.Invoice `json:"invoices"`
			}) {
				for _, inv := range res.Invoices {
					printInvoice(w, inv)
				}
				if len(res.Invoices) == 0 {
					fmt.Fprintln(w, "no invoices")
				}
			})
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant id (default: all)")
	cmd.Flags().StringVar(&period, "period", "", "period YYYY-MM (default: all)")
	annotateEnv(cmd)
	return cmd
}

func newUnbilledCmd() *cobra.Command {
	var cf clientFlags
	var period string
	cmd := &cobra.Command{
		Use:   "unbilled",
		Short: "Show usage of a period that no invoice covers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := billing.ParsePeriod(period)
			if err != nil {
				return err
			}
			return query(cmd, &cf, http.MethodGet, "/v1/unbilled?period="+p.String(), auth.RoleFinance, func(w io.Writer, res struct {
				Unbilled []billing.UnbilledItem `json:"unbilled"`
			}) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TENANT\tPERIOD\tMETER\tQUANTITY\tREASON")
				for _, u := range res.Unbilled {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Tenant, u.Period, u.Meter, u.Quantity, u.Reason)
				}
				tw.Flush()
			})
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&period, "period", "", "period YYYY-MM (required)")
	annotateEnv(cmd)
	return cmd
}

func printInvoiceTable(w io.Writer, invs []billing.Invoice) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INVOICE\tTENANT\tKIND\tPERIOD\tTOTAL\tSTATUS")
	for _, inv := range invs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s %s\t%s\n", inv.ID, inv.Tenant, inv.Kind, inv.Period, money.FormatCode(inv.Total, inv.Currency), inv.Currency, inv.Status)
	}
	tw.Flush()
}

func printInvoice(w io.Writer, inv billing.Invoice) {
	fmt.Fprintf(w, "%s  %s  %s %s  %s  price book %s\n", inv.ID, inv.Tenant, inv.Kind, inv.Period, inv.Status, inv.PriceBookVersion)
	if inv.StatusReason != "" {
		fmt.Fprintf(w, "  reason: %s\n", inv.StatusReason)
	}
	if inv.StripeInvoiceID != "" {
		fmt.Fprintf(w, "  stripe invoice %s (customer %s)\n", inv.StripeInvoiceID, inv.StripeCustomerID)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  KIND\tDESCRIPTION\tQUANTITY\tUNIT PRICE\tAMOUNT\tPERIOD\tFLAGS\t")
	for _, l := range inv.Lines {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", l.Kind, l.Description, l.Quantity, l.UnitPrice, money.FormatCode(l.Amount, inv.Currency), l.Period, strings.Join(l.Flags, ","))
	}
	fmt.Fprintf(tw, "  \t\t\t\tsubtotal %s\t\t\t\n", money.FormatCode(inv.Subtotal, inv.Currency))
	fmt.Fprintf(tw, "  \t\t\t\tdiscount %s\t\t\t\n", money.FormatCode(inv.Discount, inv.Currency))
	fmt.Fprintf(tw, "  \t\t\t\ttotal %s %s\t\t\t\n", money.FormatCode(inv.Total, inv.Currency), inv.Currency)
	tw.Flush()
	fmt.Fprintln(w)
}
