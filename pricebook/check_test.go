package pricebook

import (
	"errors"
	"testing"

	"github.com/tally-billing/tally/schemas"
)

func TestCheckEvent(t *testing.T) {
	book := Default()
	sub := func(data string) *schemas.Event {
		t.Helper()
		e, err := schemas.Decode([]byte(`{"specversion":"1.0","id":"1","source":"s","type":"subscription.started","subject":"t",` +
			`"time":"2026-11-01T00:00:00Z","data":` + data + `}`))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	cases := []struct {
		name, data, field string
	}{
		{"known plan", `{"plan":"team","term":"monthly","currency":"USD"}`, ""},
		{"add-on allowed", `{"plan":"enterprise","term":"monthly","currency":"EUR","addons":["hipaa_baa"]}`, ""},
		{"unknown plan", `{"plan":"platinum","term":"monthly","currency":"USD"}`, "data.plan"},
		{"unpriced currency", `{"plan":"team","term":"monthly","currency":"GBP"}`, "data.currency"},
		{"unknown add-on", `{"plan":"team","term":"monthly","currency":"USD","addons":["white_label","jetpack"]}`, "data.addons[1]"},
		{"add-on not on plan", `{"plan":"team","term":"monthly","currency":"USD","addons":["hipaa_baa"]}`, "data.addons[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := book.CheckEvent(sub(tc.data))
			var fe *schemas.FieldError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field):
				t.Fatalf("err %v, want a field error on %s", err, tc.field)
			}
		})
	}
}
