package pricebook

import (
	"errors"
	"strings"
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
		msg               []string // the message names these
	}{
		{"known plan", `{"plan":"team","term":"monthly","currency":"USD"}`, "", nil},
		{"add-on sold", `{"plan":"enterprise","term":"monthly","currency":"EUR","addons":["hipaa_baa"]}`, "", nil},
		{"unknown plan", `{"plan":"platinum","term":"monthly","currency":"USD"}`, "data.plan", []string{"platinum"}},
		{"unpriced currency", `{"plan":"team","term":"monthly","currency":"GBP"}`, "data.currency", []string{"GBP"}},
		{"unknown add-on", `{"plan":"enterprise","term":"monthly","currency":"USD","addons":["white_label","jetpack"]}`, "data.addons[1]", []string{"jetpack"}},
		{"add-on not on plan", `{"plan":"team","term":"monthly","currency":"USD","addons":["hipaa_baa"]}`, "data.addons[0]",
			[]string{`"hipaa_baa"`, `plan "team"`, "not_available"}},
		// SPEC §2 and §6: sold only where the matrix says addon.
		{"white_label on starter", `{"plan":"starter","term":"monthly","currency":"USD","addons":["white_label"]}`, "data.addons[0]",
			[]string{`"white_label"`, `plan "starter"`}},
		{"data_residency on team", `{"plan":"team","term":"annual","currency":"USD","committed_seats":{"learner":"1","author":"0"},"addons":["data_residency"]}`,
			"data.addons[0]", []string{`plan "team"`}},
		{"hipaa_baa on business", `{"plan":"business","term":"monthly","currency":"USD","addons":["hipaa_baa"]}`, "data.addons[0]",
			[]string{`plan "business"`}},
		{"hipaa_baa on marketplace_provider", `{"plan":"marketplace_provider","term":"monthly","currency":"USD","addons":["white_label","hipaa_baa"]}`,
			"data.addons[1]", []string{`plan "marketplace_provider"`}},
		{"data_residency on business", `{"plan":"business","term":"monthly","currency":"USD","addons":["data_residency"]}`, "", nil},
		{"white_label on marketplace_provider", `{"plan":"marketplace_provider","term":"monthly","currency":"JPY","addons":["white_label","data_residency"]}`, "", nil},
		// Included add-ons are accepted (and cost nothing, see rating).
		{"hipaa_baa on healthcare", `{"plan":"healthcare","term":"monthly","currency":"USD","addons":["hipaa_baa","white_label","data_residency"]}`, "", nil},
		{"data_residency on enterprise_plus", `{"plan":"enterprise_plus","term":"monthly","currency":"USD","addons":["data_residency","white_label"]}`, "", nil},
		// The pilot lifecycle is issue 15: refused with the reason until then.
		{"pilot plan", `{"plan":"pilot","term":"monthly","currency":"USD"}`, "data.plan", []string{`plan "pilot"`, "not supported yet"}},
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
			for _, m := range tc.msg {
				if !strings.Contains(fe.Message, m) {
					t.Errorf("message %q does not name %s", fe.Message, m)
				}
			}
		})
	}
}
