// Package pricebooktest builds price books for the tests that span a
// price change (the shipped book with some literals replaced) or a plan
// the shipped book does not sell.
package pricebooktest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tally-billing/tally/pricebook"
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

// WithPlanLike is the shipped book under version with one more plan, plan,
// priced as the plan like: a plan some tenants were sold and the shipped
// book does not have.
func WithPlanLike(t testing.TB, plan, like, version string) ([]byte, *pricebook.Book) {
	t.Helper()
	var raw map[string]any
	if err := json.Unmarshal(pricebook.DefaultJSON(), &raw); err != nil {
		t.Fatalf("decoding the shipped price book: %v", err)
	}
	plans, ok := raw["plans"].(map[string]any)
	if !ok || plans[like] == nil {
		t.Fatalf("the shipped price book has no plan %q", like)
	}
	plans[plan] = plans[like]
	raw["version"] = version
	data, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pricebook.Parse(data)
	if err != nil {
		t.Fatalf("price book with plan %q: %v", plan, err)
	}
	return data, b
}
