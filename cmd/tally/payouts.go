package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tally-billing/tally/auth"
	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/payouts"
)

func newBalanceCmd() *cobra.Command {
	var cf clientFlags
	var provider, asOf string
	cmd := &cobra.Command{
		Use:   "balance",
		Short: "Show a provider's held, available and paid balances",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if provider == "" {
				return fmt.Errorf("--provider is required")
			}
			q := url.Values{}
			if asOf != "" {
				q.Set("as_of", asOf)
			}
			return query(cmd, &cf, http.MethodGet, "/v1/providers/"+url.PathEscape(provider)+"/balance?"+q.Encode(), auth.RoleFinance, printBalances)
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&provider, "provider", "", "provider id (required)")
	cmd.Flags().StringVar(&asOf, "as-of", "", "instant, RFC 3339 or YYYY-MM-DD (default: now)")
	annotateEnv(cmd)
	return cmd
}

func newPayoutsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "payouts", Short: "Run and list provider payouts"}
	cmd.AddCommand(newPayoutsRunCmd(), newPayoutsListCmd())
	return cmd
}

func newPayoutsRunCmd() *cobra.Command {
	var cf clientFlags
	var asOf string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Pay every KYC-verified provider its available balance as of an instant (idempotent)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asOf == "" {
				return fmt.Errorf("--as-of is required")
			}
			return query(cmd, &cf, http.MethodPost, "/v1/payouts/run?as_of="+url.QueryEscape(asOf), auth.RoleFinance, func(w io.Writer, res payouts.RunResult) {
				state := "ran"
				if res.AlreadyRun {
					state = "had already run"
				}
				fmt.Fprintf(w, "payout run as of %s %s: %d payouts\n\n", res.AsOf.Format("2006-01-02 15:04:05Z07:00"), state, len(res.Payouts))
				printPayouts(w, res.Payouts)
			})
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&asOf, "as-of", "", "run time, RFC 3339 or YYYY-MM-DD (required)")
	annotateEnv(cmd)
	return cmd
}

func newPayoutsListCmd() *cobra.Command {
	var cf clientFlags
	var provider string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List payouts with their statements",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return query(cmd, &cf, http.MethodGet, "/v1/payouts?provider="+url.QueryEscape(provider), auth.RoleFinance, func(w io.Writer, res struct {
				Payouts []payouts.Payout `json:"payouts"`
			}) {
				printPayouts(w, res.Payouts)
			})
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&provider, "provider", "", "provider id (default: all)")
	annotateEnv(cmd)
	return cmd
}

func printBalances(w io.Writer, b payouts.Balances) {
	fmt.Fprintf(w, "provider %s as of %s\n\n", b.Provider, b.AsOf.Format("2006-01-02 15:04:05Z07:00"))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "CURRENCY\tHELD\tAVAILABLE\tPAID\t")
	for _, x := range b.Balances {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", x.Currency, money.FormatCode(x.Held, x.Currency),
			money.FormatCode(x.Available, x.Currency), money.FormatCode(x.Paid, x.Currency))
	}
	tw.Flush()
}

func printPayouts(w io.Writer, list []payouts.Payout) {
	if len(list) == 0 {
		fmt.Fprintln(w, "no payouts")
		return
	}
	for _, p := range list {
		fmt.Fprintf(w, "%s  %s  %s %s  %s  to %s  as of %s\n", p.ID, p.Provider, money.FormatCode(p.Amount, p.Currency), p.Currency,
			p.Status, p.Account, p.AsOf.Format("2006-01-02 15:04:05Z07:00"))
		if p.StatusReason != "" {
			fmt.Fprintf(w, "  reason: %s\n", p.StatusReason)
		}
		if p.StripeTransferID != "" {
			fmt.Fprintf(w, "  stripe transfer %s\n", p.StripeTransferID)
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, l := range p.Statement {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", l.Kind, l.Ref, l.At.Format("2006-01-02 15:04:05Z07:00"), l.Description, money.FormatCode(l.Amount, p.Currency))
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
}
