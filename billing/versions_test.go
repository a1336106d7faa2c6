package billing

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/aggregators"
	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/internal/pricebooktest"
	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

func catalog(t *testing.T, current *pricebook.Book, earlier ...*pricebook.Book) *pricebook.Catalog {
	t.Helper()
	c, err := pricebook.NewCatalog(current, earlier...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// teamOctober is a Team tenant (USD, monthly) from 2026-10-01 with
// learners learners assigned on October 2, and late more on October 20.
func teamOctober(learners, late int) *tenantInput {
	usd, _ := money.LookupCurrency("USD")
	in := &tenantInput{changes: []rating.SubscriptionChange{{
		At: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), Kind: rating.Started,
		Subscription: schemas.Subscription{Plan: "team", Term: schemas.TermMonthly, Currency: usd},
	}}}
	for i := range learners + late {
		at := time.Date(2026, 10, 2, 0, i, 0, 0, time.UTC)
		if i >= learners {
			at = time.Date(2026, 10, 20, 0, i, 0, 0, time.UTC)
		}
		in.usage.Seats = append(in.usage.Seats, aggregators.SeatEvent{Time: at, Assigned: true, UserID: fmt.Sprintf("u%d", i), SeatType: "learner"})
	}
	return in
}

// octoberInvoice is October as finalized under book: 10 learners.
func octoberInvoice(t *testing.T, book *pricebook.Book) Invoice {
	t.Helper()
	oct, _ := ParsePeriod("2026-10")
	res, err := rating.RateMonth(book, "t", teamOctober(10, 0).changes, teamOctober(10, 0).usage, oct)
	if err != nil {
		t.Fatal(err)
	}
	return fromRating(res.Invoice, "", oct)
}

// TestAdjustmentsUseTheBilledVersion: a late event in a month billed
// under an earlier price book is adjusted at that book's prices; a month
// never billed at the current ones; a version with no book fails.
func TestAdjustmentsUseTheBilledVersion(t *testing.T) {
	v1 := pricebook.Default()
	_, v2 := pricebooktest.Repriced(t, "2027-01-01.1")
	octV1 := octoberInvoice(t, v1)
	// Billed in October under v1: base 199.00 + 10 learners × 4.00 =
	// 40.00 → 239.00.
	if octV1.Total.String() != "239" || octV1.PriceBookVersion != v1.Version {
		t.Fatalf("October under %s: %s total %s; want 239.00", octV1.PriceBookVersion, octV1.ID, octV1.Total)
	}
	// November under v2 with the 15 learners, and an adjustment for
	// October of +20.00 for 5 late learners.
	nov, _ := ParsePeriod("2026-11")
	late := teamOctober(10, 5)
	res, err := rating.RateMonth(v2, "t", late.changes, late.usage, nov)
	if err != nil {
		t.Fatal(err)
	}
	res.Invoice.Append(rating.Line{Kind: rating.LineAdjustment, Item: "seats:learner", Adjusts: rating.LineSeats, Period: "2026-10",
		Quantity: decimal.NewFromInt(1), UnitPrice: decimal.RequireFromString("20.00"), Amount: decimal.RequireFromString("20.00")})
	novV2 := fromRating(res.Invoice, "", nov)
	// base 249.00 + 15 × 5.00 = 75.00 + 20.00 → 344.00
	if novV2.Total.String() != "344" {
		t.Fatalf("November under v2: total %s; want 344.00", novV2.Total)
	}

	tests := []struct {
		name    string
		book    *pricebook.Book
		books   PriceBooks
		in      *tenantInput
		period  string
		prior   []Invoice
		want    []string // "item period amount"
		wantErr []error
	}{
		{
			// 15 learners × 4.00 (v1) = 60.00, billed 40.00: +20.00. At
			// v2's prices it would have been +50.00 base and +35.00 seats.
			name: "late learners in a month billed under an earlier version", book: v2, books: catalog(t, v2, v1),
			in: teamOctober(10, 5), period: "2026-11", prior: []Invoice{octV1},
			want: []string{"seats:learner 2026-10 20.00"},
		},
		{
			// A price change alone adjusts nothing: 10 × 4.00 = 40.00 billed.
			name: "no late event, new prices: nothing to adjust", book: v2, books: catalog(t, v2, v1),
			in: teamOctober(10, 0), period: "2026-11", prior: []Invoice{octV1},
		},
		{
			// A 16th October learner after November's +20.00: October at
			// v1, 16 × 4.00 = 64.00 against 40.00 + 20.00 billed → +4.00;
			// November at v2 (the peak carries over), 16 × 5.00 = 80.00
			// against 75.00 → +5.00.
			name: "two closed months, two versions", book: v2, books: catalog(t, v2, v1),
			in: teamOctober(10, 6), period: "2026-12", prior: []Invoice{octV1, novV2},
			want: []string{"seats:learner 2026-10 4.00", "seats:learner 2026-11 5.00"},
		},
		{
			name: "month billed under the current version", book: v1,
			in: teamOctober(10, 5), period: "2026-11", prior: []Invoice{octV1},
			want: []string{"seats:learner 2026-10 20.00"},
		},
		{
			// October closed with no invoice: billed now at the current
			// (v2) prices: base 249.00, 15 learners × 5.00 = 75.00.
			name: "closed month never billed: the current prices", book: v2, books: catalog(t, v2, v1),
			in: teamOctober(10, 5), period: "2026-11",
			want: []string{"base:team 2026-10 249.00", "seats:learner 2026-10 75.00"},
		},
		{
			name: "billed version not in the catalog", book: v2, books: catalog(t, v2),
			in: teamOctober(10, 5), period: "2026-11", prior: []Invoice{octV1},
			wantErr: []error{ErrUnknownPriceBook, pricebook.ErrUnknownVersion},
		},
		{
			name: "no catalog", book: v2,
			in: teamOctober(10, 5), period: "2026-11", prior: []Invoice{octV1},
			wantErr: []error{ErrUnknownPriceBook},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Service{cfg: Config{Book: tt.book, Books: tt.books}}
			p, err := ParsePeriod(tt.period)
			if err != nil {
				t.Fatal(err)
			}
			var closed []Period // every month from October to p, p left out
			for q, _ := ParsePeriod("2026-10"); q.Before(p); q = q.Next() {
				closed = append(closed, q)
			}
			lines, cur, err := s.adjustments("t", tt.in, p, tt.prior, closed)
			if tt.wantErr != nil {
				for _, want := range tt.wantErr {
					if !errors.Is(err, want) {
						t.Errorf("err %v; want it to wrap %v", err, want)
					}
				}
				if err != nil && (!strings.Contains(err.Error(), "re-rating 2026-10") || !strings.Contains(err.Error(), v1.Version)) {
					t.Errorf("err %q does not name the month and the version", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range lines {
				if l.Kind != rating.LineAdjustment {
					t.Errorf("line of kind %s", l.Kind)
				}
				got = append(got, l.Item+" "+l.Period+" "+l.Amount.StringFixed(2))
			}
			if strings.Join(got, "; ") != strings.Join(tt.want, "; ") {
				t.Errorf("adjustments %q; want %q", got, tt.want)
			}
			if len(lines) > 0 && cur.Code != "USD" {
				t.Errorf("currency %q", cur.Code)
			}
		})
	}
}
