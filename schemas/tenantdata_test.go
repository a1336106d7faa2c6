package schemas_test

import (
	"errors"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/schemas"
)

// TestTenantStateEvents decodes the events of SPEC §6: the typed data of
// valid ones, and the field and sentinel a malformed one is refused with
// (what the ingest's 400 names).
func TestTenantStateEvents(t *testing.T) {
	valid := []struct {
		typ, data string
		want      schemas.Payload
	}{
		{"tenant.feature_flag.set", `{"flag":"marketplace_seller","enabled":"true"}`, &schemas.FeatureFlagSet{Flag: "marketplace_seller", Enabled: true}},
		{"tenant.feature_flag.set", `{"enabled":"false","flag":"beta"}`, &schemas.FeatureFlagSet{Flag: "beta"}},
		{"tenant.ai_cap.set", `{"monthly_credits":"7500.25"}`, &schemas.AICapSet{MonthlyCredits: decimal.RequireFromString("7500.25")}},
		{"tenant.ai_cap.set", `{"monthly_credits":"0"}`, &schemas.AICapSet{MonthlyCredits: decimal.Zero}},
		{"marketplace.seller.enrolled", `{"provider":"prov-1"}`, &schemas.SellerEnrollment{Provider: "prov-1"}},
		{"marketplace.seller.left", `{"provider":"prov-1"}`, &schemas.SellerEnrollment{Provider: "prov-1"}},
	}
	for _, c := range valid {
		e, err := schemas.Decode([]byte(ev(c.typ, c.data)))
		if err != nil {
			t.Fatalf("%s %s: %v", c.typ, c.data, err)
		}
		if dataHash(t, e.Type, e.Data) != dataHash(t, e.Type, c.want) {
			t.Errorf("%s %s: data %+v, want %+v", c.typ, c.data, e.Data, c.want)
		}
		if e.Type.ProviderSubject() {
			t.Errorf("%s: the subject is the tenant", c.typ)
		}
	}

	invalid := []struct {
		typ, data, field string
		err              error
	}{
		{"tenant.feature_flag.set", `{"flag":"beta","enabled":true}`, "data.enabled", schemas.ErrInvalidValue},
		{"tenant.feature_flag.set", `{"flag":"beta","enabled":"1"}`, "data.enabled", schemas.ErrInvalidValue},
		{"tenant.feature_flag.set", `{"enabled":"true"}`, "data.flag", schemas.ErrMissingField},
		{"tenant.feature_flag.set", `{"flag":"Beta","enabled":"true"}`, "data.flag", schemas.ErrInvalidValue},
		{"tenant.ai_cap.set", `{"monthly_credits":"-1"}`, "data.monthly_credits", schemas.ErrInvalidValue},
		{"tenant.ai_cap.set", `{"monthly_credits":5}`, "data.monthly_credits", schemas.ErrJSONNumber},
		{"tenant.ai_cap.set", `{}`, "data.monthly_credits", schemas.ErrMissingField},
		{"tenant.ai_cap.set", `{"monthly_credits":"1e3"}`, "data.monthly_credits", schemas.ErrInvalidValue},
		{"marketplace.seller.enrolled", `{}`, "data.provider", schemas.ErrMissingField},
		{"marketplace.seller.left", `{"provider":""}`, "data.provider", schemas.ErrInvalidValue},
		{"marketplace.seller.enrolled", `{"provider":"p","plan":"team"}`, "data.plan", schemas.ErrUnknownField},
	}
	for _, c := range invalid {
		_, err := schemas.Decode([]byte(ev(c.typ, c.data)))
		var fe *schemas.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !errors.Is(err, c.err) || fe.Message == "" {
			t.Errorf("%s %s: error %v; want field %s wrapping %v", c.typ, c.data, err, c.field, c.err)
		}
	}
}

// dataHash is the content hash of an event around d with a fixed
// envelope: equal for two payloads saying the same thing.
func dataHash(t *testing.T, typ schemas.Type, d schemas.Payload) [16]byte {
	t.Helper()
	e := &schemas.Event{ID: "x", Source: "s", Type: typ, Subject: "tenant-42", Time: schemas.MinTime(), Data: d}
	raw, err := schemas.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	back, err := schemas.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	return back.ContentHash()
}
