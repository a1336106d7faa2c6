package marketplace_test

// Helpers of the incremental property test: what a run reads (the
// payouts Advance asks for, one provider's part of the delta, the
// source), and dumps to compare ledgers.

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tally-billing/tally/aggregators/marketplace"
)

// askedPayouts keeps of the recorded payouts those Advance asks for: dated
// after the snapshot, failed, or dated at or after the latest payout of
// their provider and currency in the snapshot (all of a pair it lacks).
func askedPayouts(recorded []marketplace.Payout, snap *marketplace.Snapshot) []marketplace.Payout {
	var out []marketplace.Payout
	for _, p := range recorded {
		i := slices.IndexFunc(snap.Pairs, func(ps marketplace.PairState) bool {
			return ps.Provider == p.Provider && ps.Currency == p.Currency
		})
		if p.At.After(snap.At) || p.Status == marketplace.PayoutFailed || i < 0 || !p.At.Before(snap.Pairs[i].LastPayoutAt) {
			out = append(out, p)
		}
	}
	return out
}

// providerDelta keeps of delta what ProviderBalances needs for provider:
// its own events and payouts, and the sales of others naming the order
// id of one of its sales the snapshot accepted (accepted: the previous
// run's full ledger, nil before the first) or of one of its sales and
// refunds in delta.
func providerDelta(delta marketplace.Input, accepted *marketplace.Ledger, provider string) marketplace.Input {
	orders := map[string]bool{}
	for _, s := range delta.Sales {
		if s.Provider == provider {
			orders[s.OrderID] = true
		}
	}
	for _, r := range delta.Refunds {
		if r.Provider == provider {
			orders[r.OrderID] = true
		}
	}
	if accepted != nil {
		for _, s := range delta.Sales {
			if o, ok := accepted.Order(s.OrderID); ok && o.Sale.Provider == provider {
				orders[s.OrderID] = true
			}
		}
	}
	var out marketplace.Input
	for _, s := range delta.Sales {
		if s.Provider == provider || orders[s.OrderID] {
			out.Sales = append(out.Sales, s)
		}
	}
	for _, r := range delta.Refunds {
		if r.Provider == provider {
			out.Refunds = append(out.Refunds, r)
		}
	}
	for _, k := range delta.KYC {
		if k.Provider == provider {
			out.KYC = append(out.KYC, k)
		}
	}
	for _, p := range delta.Payouts {
		if p.Provider == provider {
			out.Payouts = append(out.Payouts, p)
		}
	}
	return out
}

// sourceOf is the Source of a run that read the events stored up to
// position, continuing snap: a provider's history is every event of it
// stored so far, with every payout of it recorded; an order's events are
// those the snapshot counted.
func sourceOf(events []stored, position int, snap *marketplace.Snapshot, asked *[]string, recorded []marketplace.Payout) marketplace.Source {
	pick := func(keep func(stored) bool) marketplace.Input {
		var in marketplace.Input
		for _, e := range events {
			if e.seq <= position && keep(e) {
				e.addTo(&in)
			}
		}
		return in
	}
	return marketplace.Source{
		History: func(providers []string) (marketplace.Input, error) {
			if asked != nil {
				*asked = append(*asked, providers...)
			}
			in := pick(func(e stored) bool { return slices.Contains(providers, e.provider()) })
			for _, p := range recorded {
				if slices.Contains(providers, p.Provider) {
					in.Payouts = append(in.Payouts, p)
				}
			}
			return in, nil
		},
		Orders: func(ids []string) (marketplace.Input, error) {
			return pick(func(e stored) bool {
				var order string
				switch {
				case e.sale != nil:
					order = e.sale.OrderID
				case e.refund != nil:
					order = e.refund.OrderID
				default:
					return false
				}
				return slices.Contains(ids, order) && uint64(e.seq) <= snap.Position && !e.at().After(snap.At)
			}), nil
		},
	}
}

func indexes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func dumpBalances(bs []marketplace.Balance) string {
	var b strings.Builder
	for _, x := range bs {
		fmt.Fprintf(&b, "%s %s held %s available %s paid %s\n", x.Provider, x.Currency.Code, x.Held, x.Available, x.Paid)
	}
	return b.String()
}

func dumpRun(r marketplace.Run) string {
	var b strings.Builder
	for _, p := range r.Payouts {
		fmt.Fprintf(&b, "pay %s %s %s %s to %s at %s\n", p.ID, p.Provider, p.Currency.Code, p.Amount, p.StripeAccount, p.At.Format(time.RFC3339Nano))
		dumpLines(&b, p.Lines)
	}
	for _, c := range r.Carried {
		fmt.Fprintf(&b, "carry %s %s held %s available %s: %s\n", c.Provider, c.Currency.Code, c.Held, c.Available, c.Reason)
	}
	return b.String()
}

func dumpLines(b *strings.Builder, lines []marketplace.StatementLine) {
	for _, l := range lines {
		fmt.Fprintf(b, "  %s %s order %s course %s refund %s payout %s entry %s %s\n", l.Kind, l.At.Format(time.RFC3339Nano),
			l.OrderID, l.CourseID, l.RefundID, l.PayoutID, l.EntryID, l.Amount)
	}
}

func dumpSnapshot(s *marketplace.Snapshot) string {
	var b strings.Builder
	fmt.Fprintf(&b, "at %s\n", s.At.Format(time.RFC3339Nano))
	for _, p := range s.Pairs {
		fmt.Fprintf(&b, "%s %s held %s available %s paid %s last %s %s opening %s\n", p.Provider, p.Currency.Code,
			p.Held, p.Available, p.Paid, p.LastPayoutID, p.LastPayoutAt.Format(time.RFC3339Nano), p.Opening)
		dumpLines(&b, p.Lines)
	}
	for _, o := range s.Orders {
		fmt.Fprintf(&b, "order %s %s %s %s/%s refunded %s share %s\n", o.Sale.OrderID, o.Sale.Provider, o.Sale.EventID,
			o.Sale.Gross, o.Sale.Tax, o.Refunded, o.Current.Share)
		for _, r := range o.Refunds {
			fmt.Fprintf(&b, "  refund %s %s %s %s\n", r.RefundID, r.EventID, r.At.Format(time.RFC3339Nano), r.Amount)
		}
	}
	for _, k := range s.KYC {
		fmt.Fprintf(&b, "kyc %s %s %v %s\n", k.Provider, k.At.Format(time.RFC3339Nano), k.Verified, k.StripeAccount)
	}
	for _, p := range s.Payouts {
		fmt.Fprintf(&b, "payout %s %s %s %s %s failed %s\n", p.ID, p.Provider, p.Amount, p.At.Format(time.RFC3339Nano), p.Status, p.FailedAt.Format(time.RFC3339Nano))
	}
	return b.String()
}

func entriesUpTo(es []marketplace.Entry, T time.Time) []marketplace.Entry {
	var out []marketplace.Entry
	for _, e := range es {
		if !e.At.After(T) {
			out = append(out, e)
		}
	}
	return out
}
