package marketplace_test

import (
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/aggregators/marketplace"
	"github.com/tally-billing/tally/internal/moneytest"
	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/pricebook"
)

// terms are the shipped marketplace terms: 15 %, 14 days, 50 per currency.
var terms = pricebook.Default().Marketplace

var (
	usd = cur("USD")
	eur = cur("EUR")
	jpy = cur("JPY")
)

// Literal helpers shared with the other money tests.
var (
	d   = moneytest.D
	cur = moneytest.Cur
	ts  = moneytest.TS
)

func sale(provider, order, at string, c money.Currency, gross, tax string) marketplace.Sale {
	return marketplace.Sale{EventID: "ev-" + order, Provider: provider, OrderID: order, CourseID: "course-" + order,
		At: ts(at), Currency: c, Gross: d(gross), Tax: d(tax)}
}

func refund(provider, order, id, at string, c money.Currency, amount string) marketplace.Refund {
	return marketplace.Refund{EventID: "ev-" + order + "-" + id, Provider: provider, OrderID: order, RefundID: id,
		At: ts(at), Currency: c, Amount: d(amount)}
}

func verified(provider, at, account string) marketplace.KYCChange {
	return marketplace.KYCChange{Provider: provider, At: ts(at), Verified: true, StripeAccount: account}
}

func revoked(provider, at string) marketplace.KYCChange {
	return marketplace.KYCChange{Provider: provider, At: ts(at)}
}

func derive(t testing.TB, in marketplace.Input) *marketplace.Ledger {
	t.Helper()
	l, err := marketplace.Derive(terms, in)
	if err != nil {
		t.Fatalf("Derive: %v", err)
	}
	return l
}

// eq fails unless got equals want as a value and carries the currency's
// scale (so "42.5" is not accepted for "42.50").
func eq(t testing.TB, what string, got decimal.Decimal, want string) {
	t.Helper()
	if money.FormatDecimal(got) != want {
		t.Errorf("%s = %s, want %s", what, money.FormatDecimal(got), want)
	}
}

// entries returns the entries of the ledger, optionally of one order, as
// "kind bucket amount" strings in ledger order.
func entries(l *marketplace.Ledger, order string) []string {
	var out []string
	for _, e := range l.Entries {
		if order != "" && e.OrderID != order {
			continue
		}
		s := string(e.Kind) + " " + money.FormatDecimal(e.Amount)
		if e.Bucket != marketplace.BucketNone {
			s = string(e.Kind) + "/" + string(e.Bucket) + " " + money.FormatDecimal(e.Amount)
		}
		out = append(out, s)
	}
	return out
}

// lines renders a statement as "kind order/refund amount" strings.
func lines(p marketplace.Payout) []string {
	var out []string
	for _, ln := range p.Lines {
		ref := ln.OrderID
		if ln.RefundID != "" {
			ref += "/" + ln.RefundID
		}
		if ln.PayoutID != "" && ln.OrderID == "" {
			ref = "payout"
		}
		out = append(out, string(ln.Kind)+" "+ref+" "+money.FormatDecimal(ln.Amount))
	}
	return out
}

func sameStrings(t testing.TB, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\ngot\n  %s\nwant\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
