package main

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/shopspring/decimal"
	"github.com/spf13/cobra"

	"github.com/tally-billing/tally/auth"
	"github.com/tally-billing/tally/entitlements"
)

func newEntitlementsCmd() *cobra.Command {
	var cf clientFlags
	var tenant, capability string
	cmd := &cobra.Command{
		Use:   "entitlements",
		Short: "Show what a tenant may do now, or check one capability (needs a finance key or the tenant's key)",
		Long: `Show a tenant's live entitlements (SPEC §6): plan, term, add-ons, every
capability of the matrix with whether it is allowed and why, feature flags,
seats and AI credits. With --check, answer one capability: a capability of
the matrix, seats.learner, seats.author or ai_credits. The answer includes
every event acknowledged before the command (read-your-writes).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tenant == "" {
				return fmt.Errorf("--tenant is required")
			}
			path := "/v1/tenants/" + url.PathEscape(tenant) + "/entitlements"
			if capability != "" {
				return query(cmd, &cf, http.MethodGet, path+"/"+url.PathEscape(capability), auth.RoleFinance, printCheck)
			}
			return query(cmd, &cf, http.MethodGet, path, auth.RoleFinance, printEntitlements)
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant id (required)")
	cmd.Flags().StringVar(&capability, "check", "", "answer one capability (e.g. sso_scim, seats.learner, ai_credits)")
	annotateEnv(cmd)
	return cmd
}

// printCheck shows one check: "seats.learner: allowed (seats_available),
// used 49 of 50, 1 remaining".
func printCheck(w io.Writer, c entitlements.CheckResult) {
	verdict := "not allowed"
	if c.Allowed {
		verdict = "allowed"
	}
	line := fmt.Sprintf("%s: %s (%s)", c.Capability, verdict, c.Reason)
	if c.Value != "" {
		line += ", value " + c.Value
	}
	if c.Used != nil {
		line += ", used " + c.Used.String()
		if c.Limit != nil {
			line += " of " + c.Limit.String()
		}
	}
	if c.Remaining != nil {
		line += ", " + c.Remaining.String() + " remaining"
	}
	fmt.Fprintln(w, line)
}

// printEntitlements shows a tenant's whole view.
func printEntitlements(w io.Writer, v entitlements.View) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if !v.Subscribed {
		fmt.Fprintf(tw, "tenant %s: no subscription now; allowed nothing (as of %s, position %d)\n",
			v.Tenant, v.AsOf.Format("2006-01-02 15:04:05Z07:00"), v.Position)
	} else {
		addons := "none"
		if len(v.Addons) > 0 {
			addons = strings.Join(v.Addons, ", ")
		}
		fmt.Fprintf(tw, "tenant %s: plan %s, term %s, %s, add-ons: %s (as of %s, position %d)\n",
			v.Tenant, v.Plan, v.Term, v.Currency, addons, v.AsOf.Format("2006-01-02 15:04:05Z07:00"), v.Position)
	}
	fmt.Fprintln(tw, "\nCAPABILITY\tVALUE\tALLOWED\tREASON")
	for _, c := range v.Capabilities {
		value := c.Value
		if c.AddonActive {
			value += " (active)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Capability, value, yesNo(c.Allowed), c.Reason)
	}
	if len(v.Seats) > 0 {
		fmt.Fprintln(tw, "\nSEATS\tINCLUDED\tLIMIT\tASSIGNED\tREMAINING")
		for _, k := range slices.Sorted(maps.Keys(v.Seats)) {
			s := v.Seats[k]
			limit, remaining := "none", "-"
			if s.Limit != nil {
				limit = fmt.Sprint(*s.Limit)
				if len(s.SharedWith) > 0 {
					limit += " (shared with " + strings.Join(s.SharedWith, ", ") + ")"
				}
			}
			if s.Remaining != nil {
				remaining = fmt.Sprint(*s.Remaining)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\n", k, s.Included, limit, s.Assigned, remaining)
		}
	}
	ai := v.AICredits
	fmt.Fprintf(tw, "\nAI CREDITS %s\t\n", ai.Period)
	fmt.Fprintf(tw, "allowance\t%s\n", ai.Allowance)
	fmt.Fprintf(tw, "pack credits left\t%s\n", ai.PackCreditsLeft)
	fmt.Fprintf(tw, "consumed\t%s\n", ai.Consumed)
	fmt.Fprintf(tw, "remaining before overage\t%s\n", ai.RemainingBeforeOverage)
	fmt.Fprintf(tw, "cap\t%s\n", orNone(ai.Cap))
	fmt.Fprintf(tw, "remaining before cap\t%s\n", orNone(ai.RemainingBeforeCap))
	if len(v.Flags) > 0 {
		fmt.Fprintln(tw, "\nFLAG\tENABLED")
		for _, k := range slices.Sorted(maps.Keys(v.Flags)) {
			fmt.Fprintf(tw, "%s\t%s\n", k, yesNo(v.Flags[k]))
		}
	}
	if len(v.Sellers) > 0 {
		fmt.Fprintf(tw, "\nseller under: %s\n", strings.Join(v.Sellers, ", "))
	}
	tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orNone(d *decimal.Decimal) string {
	if d == nil {
		return "none"
	}
	return d.String()
}
