package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tally-billing/tally/auth"
	"github.com/tally-billing/tally/webhooks"
)

func newWebhooksCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "webhooks", Short: "Manage webhook endpoints, read the delivery log, retry deliveries"}
	endpoints := &cobra.Command{Use: "endpoints", Short: "Register, list, delete endpoints and rotate their secrets"}
	endpoints.AddCommand(newWebhookEndpointsListCmd(), newWebhookEndpointsAddCmd(),
		newWebhookEndpointActionCmd("delete", "Delete an endpoint: nothing more is delivered to it", http.MethodDelete, ""),
		newWebhookEndpointActionCmd("rotate-secret", "Give an endpoint a new secret (the old one signs too for 24 h); prints it once", http.MethodPost, "/rotate-secret"))
	cmd.AddCommand(endpoints, newWebhookDeliveriesCmd(), newWebhookRetryCmd(), newWebhookTypesCmd())
	return cmd
}

func newWebhookEndpointsListCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use: "list", Short: "List the endpoints", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return query(cmd, &cf, http.MethodGet, "/v1/webhooks/endpoints", auth.RoleFinance, func(w io.Writer, res struct{ Endpoints []webhooks.Endpoint }) {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tURL\tTENANT\tEVENT TYPES\tDISABLED")
				for _, e := range res.Endpoints {
					disabled := ""
					if !e.DisabledAt.IsZero() {
						disabled = e.DisabledAt.Format("2006-01-02 15:04Z07:00")
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.ID, e.URL, e.Tenant, strings.Join(e.EventTypes, ","), disabled)
				}
				_ = tw.Flush()
			})
		},
	}
	cf.register(cmd)
	annotateEnv(cmd)
	return cmd
}

// secretAnswer is a registration's or a rotation's answer.
type secretAnswer struct {
	ID     string `json:"id"`
	URL    string `json:"url"`
	Secret string `json:"secret"`
}

func printSecret(w io.Writer, e secretAnswer) {
	fmt.Fprintf(w, "endpoint %s (%s)\nsecret %s\n(shown once: keep it now)\n", e.ID, e.URL, e.Secret)
}

func newWebhookEndpointsAddCmd() *cobra.Command {
	var cf clientFlags
	var types []string
	var tenant string
	cmd := &cobra.Command{
		Use: "add URL", Short: "Register an endpoint; prints its secret once", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := json.Marshal(webhooks.NewEndpoint{URL: args[0], EventTypes: types, Tenant: tenant})
			if err != nil {
				return err
			}
			return sendJSON(cmd, &cf, http.MethodPost, "/v1/webhooks/endpoints", body, printSecret)
		},
	}
	cf.register(cmd)
	cmd.Flags().StringSliceVar(&types, "type", nil, "event type to receive (repeat or comma-separate; `tally webhooks event-types` lists them)")
	cmd.Flags().StringVar(&tenant, "tenant", "", "receive only this tenant's events (default: every tenant's)")
	annotateEnv(cmd)
	return cmd
}

func newWebhookEndpointActionCmd(use, short, method, suffix string) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use: use + " ENDPOINT_ID", Short: short, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/v1/webhooks/endpoints/" + url.PathEscape(args[0]) + suffix
			if method == http.MethodDelete {
				return sendJSON(cmd, &cf, method, path, nil, func(w io.Writer, _ struct{}) { fmt.Fprintf(w, "endpoint %s deleted\n", args[0]) })
			}
			return sendJSON(cmd, &cf, method, path, nil, printSecret)
		},
	}
	cf.register(cmd)
	annotateEnv(cmd)
	return cmd
}

func newWebhookDeliveriesCmd() *cobra.Command {
	var cf clientFlags
	var endpoint, status string
	cmd := &cobra.Command{
		Use: "deliveries", Short: "Show the delivery log: each delivery and its attempts", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			if endpoint != "" {
				q.Set("endpoint", endpoint)
			}
			if status != "" {
				q.Set("status", status)
			}
			return query(cmd, &cf, http.MethodGet, "/v1/webhooks/deliveries?"+q.Encode(), auth.RoleFinance, printDeliveries)
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&endpoint, "endpoint", "", "only this endpoint's deliveries")
	cmd.Flags().StringVar(&status, "status", "", "only deliveries succeeded, pending or failed")
	annotateEnv(cmd)
	return cmd
}

func printDeliveries(w io.Writer, res struct{ Deliveries []webhooks.Delivery }) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DELIVERY\tMESSAGE\tTYPE\tENDPOINT\tSTATUS\tATTEMPT\tAT\tHTTP\tMS\tERROR")
	for _, d := range res.Deliveries {
		for _, a := range d.Attempts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%d\t%d\t%s\n", d.ID, d.MessageID, d.Type, d.EndpointID, d.Status,
				a.N, a.At.Format("2006-01-02 15:04:05Z07:00"), a.HTTPStatus, a.LatencyMS, a.Error)
		}
	}
	_ = tw.Flush()
}

func newWebhookRetryCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use: "retry DELIVERY_ID", Short: "Deliver a logged delivery again now (same message id)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return sendJSON(cmd, &cf, http.MethodPost, "/v1/webhooks/deliveries/"+url.PathEscape(args[0])+"/retry", nil,
				func(w io.Writer, res struct {
					DeliveryID string `json:"delivery_id"`
					MessageID  string `json:"message_id"`
				}) {
					fmt.Fprintf(w, "delivery %s (message %s) queued again\n", res.DeliveryID, res.MessageID)
				})
		},
	}
	cf.register(cmd)
	annotateEnv(cmd)
	return cmd
}

func newWebhookTypesCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use: "event-types", Short: "List the event types an endpoint may receive", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return query(cmd, &cf, http.MethodGet, "/v1/webhooks/event-types", auth.RoleFinance, func(w io.Writer, res struct {
				EventTypes []webhooks.CatalogueEntry `json:"event_types"`
			}) {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "TYPE\tEMITTED\tDESCRIPTION")
				for _, e := range res.EventTypes {
					fmt.Fprintf(tw, "%s\t%v\t%s\n", e.Type, e.Emitted, e.Description)
				}
				_ = tw.Flush()
			})
		},
	}
	cf.register(cmd)
	annotateEnv(cmd)
	return cmd
}

// sendJSON calls the API with a JSON body (or none) with the finance key
// and prints the answer like query.
func sendJSON[T any](cmd *cobra.Command, c *clientFlags, method, path string, body []byte, show func(io.Writer, T)) error {
	key, err := c.keyFor(auth.RoleFinance)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(cmd.Context(), method, c.url+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("calling %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("reading answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(out))
	}
	if c.json {
		_, err := cmd.OutOrStdout().Write(out)
		return err
	}
	var v T
	if len(bytes.TrimSpace(out)) > 0 {
		if err := json.Unmarshal(out, &v); err != nil {
			return fmt.Errorf("decoding the answer of %s: %w", path, err)
		}
	}
	show(cmd.OutOrStdout(), v)
	return nil
}
