package schemas_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/schemas"
)

// schemaCannotExpress lists the corpus events that Decode rejects for a
// rule a JSON Schema cannot state, so the JSON Schema accepts them. The
// test fails if one of them stops being accepted by the schema, so the
// list cannot go stale.
var schemaCannotExpress = map[string]string{
	"tax_above_gross.json":        "tax <= gross compares two fields",
	"time_before_2000.json":       "a lower bound on a date-time string",
	"time_leap_second.json":       "format date-time allows a leap second; Tally does not",
	"id_257_bytes_129_chars.json": "maxLength counts characters; the limit is in bytes",
	"duplicate_key.json":          "the validator's JSON parser keeps the last duplicate key",
	"invalid_utf8.json":           "the validator's JSON parser replaces invalid UTF-8 with U+FFFD",
	"lone_surrogate.json":         "the validator's JSON parser replaces a lone surrogate with U+FFFD",
}

// payloads maps each payload type to its definition in data.schema.json
// and its event types.
var payloads = []struct {
	payload any
	def     string
	types   []schemas.Type
}{
	{schemas.AICreditsConsumed{}, "ai_credits_consumed", []schemas.Type{schemas.TypeAICreditsConsumed}},
	{schemas.AIPackPurchased{}, "ai_pack_purchased", []schemas.Type{schemas.TypeAIPackPurchased}},
	{schemas.SeatChange{}, "seat_change", []schemas.Type{schemas.TypeSeatAssigned, schemas.TypeSeatReleased}},
	{schemas.Subscription{}, "subscription", []schemas.Type{schemas.TypeSubscriptionStarted, schemas.TypeSubscriptionChanged}},
	{schemas.SubscriptionCanceled{}, "subscription_canceled", []schemas.Type{schemas.TypeSubscriptionCanceled}},
	{schemas.SaleCompleted{}, "sale_completed", []schemas.Type{schemas.TypeSaleCompleted}},
	{schemas.RefundIssued{}, "refund_issued", []schemas.Type{schemas.TypeRefundIssued}},
	{schemas.KYCVerified{}, "kyc_verified", []schemas.Type{schemas.TypeKYCVerified}},
	{schemas.KYCRevoked{}, "kyc_revoked", []schemas.Type{schemas.TypeKYCRevoked}},
	{schemas.FeatureFlagSet{}, "feature_flag_set", []schemas.Type{schemas.TypeFeatureFlagSet}},
	{schemas.AICapSet{}, "ai_cap_set", []schemas.Type{schemas.TypeAICapSet}},
	{schemas.SellerEnrollment{}, "seller_enrollment", []schemas.Type{schemas.TypeSellerEnrolled, schemas.TypeSellerLeft}},
}

type object = map[string]any

func readSchema(t *testing.T, name string) object {
	t.Helper()
	b, err := fs.ReadFile(schemas.JSONSchemaFS(), name)
	if err != nil {
		t.Fatal(err)
	}
	var doc object
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return doc
}

// at walks a path of object keys and array indexes.
func at(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch p := p.(type) {
		case string:
			o, ok := v.(object)
			if !ok {
				t.Fatalf("at %v: %T is not an object", path, v)
			}
			v = o[p]
		case int:
			a, ok := v.([]any)
			if !ok || p >= len(a) {
				t.Fatalf("at %v: not an array with index %d", path, p)
			}
			v = a[p]
		}
	}
	return v
}

func strs(t *testing.T, v any) []string {
	t.Helper()
	if v == nil {
		return nil
	}
	a, ok := v.([]any)
	if !ok {
		t.Fatalf("%v is not an array", v)
	}
	out := make([]string, len(a))
	for i, el := range a {
		out[i] = el.(string)
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func names[T ~string](values []T) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}

// commonDef resolves a "$ref" to common.schema.json and returns the
// definition's name.
func commonDef(t *testing.T, prop any) string {
	t.Helper()
	ref, _ := at(t, prop, "$ref").(string)
	name, ok := strings.CutPrefix(ref, "common.schema.json#/$defs/")
	if !ok {
		t.Fatalf("property %v does not refer to common.schema.json", prop)
	}
	return name
}

// TestJSONSchemaMatchesGoTypes compares the payload structs (json and tally
// tags, field types, enums) with data.schema.json and common.schema.json.
func TestJSONSchemaMatchesGoTypes(t *testing.T) {
	common := at(t, readSchema(t, "common.schema.json"), "$defs").(object)
	data := at(t, readSchema(t, "data.schema.json"), "$defs").(object)

	// Enums and currencies.
	enums := map[string][]string{
		"feature":  names(schemas.Features()),
		"seatType": names(schemas.SeatTypes()),
		"term":     names(schemas.Terms()),
	}
	byMinor := map[string][]string{}
	for _, c := range money.Currencies() {
		enums["currency"] = append(enums["currency"], c.Code)
		group := "currency" + string('0'+c.MinorUnits)
		byMinor[group] = append(byMinor[group], c.Code)
	}
	for group, codes := range byMinor {
		enums[group] = codes
	}
	if len(byMinor) != 4 {
		t.Errorf("minor-unit groups %v; the schema has currency0, 2, 3 and 4", slices.Collect(mapsKeys(byMinor)))
	}
	for def, want := range enums {
		if got := strs(t, at(t, common, def, "enum")); !slices.Equal(sorted(got), sorted(want)) {
			t.Errorf("common.schema.json $defs/%s enum = %v; Go has %v", def, got, want)
		}
	}

	var covered []schemas.Type
	for _, pl := range payloads {
		covered = append(covered, pl.types...)
		def, ok := data[pl.def].(object)
		if !ok {
			t.Errorf("data.schema.json has no $defs/%s", pl.def)
			continue
		}
		if at(t, def, "additionalProperties") != false {
			t.Errorf("%s: additionalProperties must be false (unknown fields are rejected)", pl.def)
		}
		props := at(t, def, "properties").(object)
		// Fields required by an if/then (conditional), and the money fields
		// narrowed per currency group by an if/then.
		rules, _ := def["allOf"].([]any)
		var conditional []string
		moneyFields := map[string]int{}
		for _, rule := range rules {
			then, ok := rule.(object)["then"].(object)
			if !ok {
				continue
			}
			conditional = append(conditional, strs(t, then["required"])...)
			if p, ok := then["properties"].(object); ok {
				for f := range p {
					moneyFields[f]++
				}
			}
		}

		rt := reflect.TypeOf(pl.payload)
		var fields, required []string
		for i := range rt.NumField() {
			f := rt.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			fields = append(fields, name)
			prop, ok := props[name]
			if !ok {
				t.Errorf("%s.%s: json %q is not a property of $defs/%s", rt.Name(), f.Name, name, pl.def)
				continue
			}
			switch tag := f.Tag.Get("tally"); tag {
			case "required":
				required = append(required, name)
			case "conditional":
				if !slices.Contains(conditional, name) {
					t.Errorf("%s.%s is conditional but no if/then of $defs/%s requires %q", rt.Name(), f.Name, pl.def, name)
				}
			case "optional":
				if slices.Contains(conditional, name) {
					t.Errorf("%s.%s is optional but an if/then of $defs/%s requires %q", rt.Name(), f.Name, pl.def, name)
				}
			default:
				t.Errorf("%s.%s: tally tag %q; want required, optional or conditional", rt.Name(), f.Name, tag)
			}
			checkFieldSchema(t, common, pl.def+"."+name, f.Type, prop, moneyFields[name])
		}
		if got := strs(t, def["required"]); !slices.Equal(sorted(got), sorted(required)) {
			t.Errorf("$defs/%s required = %v; Go tags say %v", pl.def, got, required)
		}
		var schemaFields []string
		for k := range props {
			schemaFields = append(schemaFields, k)
		}
		if !slices.Equal(sorted(schemaFields), sorted(fields)) {
			t.Errorf("$defs/%s properties = %v; Go fields %v", pl.def, sorted(schemaFields), sorted(fields))
		}

		// Each type's file: envelope + type const + this payload.
		for _, typ := range pl.types {
			doc := readSchema(t, string(typ)+".schema.json")
			if got := at(t, doc, "properties", "type", "const"); got != string(typ) {
				t.Errorf("%s.schema.json type const = %v", typ, got)
			}
			if got := at(t, doc, "properties", "data", "$ref"); got != "data.schema.json#/$defs/"+pl.def {
				t.Errorf("%s.schema.json data $ref = %v; want $defs/%s", typ, got, pl.def)
			}
			if got := at(t, doc, "allOf", 0, "$ref"); got != "envelope.schema.json" {
				t.Errorf("%s.schema.json does not build on the envelope: %v", typ, got)
			}
			if !bytes.Equal(schemas.JSONSchema(typ), mustRead(t, string(typ)+".schema.json")) {
				t.Errorf("JSONSchema(%s) is not the file", typ)
			}
		}
	}
	if !slices.Equal(sorted(names(covered)), sorted(names(schemas.Types()))) {
		t.Errorf("payload table covers %v; Types() = %v", covered, schemas.Types())
	}
	if schemas.JSONSchema("no.such.type") != nil {
		t.Error("JSONSchema of an unknown type is not nil")
	}

	// The envelope and the any-event schema.
	envelope := readSchema(t, "envelope.schema.json")
	var attrs []string
	for k := range at(t, envelope, "properties").(object) {
		attrs = append(attrs, k)
	}
	if want := []string{"data", "datacontenttype", "id", "source", "specversion", "subject", "time", "type"}; !slices.Equal(sorted(attrs), want) {
		t.Errorf("envelope properties = %v; want %v", sorted(attrs), want)
	}
	if got := strs(t, at(t, envelope, "required")); !slices.Equal(sorted(got), []string{"data", "id", "source", "specversion", "subject", "time", "type"}) {
		t.Errorf("envelope required = %v", got)
	}
	event := readSchema(t, "event.schema.json")
	if got := strs(t, at(t, event, "allOf", 1, "properties", "type", "enum")); !slices.Equal(got, names(schemas.Types())) {
		t.Errorf("event.schema.json type enum = %v; Types() = %v", got, schemas.Types())
	}
	if !bytes.Equal(schemas.EventJSONSchema(), mustRead(t, "event.schema.json")) {
		t.Error("EventJSONSchema is not event.schema.json")
	}
}

func mapsKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(schemas.JSONSchemaFS(), name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	decimalT  = reflect.TypeFor[decimal.Decimal]()
	currencyT = reflect.TypeFor[money.Currency]()
)

// checkFieldSchema checks that a property's schema has the kind the Go
// field's type implies.
func checkFieldSchema(t *testing.T, common object, where string, ft reflect.Type, prop any, moneyRules int) {
	t.Helper()
	switch {
	case ft == decimalT:
		switch def := commonDef(t, prop); def {
		case "quantity", "quantityOrZero":
		case "amount":
			if moneyRules != 4 {
				t.Errorf("%s: amount narrowed by %d currency groups; want 4", where, moneyRules)
			}
		default:
			t.Errorf("%s: decimal field refers to %s; want quantity or amount", where, def)
		}
	case ft.Kind() == reflect.Bool: // "true" or "false"
		if def := commonDef(t, prop); def != "boolString" {
			t.Errorf("%s: boolean field refers to %s; want boolString", where, def)
		}
	case ft == currencyT:
		if def := commonDef(t, prop); def != "currency" {
			t.Errorf("%s: currency field refers to %s", where, def)
		}
	case ft == reflect.TypeFor[schemas.Feature]():
		if def := commonDef(t, prop); def != "feature" {
			t.Errorf("%s refers to %s", where, def)
		}
	case ft == reflect.TypeFor[schemas.SeatType]():
		if def := commonDef(t, prop); def != "seatType" {
			t.Errorf("%s refers to %s", where, def)
		}
	case ft == reflect.TypeFor[schemas.Term]():
		if def := commonDef(t, prop); def != "term" {
			t.Errorf("%s refers to %s", where, def)
		}
	case ft.Kind() == reflect.String:
		def := commonDef(t, prop)
		if at(t, common, def, "type") != "string" {
			t.Errorf("%s: string field refers to %s, which is not a string", where, def)
		}
	case ft.Kind() == reflect.Int32: // term_years: a whole-number string
		for _, v := range strs(t, at(t, prop, "enum")) {
			if strings.Trim(v, "0123456789") != "" {
				t.Errorf("%s: enum value %q is not a whole number", where, v)
			}
		}
	case ft == reflect.TypeFor[map[schemas.SeatType]int64]():
		var keys []string
		for k, v := range at(t, prop, "properties").(object) {
			keys = append(keys, k)
			if def := commonDef(t, v); def != "seatCount" {
				t.Errorf("%s.%s refers to %s", where, k, def)
			}
		}
		if want := sorted(names(schemas.SeatTypes())); !slices.Equal(sorted(keys), want) || !slices.Equal(sorted(strs(t, at(t, prop, "required"))), want) {
			t.Errorf("%s: properties %v / required %v; want every seat type", where, keys, at(t, prop, "required"))
		}
	case ft == reflect.TypeFor[[]string]():
		if at(t, prop, "type") != "array" || commonDef(t, at(t, prop, "items")) != "key" || at(t, prop, "uniqueItems") != true {
			t.Errorf("%s: want an array of unique keys", where)
		}
	default:
		t.Errorf("%s: no schema check for Go type %s", where, ft)
	}
}

func compileSchema(t testing.TB, name string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	fsys := schemas.JSONSchemaFS()
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		if err := c.AddResource(schemas.JSONSchemaBaseURI+e.Name(), doc); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
	}
	sch, err := c.Compile(schemas.JSONSchemaBaseURI + name)
	if err != nil {
		t.Fatalf("compiling %s: %v", name, err)
	}
	return sch
}

// schemaAccepts reports whether the JSON Schema accepts raw.
func schemaAccepts(sch *jsonschema.Schema, raw []byte) (bool, error) {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return false, err
	}
	err = sch.Validate(inst)
	return err == nil, err
}

// TestCorpusAgreesWithJSONSchema runs the checked-in corpus through Decode
// and the JSON Schema and requires the same verdict, except for the rules
// listed in schemaCannotExpress.
func TestCorpusAgreesWithJSONSchema(t *testing.T) {
	anyEvent := compileSchema(t, "event.schema.json")
	perType := map[schemas.Type]*jsonschema.Schema{}
	for _, typ := range schemas.Types() {
		perType[typ] = compileSchema(t, string(typ)+".schema.json")
	}
	seenTypes := map[schemas.Type]bool{}
	for _, kind := range []string{"valid", "invalid"} {
		files, err := filepath.Glob(filepath.Join("testdata", "events", kind, "*.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no %s corpus: %v", kind, err)
		}
		for _, file := range files {
			name := filepath.Base(file)
			t.Run(kind+"/"+name, func(t *testing.T) {
				raw, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				e, decodeErr := schemas.Decode(raw)
				accepted, schemaErr := schemaAccepts(anyEvent, raw)
				why, exception := schemaCannotExpress[name]
				switch {
				case kind == "valid":
					if decodeErr != nil {
						t.Fatalf("Decode rejects a valid event: %v", decodeErr)
					}
					if !accepted {
						t.Fatalf("event.schema.json rejects a valid event: %v", schemaErr)
					}
					if ok, err := schemaAccepts(perType[e.Type], raw); !ok {
						t.Fatalf("%s.schema.json rejects it: %v", e.Type, err)
					}
					for other, sch := range perType {
						if ok, _ := schemaAccepts(sch, raw); ok && other != e.Type {
							t.Fatalf("%s.schema.json accepts an event of type %s", other, e.Type)
						}
					}
					seenTypes[e.Type] = true
				case decodeErr == nil:
					t.Fatalf("Decode accepts an invalid event: %+v", e)
				case !errors.As(decodeErr, new(*schemas.FieldError)):
					t.Fatalf("Decode error is not a *FieldError: %v", decodeErr)
				case exception:
					if !accepted {
						t.Fatalf("listed as inexpressible (%s) but the JSON Schema rejects it too: %v; remove it from schemaCannotExpress", why, schemaErr)
					}
				case accepted:
					t.Fatalf("Decode rejects (%v) but the JSON Schema accepts", decodeErr)
				}
			})
		}
	}
	for _, typ := range schemas.Types() {
		if !seenTypes[typ] {
			t.Errorf("the valid corpus has no %s event", typ)
		}
	}
	for name := range schemaCannotExpress {
		if _, err := os.Stat(filepath.Join("testdata", "events", "invalid", name)); err != nil {
			t.Errorf("schemaCannotExpress names %s, which is not in the corpus", name)
		}
	}
}
