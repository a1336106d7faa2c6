package main

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tally-billing/tally/aggregators"
	"github.com/tally-billing/tally/auth"
)

func newUsageCmd() *cobra.Command {
	var cf clientFlags
	var tenant, from, to string
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "Show a tenant's usage per meter (needs a finance key)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tenant == "" {
				return fmt.Errorf("--tenant is required")
			}
			q := url.Values{}
			if from != "" {
				q.Set("from", from)
			}
			if to != "" {
				q.Set("to", to)
			}
			return query(cmd, &cf, http.MethodGet, "/v1/tenants/"+url.PathEscape(tenant)+"/usage?"+q.Encode(), auth.RoleFinance, printUsage)
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant id (required)")
	cmd.Flags().StringVar(&from, "from", "", "start, RFC 3339 or YYYY-MM-DD (default: start of this month)")
	cmd.Flags().StringVar(&to, "to", "", "end, exclusive (default: start of next month)")
	annotateEnv(cmd)
	return cmd
}

func printUsage(w io.Writer, u aggregators.Usage) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "tenant %s, %s to %s\n\n", u.Tenant, u.From.Format("2006-01-02 15:04:05Z07:00"), u.To.Format("2006-01-02 15:04:05Z07:00"))
	fmt.Fprintln(tw, "METER\tDETAIL\tVALUE")
	fmt.Fprintf(tw, "ai credits\ttotal (%d events)\t%s\n", u.AICredits.Events, u.AICredits.Total)
	for _, f := range slices.Sorted(maps.Keys(u.AICredits.ByFeature)) {
		fmt.Fprintf(tw, "ai credits\t%s\t%s\n", f, u.AICredits.ByFeature[f])
	}
	fmt.Fprintf(tw, "ai packs\t%d purchased\t%s credits\n", u.AIPacks.Count, u.AIPacks.Credits)
	for _, k := range slices.Sorted(maps.Keys(u.Seats)) {
		s := u.Seats[k]
		fmt.Fprintf(tw, "seats\t%s peak\t%d\n", k, s.Peak)
		fmt.Fprintf(tw, "seats\t%s at end\t%d\n", k, s.AtEnd)
	}
	for _, c := range slices.Sorted(maps.Keys(u.Marketplace)) {
		m := u.Marketplace[c]
		fmt.Fprintf(tw, "marketplace\t%s sales\t%d (gross %s, tax %s)\n", c, m.Sales, m.Gross, m.Tax)
		fmt.Fprintf(tw, "marketplace\t%s refunds\t%d (%s)\n", c, m.Refunds, m.Refunded)
	}
	tw.Flush()
}
