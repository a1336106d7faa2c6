package rating_test

import (
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/tally-billing/tally/aggregators"
	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

// propBook is the default book with a 10 % monthly discount, so that the
// discount rules are exercised on monthly invoices too.
func propBook() *pricebook.Book {
	b := pricebook.Default()
	b.Terms[schemas.TermMonthly] = pricebook.Term{Key: schemas.TermMonthly, Discount: decimal.RequireFromString("0.10")}
	return b
}

var (
	octStart = ts("2026-10-01")
	novStart = ts("2026-11-01")
	decStart = ts("2026-12-01")
)

type scenario struct {
	currency money.Currency
	subs     []rating.SubscriptionChange
	usage    rating.Usage
}

func genScenario(t *rapid.T) scenario {
	sc := scenario{currency: cur(rapid.SampledFrom([]string{"USD", "EUR", "JPY"}).Draw(t, "currency"))}
	plans := []string{"starter", "team", "business", "enterprise", "enterprise_plus", "healthcare", "marketplace_provider"}
	span := int64(decStart.Sub(octStart) / time.Second)
	at := func(label string) time.Time {
		return octStart.Add(time.Duration(rapid.Int64Range(0, span-1).Draw(t, label)) * time.Second)
	}
	if rapid.IntRange(0, 3).Draw(t, "prepaid") == 0 {
		// One prepaid start in October, no further change.
		s := schemas.Subscription{
			Plan: rapid.SampledFrom(plans).Draw(t, "plan"), Term: rapid.SampledFrom([]schemas.Term{annual, multi}).Draw(t, "term"),
			Currency: sc.currency,
			CommittedSeats: map[schemas.SeatType]int64{
				learner: rapid.Int64Range(0, 30).Draw(t, "cl"), author: rapid.Int64Range(0, 5).Draw(t, "ca"),
			},
		}
		if s.Term == multi {
			s.TermYears = 3
		}
		sc.subs = []rating.SubscriptionChange{{At: octStart.Add(time.Duration(rapid.Int64Range(0, 30*86400).Draw(t, "pat")) * time.Second), Kind: rating.Started, Subscription: s}}
	} else {
		n := rapid.IntRange(1, 5).Draw(t, "changes")
		seen := map[time.Time]bool{}
		for i := 0; i < n; i++ {
			when := at("at")
			if seen[when] {
				continue
			}
			seen[when] = true
			if rapid.IntRange(0, 4).Draw(t, "cancel") == 0 {
				sc.subs = append(sc.subs, rating.SubscriptionChange{At: when, Kind: rating.Canceled})
				continue
			}
			s := schemas.Subscription{Plan: rapid.SampledFrom(plans).Draw(t, "plan"), Term: monthly, Currency: sc.currency}
			for _, a := range []string{"white_label", "data_residency", "hipaa_baa"} {
				if !slices.Contains(oSoldAddons[s.Plan], a) && !slices.Contains(oIncludedAddons[s.Plan], a) {
					continue
				}
				if rapid.Bool().Draw(t, "addon") {
					s.Addons = append(s.Addons, a)
				}
			}
			kind := rating.Changed
			if rapid.Bool().Draw(t, "started") {
				kind = rating.Started
			}
			sc.subs = append(sc.subs, rating.SubscriptionChange{At: when, Kind: kind, Subscription: s})
		}
	}
	for i, n := 0, rapid.IntRange(0, 60).Draw(t, "seats"); i < n; i++ {
		sc.usage.Seats = append(sc.usage.Seats, aggregators.SeatEvent{
			Time:     octStart.Add(time.Duration(rapid.Int64Range(0, span/86400).Draw(t, "sday")) * 24 * time.Hour), // day-aligned: many ties
			Assigned: rapid.IntRange(0, 2).Draw(t, "assign") > 0,
			UserID:   fmt.Sprintf("u%d", rapid.IntRange(0, 30).Draw(t, "user")),
			SeatType: string(rapid.SampledFrom([]schemas.SeatType{learner, author}).Draw(t, "type")),
		})
	}
	for i, n := 0, rapid.IntRange(0, 8).Draw(t, "rows"); i < n; i++ {
		sc.usage.Credits = append(sc.usage.Credits, rating.CreditUsage{
			At:      at("cat"),
			Credits: decimal.New(rapid.Int64Range(1, 300_000_000).Draw(t, "credits"), -3),
		})
	}
	for i, n := 0, rapid.IntRange(0, 3).Draw(t, "packs"); i < n; i++ {
		sc.usage.Packs = append(sc.usage.Packs, rating.PackPurchase{
			At: at("pat"), PackID: fmt.Sprintf("p%d", i),
			Credits:  decimal.New(rapid.Int64Range(1, 20_000).Draw(t, "pcredits"), 0),
			Price:    decimal.New(rapid.Int64Range(0, 100_000).Draw(t, "price"), -sc.currency.MinorUnits),
			Currency: sc.currency,
		})
	}
	return sc
}

// ---- The oracle: a deliberately simple, separate model of SPEC §3 for
// one November, for monthly terms and a single prepaid start. It works on
// big.Rat and rounds with its own floor-based half-to-even.

func oRound(r *big.Rat, digits int32) *big.Rat {
	scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(digits)), nil))
	x := new(big.Rat).Mul(r, scale)
	fl := new(big.Int).Div(x.Num(), x.Denom()) // Euclidean: floor for a positive denominator
	frac := new(big.Rat).Sub(x, new(big.Rat).SetInt(fl))
	switch frac.Cmp(big.NewRat(1, 2)) {
	case 1:
		fl.Add(fl, big.NewInt(1))
	case 0:
		if fl.Bit(0) == 1 {
			fl.Add(fl, big.NewInt(1))
		}
	}
	return new(big.Rat).Quo(new(big.Rat).SetInt(fl), scale)
}

func rat(d decimal.Decimal) *big.Rat { return d.Rat() }

// oSoldAddons and oIncludedAddons are SPEC §2's add-on rules, typed from
// the SPEC: the add-ons each plan sells at their price, and those it
// includes (accepted, billed nothing). Any other is refused.
var (
	oSoldAddons = map[string][]string{
		"business": {"data_residency"}, "enterprise": {"data_residency", "hipaa_baa", "white_label"},
		"enterprise_plus": {"hipaa_baa"}, "marketplace_provider": {"data_residency", "white_label"},
	}
	oIncludedAddons = map[string][]string{
		"enterprise_plus": {"data_residency", "white_label"}, "healthcare": {"data_residency", "hipaa_baa", "white_label"},
	}
)

// oPriced keeps the add-ons of addons that plan sells at a price.
func oPriced(plan string, addons []string) []string {
	var out []string
	for _, a := range addons {
		if slices.Contains(oSoldAddons[plan], a) {
			out = append(out, a)
		}
	}
	return out
}

type oSub struct {
	plan    string
	prepaid bool
	addons  []string
	commit  map[schemas.SeatType]int64
}

// oState returns the subscription at instant t (nil: none).
func oState(subs []rating.SubscriptionChange, t time.Time) *oSub {
	sorted := slices.Clone(subs)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].At.Before(sorted[j].At) })
	var s *oSub
	for _, c := range sorted {
		if c.At.After(t) {
			break
		}
		if c.Kind == rating.Canceled {
			s = nil
			continue
		}
		s = &oSub{plan: c.Subscription.Plan, prepaid: c.Subscription.Term != monthly, addons: oPriced(c.Subscription.Plan, c.Subscription.Addons), commit: c.Subscription.CommittedSeats}
	}
	return s
}

// oInstants are the instants of [from, to) where the state may change.
func oInstants(subs []rating.SubscriptionChange, from, to time.Time) []time.Time {
	out := []time.Time{from}
	for _, c := range subs {
		if c.At.After(from) && c.At.Before(to) {
			out = append(out, c.At)
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(out, func(a, b time.Time) bool { return a.Equal(b) })
}

func oSubscribed(subs []rating.SubscriptionChange, t time.Time) bool { return oState(subs, t) != nil }

// oLast is the subscription at the last subscribed instant of [from, to).
func oLast(subs []rating.SubscriptionChange, from, to time.Time) *oSub {
	inst := oInstants(subs, from, to)
	for i := len(inst) - 1; i >= 0; i-- {
		if s := oState(subs, inst[i]); s != nil {
			return s
		}
	}
	return nil
}

// oPeak is the most seats of the given types held at once at a subscribed
// instant of November (state after all events of an instant).
func oPeak(subs []rating.SubscriptionChange, events []aggregators.SeatEvent, types ...string) int64 {
	times := []time.Time{}
	for _, e := range events {
		times = append(times, e.Time)
	}
	times = append(times, oInstants(subs, novStart, decStart)...)
	var peak int64
	for _, t := range times {
		if t.Before(novStart) || !t.Before(decStart) || !oSubscribed(subs, t) {
			continue
		}
		held := map[string]bool{}
		// Replay every instant up to t: releases of an instant first.
		sorted := slices.Clone(events)
		sort.SliceStable(sorted, func(i, j int) bool {
			if !sorted[i].Time.Equal(sorted[j].Time) {
				return sorted[i].Time.Before(sorted[j].Time)
			}
			return !sorted[i].Assigned && sorted[j].Assigned
		})
		for _, e := range sorted {
			if e.Time.After(t) || !slices.Contains(types, e.SeatType) {
				continue
			}
			k := e.SeatType + "/" + e.UserID
			if e.Assigned {
				held[k] = true
			} else {
				delete(held, k)
			}
		}
		peak = max(peak, int64(len(held)))
	}
	return peak
}

// oracle returns the expected amount per line item and the total.
func oracle(b *pricebook.Book, sc scenario) (map[string]*big.Rat, *big.Rat, bool) {
	c := sc.currency
	last := oLast(sc.subs, novStart, decStart)
	if last == nil {
		return nil, nil, false
	}
	items := map[string]*big.Rat{}
	addTo := func(item string, r *big.Rat) {
		if items[item] == nil {
			items[item] = new(big.Rat)
		}
		items[item].Add(items[item], r)
	}
	// Recurring: seconds per plan and add-on over monthly-term time.
	secs := map[string]int64{}
	var order []string
	inst := append(oInstants(sc.subs, novStart, decStart), decStart)
	for i := 0; i+1 < len(inst); i++ {
		s := oState(sc.subs, inst[i])
		if s == nil || s.prepaid {
			continue
		}
		dur := int64(inst[i+1].Sub(inst[i]) / time.Second)
		for _, k := range append([]string{"base:" + s.plan}, prefixed("addon:", s.addons)...) {
			if _, ok := secs[k]; !ok {
				order = append(order, k)
			}
			secs[k] += dur
		}
	}
	month := int64(30 * 86400)
	recurring := new(big.Rat)
	for _, k := range order {
		var price decimal.Decimal
		if p, ok := strings.CutPrefix(k, "base:"); ok {
			price = b.Plans[p].Base[c.Code]
		} else {
			price = b.Addons[strings.TrimPrefix(k, "addon:")].Price[c.Code]
		}
		amt := oRound(new(big.Rat).Mul(rat(price), big.NewRat(secs[k], month)), c.MinorUnits)
		addTo(k, amt)
		recurring.Add(recurring, amt)
	}
	if disc := rat(b.Terms[monthly].Discount); recurring.Sign() != 0 && disc.Sign() != 0 {
		addTo("discount:monthly", new(big.Rat).Neg(oRound(new(big.Rat).Mul(recurring, disc), c.MinorUnits)))
	}
	// Seats at the last subscription.
	plan := b.Plans[last.plan]
	for _, st := range []string{"learner", "author"} {
		peak := oPeak(sc.subs, sc.usage.Seats, st)
		billed := peak - plan.Seats[schemas.SeatType(st)].Included
		if last.prepaid {
			billed -= last.commit[schemas.SeatType(st)]
		}
		if billed > 0 {
			addTo("seats:"+st, oRound(new(big.Rat).Mul(big.NewRat(billed, 1), rat(plan.Seats[schemas.SeatType(st)].Price[c.Code])), c.MinorUnits))
		}
	}
	// AI: October draws from the pack pool, November's rest is overage.
	pool := new(big.Rat)
	need := func(from, to time.Time) *big.Rat {
		l := oLast(sc.subs, from, to)
		used := new(big.Rat)
		for _, r := range sc.usage.Credits {
			if !r.At.Before(from) && r.At.Before(to) && oSubscribed(sc.subs, r.At) {
				used.Add(used, rat(r.Credits))
			}
		}
		if l == nil {
			return new(big.Rat)
		}
		n := used.Sub(used, rat(b.Plans[l.plan].AIIncluded))
		if n.Sign() < 0 {
			return new(big.Rat)
		}
		return n
	}
	packsBefore := func(t time.Time) *big.Rat {
		s := new(big.Rat)
		for _, p := range sc.usage.Packs {
			if p.At.Before(t) {
				s.Add(s, rat(p.Credits))
			}
		}
		return s
	}
	octNeed := need(octStart, novStart)
	octDraw := octNeed
	if packsBefore(novStart).Cmp(octNeed) < 0 {
		octDraw = packsBefore(novStart)
	}
	pool.Sub(packsBefore(decStart), octDraw)
	over := new(big.Rat).Sub(need(novStart, decStart), pool)
	if over.Sign() > 0 {
		addTo("ai_overage", oRound(new(big.Rat).Mul(over, rat(plan.AIOverage[c.Code])), c.MinorUnits))
	}
	for _, p := range sc.usage.Packs {
		if !p.At.Before(novStart) && p.At.Before(decStart) {
			addTo("packs", rat(p.Price))
		}
	}
	total := new(big.Rat)
	for _, v := range items {
		total.Add(total, v)
	}
	return items, total, true
}

func prefixed(p string, xs []string) []string {
	var out []string
	for _, x := range xs {
		out = append(out, p+x)
	}
	return out
}

func invoiceText(inv rating.Invoice) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s %s %s\n", inv.Tenant, inv.Kind, inv.Period, inv.Currency, inv.PriceBookVersion)
	for _, l := range inv.Lines {
		fmt.Fprintf(&b, "%s %s %s | %s | %s\n", l.Kind, lineText(l), l.Period, l.Description, l.Adjusts)
	}
	fmt.Fprintf(&b, "%s %s %s", money.FormatDecimal(inv.Subtotal), money.FormatDecimal(inv.Discount), money.FormatDecimal(inv.Total))
	return b.String()
}

func TestPropertyMonthlyInvoice(t *testing.T) {
	b := propBook()
	nov := per("2026-11")
	rapid.Check(t, func(t *rapid.T) {
		sc := genScenario(t)
		res, err := rating.RateMonth(b, "tenant", sc.subs, sc.usage, nov)
		items, total, subscribed := oracle(b, sc)
		if !subscribed {
			if err == nil {
				t.Fatalf("not subscribed in November, yet invoiced:\n%s", invoiceText(res.Invoice))
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		inv := res.Invoice

		// The oracle agrees, item by item.
		got := map[string]*big.Rat{}
		for _, l := range inv.Lines {
			k := l.Item
			if l.Kind == rating.LineAIPack {
				k = "packs"
			}
			if got[k] == nil {
				got[k] = new(big.Rat)
			}
			got[k].Add(got[k], rat(l.Amount))
		}
		for k, v := range items {
			if got[k] == nil && v.Sign() == 0 {
				continue
			}
			if got[k] == nil || got[k].Cmp(v) != 0 {
				t.Fatalf("item %s = %v; oracle %s\n%s", k, got[k], v.FloatString(4), invoiceText(inv))
			}
		}
		for k, v := range got {
			if _, ok := items[k]; !ok && v.Sign() != 0 {
				t.Fatalf("item %s not expected by the oracle\n%s", k, invoiceText(inv))
			}
		}
		if rat(inv.Total).Cmp(total) != 0 {
			t.Fatalf("total %s; oracle %s", inv.Total, total.FloatString(4))
		}

		// over_limit flags: a seat type is flagged when a limit of the last
		// plan that covers it is exceeded by the seats held at once.
		wantFlag := map[string]bool{}
		for _, l := range b.Plans[oLast(sc.subs, novStart, decStart).plan].Limits {
			var types []string
			for _, st := range l.SeatTypes {
				types = append(types, string(st))
			}
			if oPeak(sc.subs, sc.usage.Seats, types...) > l.Max {
				for _, st := range types {
					wantFlag["seats:"+st] = true
				}
			}
		}
		gotFlag := map[string]bool{}
		for _, l := range inv.Lines {
			if slices.Contains(l.Flags, rating.FlagOverLimit) {
				gotFlag[l.Item] = true
			}
		}
		if fmt.Sprint(gotFlag) != fmt.Sprint(wantFlag) {
			t.Fatalf("over_limit on %v; oracle %v\n%s", gotFlag, wantFlag, invoiceText(inv))
		}

		// Total = sum of rounded lines; each amount is rounded to the minor unit.
		sum, disc := decimal.Zero, decimal.Zero
		for _, l := range inv.Lines {
			if !l.Amount.Equal(sc.currency.Round(l.Amount)) || l.Amount.Exponent() != -sc.currency.MinorUnits {
				t.Fatalf("line %s amount %s not rounded to %d digits", l.Item, l.Amount, sc.currency.MinorUnits)
			}
			sum = sum.Add(l.Amount)
			if l.Kind == rating.LineDiscount {
				disc = disc.Add(l.Amount)
			}
		}
		if !sum.Equal(inv.Total) || !inv.Subtotal.Add(inv.Discount).Equal(inv.Total) || !disc.Equal(inv.Discount) {
			t.Fatalf("total %s, subtotal %s, discount %s; lines sum %s", inv.Total, inv.Subtotal, inv.Discount, sum)
		}

		// Discounts never touch usage: the discount is 10 % of the
		// recurring lines, and rating without any usage leaves the
		// recurring and discount lines as they are.
		recurring := decimal.Zero
		for _, l := range inv.Lines {
			if l.Kind.Recurring() {
				recurring = recurring.Add(l.Amount)
			}
		}
		if want := sc.currency.Round(recurring.Mul(decimal.RequireFromString("-0.10"))); !disc.Equal(want) {
			t.Fatalf("discount %s; want −10 %% of recurring %s = %s", disc, recurring, want)
		}
		bare, err := rating.RateMonth(b, "tenant", sc.subs, rating.Usage{}, nov)
		if err != nil {
			t.Fatal(err)
		}
		var withUsage, without []string
		for _, l := range inv.Lines {
			if l.Kind.Recurring() || l.Kind == rating.LineDiscount {
				withUsage = append(withUsage, lineText(l))
			}
		}
		for _, l := range bare.Invoice.Lines {
			if !l.Kind.Recurring() && l.Kind != rating.LineDiscount {
				t.Fatalf("usage line without usage: %s", lineText(l))
			}
			without = append(without, lineText(l))
		}
		if !slices.Equal(withUsage, without) {
			t.Fatalf("usage changed recurring or discount lines:\n%v\n%v", withUsage, without)
		}

		// Same input, any order: the same invoice.
		again, err := rating.RateMonth(b, "tenant", sc.subs, sc.usage, nov)
		if err != nil || invoiceText(again.Invoice) != invoiceText(inv) {
			t.Fatalf("re-rating differs: %v\n%s\n%s", err, invoiceText(inv), invoiceText(again.Invoice))
		}
		shuffled := scenario{currency: sc.currency}
		shuffled.subs = rapid.Permutation(sc.subs).Draw(t, "psubs")
		shuffled.usage.Seats = rapid.Permutation(sc.usage.Seats).Draw(t, "pseats")
		shuffled.usage.Credits = rapid.Permutation(sc.usage.Credits).Draw(t, "pcredits")
		shuffled.usage.Packs = rapid.Permutation(sc.usage.Packs).Draw(t, "ppacks")
		perm, err := rating.RateMonth(b, "tenant", shuffled.subs, shuffled.usage, nov)
		if err != nil || invoiceText(perm.Invoice) != invoiceText(inv) {
			t.Fatalf("another order differs: %v\n%s\n%s", err, invoiceText(inv), invoiceText(perm.Invoice))
		}

		// Proration: the segments of the month are ordered, disjoint and
		// cover at most the month; the prorated quantities of one fee sum
		// to at most 1.
		segs, err := rating.Segments(b, sc.subs, novStart, decStart)
		if err != nil {
			t.Fatal(err)
		}
		var covered time.Duration
		for i, s := range segs {
			if !s.From.Before(s.To) || s.From.Before(novStart) || s.To.After(decStart) || i > 0 && s.From.Before(segs[i-1].To) {
				t.Fatalf("bad segment %d: %v – %v", i, s.From, s.To)
			}
			covered += s.To.Sub(s.From)
		}
		if covered > decStart.Sub(novStart) {
			t.Fatalf("segments cover %v of a %v month", covered, decStart.Sub(novStart))
		}
		for _, l := range inv.Lines {
			if l.Kind.Recurring() && l.Quantity.GreaterThan(decimal.NewFromInt(1)) {
				t.Fatalf("fraction %s > 1 on %s", l.Quantity, l.Item)
			}
		}
	})
}

// roundRat (via prorated lines) agrees with money.Round whenever the exact
// amount is a finite decimal: one month split at whole days of 30.
func TestPropertyProrationMatchesMoneyRound(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		day := rapid.IntRange(1, 29).Draw(t, "day")
		subs := []rating.SubscriptionChange{start("2026-11-01", "team", monthly), cancel(fmt.Sprintf("2026-11-%02dT00:00:00Z", day+1))}
		res, err := rating.RateMonth(book, "t", subs, rating.Usage{}, per("2026-11"))
		if err != nil {
			t.Fatal(err)
		}
		// 199 × day/30 = 19,900 × day / 3,000 cents, exact in 1/3 cents:
		// compare with money.Round of the decimal cut at 12 digits, which
		// never lies on a tie for a denominator of 3.
		exact := decimal.NewFromInt(int64(199*day)).DivRound(decimal.NewFromInt(30), 12)
		if want := cur("USD").Round(exact); !res.Invoice.Total.Equal(want) {
			t.Fatalf("day %d: %s; want %s", day, res.Invoice.Total, want)
		}
	})
}

// Prepaid invoices: total = sum of lines, and the same input in another
// order gives the same invoices.
func TestPropertyPrepaid(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		plans := []string{"starter", "team", "business", "enterprise", "enterprise_plus", "healthcare", "marketplace_provider"}
		var subs []rating.SubscriptionChange
		seen := map[int]bool{}
		for i, n := 0, rapid.IntRange(1, 5).Draw(t, "n"); i < n; i++ {
			day := rapid.IntRange(0, 700).Draw(t, "day")
			if seen[day] {
				continue
			}
			seen[day] = true
			s := schemas.Subscription{
				Plan: rapid.SampledFrom(plans).Draw(t, "plan"), Term: rapid.SampledFrom([]schemas.Term{monthly, annual, multi}).Draw(t, "term"),
				Currency: cur("USD"),
				CommittedSeats: map[schemas.SeatType]int64{
					learner: rapid.Int64Range(0, 100).Draw(t, "cl"), author: rapid.Int64Range(0, 10).Draw(t, "ca"),
				},
			}
			subs = append(subs, rating.SubscriptionChange{At: novStart.AddDate(0, 0, day), Kind: rating.Changed, Subscription: s})
		}
		from, to := novStart, novStart.AddDate(3, 0, 0)
		invs, err := rating.RatePrepaid(book, "t", subs, from, to)
		if err != nil {
			t.Fatal(err)
		}
		perm, err := rating.RatePrepaid(book, "t", rapid.Permutation(subs).Draw(t, "perm"), from, to)
		if err != nil || len(perm) != len(invs) {
			t.Fatalf("permuted: %v, %d vs %d invoices", err, len(perm), len(invs))
		}
		for i, inv := range invs {
			if invoiceText(inv) != invoiceText(perm[i]) {
				t.Fatalf("order changes invoice %d", i)
			}
			sum := decimal.Zero
			for _, l := range inv.Lines {
				sum = sum.Add(l.Amount)
				if l.Kind == rating.LineSeats || l.Kind == rating.LineAIOverage || l.Kind == rating.LineAIPack {
					t.Fatalf("usage line on a %s invoice", inv.Kind)
				}
			}
			if !sum.Equal(inv.Total) {
				t.Fatalf("total %s ≠ sum %s", inv.Total, sum)
			}
			if inv.Kind == rating.KindUpgrade && !inv.Total.IsPositive() {
				t.Fatalf("an upgrade invoice that does not charge: %s\n%s", inv.Total, invoiceText(inv))
			}
		}
	})
}
