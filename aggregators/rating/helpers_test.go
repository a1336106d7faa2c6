package rating_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/aggregators"
	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/internal/moneytest"
	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

var book = pricebook.Default()

// Literal helpers shared with the other money tests.
var (
	d   = moneytest.D
	cur = moneytest.Cur
	ts  = moneytest.TS
)

func per(s string) rating.Period {
	p, err := rating.ParsePeriod(s)
	if err != nil {
		panic(err)
	}
	return p
}

type subOpt func(*schemas.Subscription)

func committed(learners, authors int64) subOpt {
	return func(s *schemas.Subscription) {
		s.CommittedSeats = map[schemas.SeatType]int64{schemas.SeatLearner: learners, schemas.SeatAuthor: authors}
	}
}

func addons(a ...string) subOpt { return func(s *schemas.Subscription) { s.Addons = a } }

func in(code string) subOpt { return func(s *schemas.Subscription) { s.Currency = cur(code) } }

func years(n int32) subOpt { return func(s *schemas.Subscription) { s.TermYears = n } }

func start(at, plan string, term schemas.Term, opts ...subOpt) rating.SubscriptionChange {
	return change(rating.Started, at, plan, term, opts...)
}

func chg(at, plan string, term schemas.Term, opts ...subOpt) rating.SubscriptionChange {
	return change(rating.Changed, at, plan, term, opts...)
}

func change(kind rating.ChangeKind, at, plan string, term schemas.Term, opts ...subOpt) rating.SubscriptionChange {
	s := schemas.Subscription{Plan: plan, Term: term, Currency: cur("USD")}
	if term != schemas.TermMonthly {
		s.CommittedSeats = map[schemas.SeatType]int64{schemas.SeatLearner: 0, schemas.SeatAuthor: 0}
	}
	for _, o := range opts {
		o(&s)
	}
	return rating.SubscriptionChange{At: ts(at), Kind: kind, Subscription: s}
}

func cancel(at string) rating.SubscriptionChange {
	return rating.SubscriptionChange{At: ts(at), Kind: rating.Canceled}
}

// seats assigns n seats of a type at t, users prefix-1..prefix-n.
func seats(at string, st schemas.SeatType, prefix string, n int) []aggregators.SeatEvent {
	var out []aggregators.SeatEvent
	for i := 1; i <= n; i++ {
		out = append(out, aggregators.SeatEvent{Time: ts(at), Assigned: true, UserID: fmt.Sprintf("%s-%d", prefix, i), SeatType: string(st)})
	}
	return out
}

func release(at string, st schemas.SeatType, prefix string, n int) []aggregators.SeatEvent {
	out := seats(at, st, prefix, n)
	for i := range out {
		out[i].Assigned = false
	}
	return out
}

func credits(at, n string) rating.CreditUsage { return rating.CreditUsage{At: ts(at), Credits: d(n)} }

func join[T any](parts ...[]T) []T {
	var out []T
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// wantLine is a line as a test expects it: kind, item, quantity, unit
// price and amount as exact decimal text, flags joined by ",".
type wantLine struct {
	item, qty, price, amount, flags string
}

func lineText(l rating.Line) string {
	return fmt.Sprintf("%s qty=%s price=%s amount=%s flags=%s", l.Item,
		money.FormatDecimal(l.Quantity), money.FormatDecimal(l.UnitPrice), money.FormatDecimal(l.Amount), strings.Join(l.Flags, ","))
}

func (w wantLine) text() string {
	return fmt.Sprintf("%s qty=%s price=%s amount=%s flags=%s", w.item, w.qty, w.price, w.amount, w.flags)
}

// checkInvoice compares lines (in order) and totals exactly, including the
// scale of amounts ("199.00", not "199").
func checkInvoice(t *testing.T, inv rating.Invoice, total string, want ...wantLine) {
	t.Helper()
	var got, exp []string
	for _, l := range inv.Lines {
		got = append(got, lineText(l))
	}
	for _, w := range want {
		exp = append(exp, w.text())
	}
	if strings.Join(got, "\n") != strings.Join(exp, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(exp, "\n"))
	}
	if money.FormatDecimal(inv.Total) != total {
		t.Errorf("total = %s; want %s", money.FormatDecimal(inv.Total), total)
	}
	sum := decimal.Zero
	for _, l := range inv.Lines {
		sum = sum.Add(l.Amount)
	}
	if !sum.Equal(inv.Total) || !inv.Subtotal.Add(inv.Discount).Equal(inv.Total) {
		t.Errorf("total %s ≠ sum of lines %s or subtotal %s + discount %s", inv.Total, sum, inv.Subtotal, inv.Discount)
	}
	if inv.PriceBookVersion != book.Version {
		t.Errorf("price book version %q", inv.PriceBookVersion)
	}
}
