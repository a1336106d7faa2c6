// Package pricebooktest builds price books for the tests that span a
// price change: the shipped book with some literals replaced.
package pricebooktest

import (
	"strings"
	"testing"

	"github.com/tally-billing/tally/aggregators/pricebook"
	"github.com/tally-billing/tally/schemas"
)

// Edited returns the shipped price book file with each replacement (old,
// new) applied to the first occurrence of old, and the book it parses
// to. It fails t if an old text is not in the file or the result is not
// a valid book.
func Edited(t testing.TB, replacements ...[2]string) ([]byte, *pricebook.Book) {
	t.Helper()
	src := string(pricebook.DefaultJSON())
	for _, r := range replacements {
		if !strings.Contains(src, r[0]) {
			t.Fatalf("the shipped price book has no %s", r[0])
		}
		src = strings.Replace(src, r[0], r[1], 1)
	}
	b, err := pricebook.Parse([]byte(src))
	if err != nil {
		t.Fatalf("edited price book: %v", err)
	}
	return []byte(src), b
}

// Repriced is the shipped book under version with team at 249.00 a month
// and its learner seat at 5.00 USD (shipped: 199.00 and 4.00); every
// other price is the shipped one.
func Repriced(t testing.TB, version string) ([]byte, *pricebook.Book) {
	t.Helper()
	data, b := Edited(t,
		[2]string{`"version": "` + pricebook.Default().Version + `"`, `"version": "` + version + `"`},
		[2]string{`"USD": "199.00"`, `"USD": "249.00"`}, // the first: team's base
		[2]string{`"USD": "4.00"`, `"USD": "5.00"`},     // the first: team's learner seat
	)
	if p := b.Plans["team"]; p.Base["USD"].String() != "249" || p.Seats[schemas.SeatLearner].Price["USD"].String() != "5" {
		t.Fatalf("repriced team: base %s, learner %s", p.Base["USD"], p.Seats[schemas.SeatLearner].Price["USD"])
	}
	return data, b
}
