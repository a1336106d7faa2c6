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
