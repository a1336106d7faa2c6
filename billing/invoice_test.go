package billing

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func TestInvoiceJSONShowsMinorUnits(t *testing.T) {
	d := decimal.RequireFromString
	inv := Invoice{ID: "inv_1", Currency: "USD", Subtotal: d("15588"), Discount: d("-3117.6"), Total: d("12470.4"),
		Lines: []Line{{Kind: "base", Quantity: d("12"), UnitPrice: d("499"), Amount: d("5988")},
			{Kind: "ai_overage", Quantity: d("1250.5"), UnitPrice: d("0.018"), Amount: d("22.51")}}}
	b, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"subtotal":"15588.00"`, `"discount":"-3117.60"`, `"total":"12470.40"`,
		`"amount":"5988.00"`, `"unit_price":"0.018"`, `"quantity":"1250.5"`, `"amount":"22.51"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
	}
	var back Invoice
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.Total.Equal(inv.Total) || !back.Lines[1].Amount.Equal(inv.Lines[1].Amount) {
		t.Fatalf("round trip: %+v", back)
	}
	jpy := Invoice{Currency: "JPY", Total: d("2251")}
	if b, _ := json.Marshal(jpy); !strings.Contains(string(b), `"total":"2251"`) {
		t.Errorf("JPY: %s", b)
	}
}

// A line's facts go to JSON next to the existing fields (zero ones left
// out) and survive the trip to the rating engine and back.
func TestLineFactsInJSONAndBackToRating(t *testing.T) {
	d := decimal.RequireFromString
	// SPEC §3 Team example's overage line: 6,250.5 consumed, 5,000
	// included, 1,250.5 × 0.018 = 22.509 → 22.51.
	over := Line{Kind: "ai_overage", Item: "ai_overage", Quantity: d("1250.5"), UnitPrice: d("0.018"), Amount: d("22.51"),
		Period: "2026-11", Plan: "team", Term: "monthly", Meter: "ai_credits", Used: d("6250.5"), Included: d("5000")}
	b, err := json.Marshal(Invoice{Currency: "USD", Lines: []Line{over, {Kind: "base", Amount: d("199")}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"plan":"team"`, `"term":"monthly"`, `"meter":"ai_credits"`, `"used":"6250.5"`,
		`"included":"5000"`, `"amount":"22.51"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
	}
	for _, absent := range []string{`"from_packs"`, `"pack_credits"`, `"committed"`, `"seat_type"`} {
		if strings.Contains(string(b), absent) {
			t.Errorf("JSON has zero field %s: %s", absent, b)
		}
	}
	back := fromRatingLine(toRatingLine(over))
	if back.Plan != "team" || back.Term != "monthly" || back.Meter != "ai_credits" || !back.Used.Equal(d("6250.5")) ||
		!back.Included.Equal(d("5000")) || !back.FromPacks.IsZero() {
		t.Errorf("round trip through rating: %+v", back)
	}
}
