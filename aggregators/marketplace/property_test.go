package marketplace_test

// Property tests against an oracle written independently of the engine:
// integer minor units, a closed form per sale (what is left of a sale at T
// is the split of its gross minus the refunds made by T; it is available
// from sale time + 14 days, held before), and a plain loop over the runs.
// The engine, in contrast, walks a time-ordered effect list with running
// balances and decimals.

import (
	"cmp"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/tally-billing/tally/aggregators/marketplace"
	"github.com/tally-billing/tally/money"
)

const holdSeconds = 14 * 24 * 3600

var epoch = ts("2026-11-01")

func at(sec int64) time.Time { return epoch.Add(time.Duration(sec) * time.Second) }

type oCurrency struct {
	c   money.Currency
	min int64 // minimum payout in minor units
}

var oCurrencies = []oCurrency{{usd, 5000}, {eur, 5000}, {jpy, 50}}

type oSale struct {
	event, provider, order string
	cur                    int
	at                     int64
	gross, tax             int64
}

type oRefund struct {
	event, provider, order, id string
	cur                        int
	at                         int64
	amount                     int64
}

type oKYC struct {
	provider string
	at       int64
	verified bool
	account  string
}

type world struct {
	sales   []oSale
	refunds []oRefund
	kyc     []oKYC
	runs    []int64
}

var providers = []string{"p0", "p1", "p2"}

// genWorld draws sales, refunds (some invalid on purpose), KYC changes and
// run times. With ties, times come from a few instants 7 days apart, so
// that events share instants and land exactly on hold edges.
func genWorld(t *rapid.T, ties bool) world {
	var w world
	nSales := rapid.IntRange(0, 10).Draw(t, "sales")
	nRefunds := rapid.IntRange(0, 12).Draw(t, "refunds")
	nKYC := rapid.IntRange(0, 6).Draw(t, "kyc")
	n := nSales + nRefunds + nKYC
	var times []int64
	if ties {
		for i := 0; i < n; i++ {
			times = append(times, int64(rapid.IntRange(0, 6).Draw(t, "instant"))*7*24*3600)
		}
	} else {
		times = rapid.SliceOfNDistinct(rapid.Int64Range(0, 70*24*3600), n, n, func(v int64) int64 { return v }).Draw(t, "times")
	}
	next := func() int64 { v := times[0]; times = times[1:]; return v }
	for i := 0; i < nSales; i++ {
		order := fmt.Sprintf("o%d", i)
		if i > 0 && !ties && rapid.IntRange(0, 9).Draw(t, "dupOrder") == 0 {
			order = "o0"
		}
		var gross int64
		switch rapid.IntRange(0, 4).Draw(t, "grossKind") {
		case 0:
			gross = 0
		case 1:
			gross = rapid.Int64Range(1, 200).Draw(t, "small")
		default:
			gross = rapid.Int64Range(1, 100_000).Draw(t, "gross")
		}
		tax := int64(0)
		if rapid.Bool().Draw(t, "taxed") {
			tax = rapid.Int64Range(0, gross).Draw(t, "tax")
		}
		w.sales = append(w.sales, oSale{
			event: fmt.Sprintf("s%02d", i), provider: rapid.SampledFrom(providers).Draw(t, "provider"), order: order,
			cur: rapid.IntRange(0, len(oCurrencies)-1).Draw(t, "cur"), at: next(), gross: gross, tax: tax,
		})
	}
	for j := 0; j < nRefunds; j++ {
		r := oRefund{event: fmt.Sprintf("r%02d", j), id: fmt.Sprintf("r%d", j), at: next()}
		if k := rapid.IntRange(-1, nSales-1).Draw(t, "refundOf"); k < 0 {
			r.order, r.provider, r.cur, r.amount = "ghost", "p0", 0, rapid.Int64Range(1, 1000).Draw(t, "ghostAmount")
		} else {
			s := w.sales[k]
			r.order, r.provider, r.cur = s.order, s.provider, s.cur
			r.amount = rapid.Int64Range(1, s.gross/2+2).Draw(t, "amount")
			if rapid.IntRange(0, 3).Draw(t, "whole") == 0 && s.gross > 0 {
				r.amount = s.gross
			}
		}
		if rapid.IntRange(0, 9).Draw(t, "otherProvider") == 0 {
			r.provider = "p9"
		}
		if rapid.IntRange(0, 9).Draw(t, "otherCurrency") == 0 {
			r.cur = (r.cur + 1) % len(oCurrencies)
		}
		if j > 0 && rapid.IntRange(0, 7).Draw(t, "dupRefund") == 0 {
			r.id = "r0"
		}
		w.refunds = append(w.refunds, r)
	}
	for j := 0; j < nKYC; j++ {
		p := rapid.SampledFrom(providers).Draw(t, "kycProvider")
		w.kyc = append(w.kyc, oKYC{provider: p, at: next(), verified: rapid.IntRange(0, 2).Draw(t, "verified") > 0, account: fmt.Sprintf("acct_%s%d", p, j)})
	}
	for i, nRuns := 0, rapid.IntRange(1, 4).Draw(t, "runs"); i < nRuns; i++ {
		var r int64
		if len(w.sales) > 0 && rapid.Bool().Draw(t, "runAtEdge") {
			s := rapid.SampledFrom(w.sales).Draw(t, "edgeSale")
			r = s.at + holdSeconds - rapid.Int64Range(0, 1).Draw(t, "edgeOffset")
		} else {
			r = rapid.Int64Range(0, 90*24*3600).Draw(t, "runAt")
		}
		w.runs = append(w.runs, r)
	}
	slices.Sort(w.runs)
	w.runs = slices.Compact(w.runs)
	return w
}

func (w world) input() marketplace.Input {
	var in marketplace.Input
	for _, s := range w.sales {
		c := oCurrencies[s.cur].c
		in.Sales = append(in.Sales, marketplace.Sale{EventID: s.event, Provider: s.provider, OrderID: s.order, At: at(s.at),
			Currency: c, Gross: c.FromMinor(s.gross), Tax: c.FromMinor(s.tax)})
	}
	for _, r := range w.refunds {
		c := oCurrencies[r.cur].c
		in.Refunds = append(in.Refunds, marketplace.Refund{EventID: r.event, Provider: r.provider, OrderID: r.order, RefundID: r.id,
			At: at(r.at), Currency: c, Amount: c.FromMinor(r.amount)})
	}
	for _, k := range w.kyc {
		in.KYC = append(in.KYC, marketplace.KYCChange{Provider: k.provider, At: at(k.at), Verified: k.verified, StripeAccount: k.account})
	}
	return in
}

// ---- the oracle ----

// roundHalfEven returns n ÷ d rounded half to even, for n ≥ 0, d > 0.
func roundHalfEven(n, d int64) int64 {
	q, r := n/d, n%d
	if 2*r > d || (2*r == d && q%2 == 1) {
		q++
	}
	return q
}

// oSplit is the SPEC split of a sale after cumulative refunds R, in minor
// units, with the shipped 15 % fee.
func oSplit(s oSale, R int64) (net, fee, share int64) {
	net = s.gross - s.tax
	if R > 0 {
		net = roundHalfEven((s.gross-R)*net, s.gross)
	}
	fee = roundHalfEven(net*15, 100)
	return net, fee, net - fee
}

type oracle struct {
	sales    map[string]oSale     // accepted, by order
	refunds  map[string][]oRefund // accepted, by order, in time order
	rejected map[string]error     // event → reason
	kyc      []oKYC
	payouts  []oPayout
}

type oPayout struct {
	provider string
	cur      int
	at       int64
	amount   int64
	failedAt int64 // -1: not failed
}

func newOracle(w world) *oracle {
	o := &oracle{sales: map[string]oSale{}, refunds: map[string][]oRefund{}, rejected: map[string]error{}, kyc: w.kyc}
	sales := slices.Clone(w.sales)
	slices.SortStableFunc(sales, func(a, b oSale) int {
		return cmp.Or(cmp.Compare(a.at, b.at), strings.Compare(a.order, b.order), strings.Compare(a.event, b.event))
	})
	for _, s := range sales {
		if _, dup := o.sales[s.order]; dup {
			o.rejected[s.event] = marketplace.ErrDuplicateOrder
			continue
		}
		o.sales[s.order] = s
	}
	refunds := slices.Clone(w.refunds)
	slices.SortStableFunc(refunds, func(a, b oRefund) int {
		return cmp.Or(cmp.Compare(a.at, b.at), strings.Compare(a.order, b.order), strings.Compare(a.id, b.id), strings.Compare(a.event, b.event))
	})
	refunded := map[string]int64{}
	for _, r := range refunds {
		s, ok := o.sales[r.order]
		var reason error
		switch {
		case !ok:
			reason = marketplace.ErrUnknownOrder
		case r.at < s.at:
			reason = marketplace.ErrRefundBeforeSale
		case r.provider != s.provider:
			reason = marketplace.ErrProviderMismatch
		case r.cur != s.cur:
			reason = marketplace.ErrCurrencyMismatch
		case slices.ContainsFunc(o.refunds[r.order], func(p oRefund) bool { return p.id == r.id }):
			reason = marketplace.ErrDuplicateRefund
		case refunded[r.order]+r.amount > s.gross:
			reason = marketplace.ErrRefundExceedsSale
		}
		if reason != nil {
			o.rejected[r.event] = reason
			continue
		}
		refunded[r.order] += r.amount
		o.refunds[r.order] = append(o.refunds[r.order], r)
	}
	return o
}

func (o *oracle) refundedBy(order string, T int64) int64 {
	var R int64
	for _, r := range o.refunds[order] {
		if r.at <= T {
			R += r.amount
		}
	}
	return R
}

type oKey struct {
	provider string
	cur      int
}

// balances returns held, released shares and net paid per provider and
// currency at T, for every pair with a sale or payout by T.
func (o *oracle) balances(T int64) map[oKey][3]int64 {
	out := map[oKey][3]int64{}
	for _, s := range o.sales {
		if s.at > T {
			continue
		}
		k := oKey{s.provider, s.cur}
		b := out[k]
		_, _, share := oSplit(s, o.refundedBy(s.order, T))
		if T < s.at+holdSeconds {
			b[0] += share
		} else {
			b[1] += share
		}
		out[k] = b
	}
	for _, p := range o.payouts {
		if p.at > T {
			continue
		}
		k := oKey{p.provider, p.cur}
		b := out[k]
		if p.failedAt < 0 || p.failedAt > T {
			b[2] += p.amount
		}
		out[k] = b
	}
	return out
}

func (o *oracle) verified(provider string, T int64) (string, bool) {
	last, found := int64(-1), false
	for _, k := range o.kyc {
		if k.provider == provider && k.at <= T && k.at >= last {
			last, found = k.at, true
		}
	}
	if !found {
		return "", false
	}
	account := ""
	for _, k := range o.kyc {
		if k.provider == provider && k.at == last {
			if !k.verified {
				return "", false
			}
			account = max(account, k.account)
		}
	}
	return account, true
}

// run decides the payouts at T: the whole available balance of verified
// providers at or above the minimum; the reason otherwise.
func (o *oracle) run(T int64) (map[oKey]int64, map[oKey]marketplace.CarryReason, map[oKey]string) {
	pays, carried, accounts := map[oKey]int64{}, map[oKey]marketplace.CarryReason{}, map[oKey]string{}
	for k, b := range o.balances(T) {
		avail := b[1] - b[2]
		account, ok := o.verified(k.provider, T)
		switch {
		case avail < 0:
			carried[k] = marketplace.CarryClawback
		case avail < oCurrencies[k.cur].min:
			carried[k] = marketplace.CarryBelowMinimum
		case !ok:
			carried[k] = marketplace.CarryNotVerified
		default:
			pays[k], accounts[k] = avail, account
		}
	}
	return pays, carried, accounts
}

// ---- the properties ----

func TestProperties(t *testing.T) {
	t.Run("distinct times", func(t *testing.T) { rapid.Check(t, func(t *rapid.T) { checkWorld(t, false) }) })
	t.Run("shared instants", func(t *testing.T) { rapid.Check(t, func(t *rapid.T) { checkWorld(t, true) }) })
}

func minor(c money.Currency, d decimal.Decimal) int64 {
	n, err := c.ToMinor(d)
	if err != nil {
		panic(err)
	}
	return n
}

func checkWorld(t *rapid.T, ties bool) {
	w := genWorld(t, ties)
	o := newOracle(w)
	in := w.input()
	curIndex := func(c money.Currency) int {
		return slices.IndexFunc(oCurrencies, func(x oCurrency) bool { return x.c == c })
	}

	for ri, T := range w.runs {
		l, err := marketplace.Derive(terms, in)
		if err != nil {
			t.Fatal(err)
		}
		run, err := l.RunPayouts(at(T))
		if err != nil {
			t.Fatal(err)
		}
		wantPays, wantCarried, wantAccounts := o.run(T)
		if len(run.Payouts) != len(wantPays) {
			t.Fatalf("run %d at %d: %d payouts, oracle %d (%v)", ri, T, len(run.Payouts), len(wantPays), wantPays)
		}
		for _, p := range run.Payouts {
			k := oKey{p.Provider, curIndex(p.Currency)}
			if got, want := minor(p.Currency, p.Amount), wantPays[k]; got != want {
				t.Fatalf("run at %d: %s %s paid %d, oracle %d", T, p.Provider, p.Currency.Code, got, want)
			}
			if p.StripeAccount != wantAccounts[k] {
				t.Fatalf("payout to %q, oracle %q", p.StripeAccount, wantAccounts[k])
			}
			// the statement sums to the payout, and settles no held sale
			sum := decimal.Zero
			for _, ln := range p.Lines {
				sum = sum.Add(ln.Amount)
				if ln.Kind == marketplace.LineSale || ln.Kind == marketplace.LineRefund || ln.Kind == marketplace.LineClawback {
					os, _ := l.Order(ln.OrderID)
					if os.ReleaseAt.After(at(T)) {
						t.Fatalf("payout at %d settles order %s, held until %s", T, ln.OrderID, os.ReleaseAt)
					}
				}
			}
			if !sum.Equal(p.Amount) {
				t.Fatalf("statement sums to %s, payout %s", sum, p.Amount)
			}
		}
		if len(run.Carried) != len(wantCarried) {
			t.Fatalf("run at %d: carried %v, oracle %v", T, run.Carried, wantCarried)
		}
		for _, c := range run.Carried {
			if want := wantCarried[oKey{c.Provider, curIndex(c.Currency)}]; c.Reason != want {
				t.Fatalf("run at %d: %s %s carried for %s, oracle %s", T, c.Provider, c.Currency.Code, c.Reason, want)
			}
		}

		// record the payouts; some transfers fail
		for _, p := range run.Payouts {
			op := oPayout{provider: p.Provider, cur: curIndex(p.Currency), at: T, amount: minor(p.Currency, p.Amount), failedAt: -1}
			if rapid.IntRange(0, 4).Draw(t, "fails") == 0 {
				op.failedAt = T + rapid.Int64Range(0, 10*24*3600).Draw(t, "failedAfter")
				p.Status, p.FailedAt = marketplace.PayoutFailed, at(op.failedAt)
			}
			o.payouts = append(o.payouts, op)
			in.Payouts = append(in.Payouts, p)
		}
		l, err = marketplace.Derive(terms, in)
		if err != nil {
			t.Fatal(err)
		}

		// re-running this run, or any earlier one, pays nothing more
		for _, earlier := range w.runs[:ri+1] {
			again, err := l.RunPayouts(at(earlier))
			if err != nil {
				t.Fatal(err)
			}
			if len(again.Payouts) != 0 {
				t.Fatalf("re-run at %d after run at %d paid %v", earlier, T, again.Payouts)
			}
		}

		// balances after the run: the oracle's; paid + available + held =
		// shares − reversals; held untouched by the payouts
		want := o.balances(T)
		got := l.Balances(at(T))
		if len(got) != len(want) {
			t.Fatalf("%d balances, oracle %d", len(got), len(want))
		}
		for _, b := range got {
			k := oKey{b.Provider, curIndex(b.Currency)}
			wb := want[k]
			held, avail, paid := minor(b.Currency, b.Held), minor(b.Currency, b.Available), minor(b.Currency, b.Paid)
			if held != wb[0] || avail != wb[1]-wb[2] || paid != wb[2] {
				t.Fatalf("balance %s %s at %d: held %d available %d paid %d; oracle %d %d %d", b.Provider, b.Currency.Code, T, held, avail, paid, wb[0], wb[1]-wb[2], wb[2])
			}
			if _, ok := wantPays[k]; ok && avail != 0 && !paidFailedAt(o, k, T) {
				t.Fatalf("available %d left after paying %s %s", avail, b.Provider, b.Currency.Code)
			}
			var shares decimal.Decimal
			for _, e := range l.Entries {
				if e.Provider == b.Provider && e.Currency == b.Currency && !e.At.After(at(T)) &&
					(e.Kind == marketplace.EntryShare || e.Kind == marketplace.EntryShareReversal || e.Kind == marketplace.EntryClawback) {
					shares = shares.Add(e.Amount)
				}
			}
			if !b.Paid.Add(b.Available).Add(b.Held).Equal(shares) || minor(b.Currency, shares) != wb[0]+wb[1] {
				t.Fatalf("paid %s + available %s + held %s ≠ shares − reversals %s (oracle %d)", b.Paid, b.Available, b.Held, shares, wb[0]+wb[1])
			}
			if b.Held.Sign() < 0 {
				t.Fatalf("held %s negative", b.Held)
			}
		}
	}

	l, err := marketplace.Derive(terms, in)
	if err != nil {
		t.Fatal(err)
	}
	checkLedger(t, l, o)

	// the order of the input does not matter
	shuffled := marketplace.Input{
		Sales:   permute(t, in.Sales),
		Refunds: permute(t, in.Refunds),
		KYC:     permute(t, in.KYC),
		Payouts: permute(t, in.Payouts),
	}
	l2, err := marketplace.Derive(terms, shuffled)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := dump(l, w.runs), dump(l2, w.runs); a != b {
		t.Fatalf("input order changed the result:\n%s\n----\n%s", a, b)
	}
}

// paidFailedAt reports whether the payout of k at T failed at T itself
// (its money is then available again at T).
func paidFailedAt(o *oracle, k oKey, T int64) bool {
	for _, p := range o.payouts {
		if p.provider == k.provider && p.cur == k.cur && p.at == T && p.failedAt == T {
			return true
		}
	}
	return false
}

// checkLedger checks every order's entries against the oracle and the sign
// convention: Σ sale side = Σ tax side + Σ fee side + Σ share side, and the
// fee and share sides are the oracle's split of what remains.
func checkLedger(t *rapid.T, l *marketplace.Ledger, o *oracle) {
	ids := map[string]bool{}
	type sides struct{ sale, tax, fee, share decimal.Decimal }
	byOrder := map[string]*sides{}
	for _, e := range l.Entries {
		if ids[e.ID] {
			t.Fatalf("duplicate entry id %s", e.ID)
		}
		ids[e.ID] = true
		if -e.Amount.Exponent() != e.Currency.MinorUnits && !e.Amount.IsZero() {
			t.Fatalf("entry %s amount %s not at the minor unit", e.Kind, e.Amount)
		}
		if e.OrderID == "" {
			continue
		}
		s := byOrder[e.OrderID]
		if s == nil {
			s = &sides{}
			byOrder[e.OrderID] = s
		}
		switch e.Kind {
		case marketplace.EntrySale, marketplace.EntryRefund:
			s.sale = s.sale.Add(e.Amount)
		case marketplace.EntryTax, marketplace.EntryTaxRefund:
			s.tax = s.tax.Add(e.Amount)
			if e.Kind == marketplace.EntryTaxRefund && e.Amount.Sign() > 0 {
				t.Fatalf("positive tax refund %s", e.Amount)
			}
		case marketplace.EntryFee, marketplace.EntryFeeReversal:
			s.fee = s.fee.Add(e.Amount)
		case marketplace.EntryShare, marketplace.EntryShareReversal, marketplace.EntryClawback:
			s.share = s.share.Add(e.Amount)
		}
	}
	if len(byOrder) != len(o.sales) {
		t.Fatalf("%d orders in the ledger, oracle %d", len(byOrder), len(o.sales))
	}
	for order, s := range byOrder {
		os := o.sales[order]
		c := oCurrencies[os.cur].c
		if !s.sale.Sub(s.tax).Sub(s.fee).Sub(s.share).IsZero() {
			t.Fatalf("order %s: sale side %s − tax %s − fee %s − share %s ≠ 0", order, s.sale, s.tax, s.fee, s.share)
		}
		R := o.refundedBy(order, 1<<62)
		net, fee, share := oSplit(os, R)
		if minor(c, s.sale) != os.gross-R || minor(c, s.fee) != fee || minor(c, s.share) != share || minor(c, s.sale.Sub(s.tax)) != net {
			t.Fatalf("order %s: sale %s fee %s share %s; oracle gross−R %d net %d fee %d share %d", order, s.sale, s.fee, s.share, os.gross-R, net, fee, share)
		}
		st, _ := l.Order(order)
		for _, sp := range []marketplace.Split{st.Original, st.Current} {
			if !sp.Fee.Add(sp.Share).Equal(sp.Net) {
				t.Fatalf("order %s: fee %s + share %s ≠ net %s", order, sp.Fee, sp.Share, sp.Net)
			}
		}
		if n0, f0, _ := oSplit(os, 0); minor(c, st.Original.Net) != n0 || minor(c, st.Original.Fee) != f0 {
			t.Fatalf("order %s: original split %+v, oracle net %d fee %d", order, st.Original, n0, f0)
		}
	}
	if len(l.Rejected) != len(o.rejected) {
		t.Fatalf("rejected %v, oracle %v", l.Rejected, o.rejected)
	}
	for _, r := range l.Rejected {
		if want := o.rejected[r.EventID]; !errors.Is(r, want) {
			t.Fatalf("event %s rejected with %v, oracle %v", r.EventID, r, want)
		}
	}
}

func permute[T any](t *rapid.T, s []T) []T {
	return rapid.Permutation(slices.Clone(s)).Draw(t, "permutation")
}

// dump renders everything the engine derives, for comparing two runs.
func dump(l *marketplace.Ledger, runs []int64) string {
	var b strings.Builder
	for _, e := range l.Entries {
		fmt.Fprintf(&b, "%s %s %s %s %s %s %s %s %s %s\n", e.ID, e.Kind, e.Provider, e.Currency.Code, money.FormatDecimal(e.Amount), e.Bucket, e.At.Format(time.RFC3339), e.OrderID, e.RefundID, e.PayoutID)
	}
	for _, r := range l.Rejected {
		fmt.Fprintf(&b, "rejected %s %v\n", r.EventID, r)
	}
	for _, T := range runs {
		for _, bal := range l.Balances(at(T)) {
			fmt.Fprintf(&b, "balance %d %s %s %s %s %s\n", T, bal.Provider, bal.Currency.Code, bal.Held, bal.Available, bal.Paid)
		}
		for _, T2 := range []int64{T, T + 1} {
			run, err := l.RunPayouts(at(T2))
			fmt.Fprintf(&b, "run %d err %v\n", T2, err)
			for _, p := range run.Payouts {
				fmt.Fprintf(&b, "payout %s %s %s %s %s\n", p.ID, p.Provider, p.Currency.Code, money.FormatDecimal(p.Amount), p.StripeAccount)
				for _, ln := range p.Lines {
					fmt.Fprintf(&b, "  %s %s %s %s %s\n", ln.Kind, ln.OrderID, ln.RefundID, ln.EntryID, money.FormatDecimal(ln.Amount))
				}
			}
			for _, c := range run.Carried {
				fmt.Fprintf(&b, "carried %s %s %s\n", c.Provider, c.Currency.Code, c.Reason)
			}
		}
	}
	return b.String()
}

// SplitAfterRefunds agrees with exact rational arithmetic on amounts far
// beyond int64 (the decimal package's division precision would not).
func TestSplitMatchesRationalOracle(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := rapid.SampledFrom([]money.Currency{usd, jpy, cur("BHD")}).Draw(t, "currency")
		digits := rapid.IntRange(1, 30).Draw(t, "digits")
		num := func(label string, maxDigits int) *big.Int {
			s := rapid.StringMatching(fmt.Sprintf("[1-9][0-9]{0,%d}", maxDigits-1)).Draw(t, label)
			v, _ := new(big.Int).SetString(s, 10)
			return v
		}
		g := num("gross", digits)
		upTo := func(label string) *big.Int { // in [0, g], the ends often
			switch rapid.IntRange(0, 4).Draw(t, label+"End") {
			case 0:
				return big.NewInt(0)
			case 1:
				return new(big.Int).Set(g)
			}
			return new(big.Int).Mod(num(label, digits+1), new(big.Int).Add(g, big.NewInt(1)))
		}
		tx, R := upTo("tax"), upTo("refunded")
		if rapid.Bool().Draw(t, "nearHalf") {
			// G = 2k + 1, tax k, refunded 1: the remaining net is a half
			// minus 1 ÷ (2G) minor units, closer than any fixed precision.
			n := rapid.IntRange(14, 30).Draw(t, "kDigits")
			ks := rapid.StringMatching(fmt.Sprintf("[1-9][0-9]{%d}", n-1)).Draw(t, "k")
			k, _ := new(big.Int).SetString(ks, 10)
			g = new(big.Int).Add(new(big.Int).Lsh(k, 1), big.NewInt(1))
			tx, R = k, big.NewInt(1)
		}
		dec := func(v *big.Int) decimal.Decimal { return decimal.NewFromBigInt(v, -c.MinorUnits) }
		s, err := marketplace.SplitAfterRefunds(terms.PlatformFee, c, dec(g), dec(tx), dec(R))
		if err != nil {
			t.Fatal(err)
		}
		// remaining net in minor units = (g − R) × (g − tax) / g, half to even
		net := new(big.Int).Sub(g, tx)
		want := ratRound(new(big.Rat).SetFrac(new(big.Int).Mul(new(big.Int).Sub(g, R), net), g))
		if R.Sign() == 0 {
			want = net
		}
		wantFee := ratRound(new(big.Rat).SetFrac(new(big.Int).Mul(want, big.NewInt(15)), big.NewInt(100)))
		if minorBig(c, s.Net).Cmp(want) != 0 {
			t.Fatalf("net %s, oracle %s minor units", s.Net, want)
		}
		if got := minorBig(c, s.Fee); got.Cmp(wantFee) != 0 {
			t.Fatalf("fee %s, oracle %s minor units", s.Fee, wantFee)
		}
		if !s.Fee.Add(s.Share).Equal(s.Net) {
			t.Fatal("fee + share ≠ net")
		}
	})
}

func minorBig(c money.Currency, d decimal.Decimal) *big.Int {
	return d.Shift(c.MinorUnits).BigInt()
}

// ratRound rounds a non-negative rational half to even.
func ratRound(r *big.Rat) *big.Int {
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	switch new(big.Int).Lsh(m, 1).Cmp(r.Denom()) {
	case 1:
		q.Add(q, big.NewInt(1))
	case 0:
		if q.Bit(0) == 1 {
			q.Add(q, big.NewInt(1))
		}
	}
	return q
}
