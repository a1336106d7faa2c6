package payouts

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func TestJSONShowsMinorUnits(t *testing.T) {
	d := decimal.RequireFromString
	p := Payout{ID: "po_1", Currency: "USD", Amount: d("170"), Statement: []StatementLine{{Kind: "sale", Amount: d("170")}}}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(b), `"amount":"170.00"`) != 2 {
		t.Errorf("payout JSON: %s", b)
	}
	var back Payout
	if err := json.Unmarshal(b, &back); err != nil || !back.Amount.Equal(d("170")) || !back.Statement[0].Amount.Equal(d("170")) {
		t.Errorf("round trip: %+v %v", back, err)
	}
	bal, _ := json.Marshal(Balance{Currency: "JPY", Held: d("858"), Available: d("-21"), Paid: d("0")})
	if string(bal) != `{"currency":"JPY","held":"858","available":"-21","paid":"0"}` {
		t.Errorf("balance JSON: %s", bal)
	}
}
