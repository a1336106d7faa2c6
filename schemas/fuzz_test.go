package schemas_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tally-billing/tally/schemas"
)

var sentinels = []error{
	schemas.ErrMalformed, schemas.ErrMissingField, schemas.ErrUnknownField, schemas.ErrUnknownType,
	schemas.ErrJSONNumber, schemas.ErrInvalidValue,
}

// FuzzDecode checks that Decode never panics, that every rejection is a
// *FieldError with a sentinel, and that an accepted event is stable: it
// decodes again from Raw and from its re-encoding to the same identity and
// content hash, and the JSON Schema accepts it too. Seeds live in
// testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	anyEvent := compileSchema(f, "event.schema.json")
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := schemas.Decode(raw)
		if err != nil {
			var fe *schemas.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not a *FieldError: %v", err, err)
			}
			if !slicesContainsIs(err) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			if fe.Message == "" {
				t.Fatalf("empty message for field %q", fe.Field)
			}
			return
		}
		if !bytes.Equal(e.Raw, raw) {
			t.Fatalf("Raw = %q; want the input", e.Raw)
		}
		hash := e.ContentHash()
		if e.ContentHash() != hash {
			t.Fatal("ContentHash is not stable")
		}

		again, err := schemas.Decode(e.Raw)
		if err != nil || again.ContentHash() != hash || again.Identity() != e.Identity() {
			t.Fatalf("decoding Raw again: %v", err)
		}

		enc, err := schemas.Encode(e)
		if err != nil {
			t.Fatalf("Encode of an accepted event: %v", err)
		}
		re, err := schemas.Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode(e)) = %v\ninput: %q\nencoded: %s", err, raw, enc)
		}
		if re.ContentHash() != hash || re.Identity() != e.Identity() || !re.Time.Equal(e.Time) {
			t.Fatalf("re-encoding changed the event:\ninput:   %q\nencoded: %s", raw, enc)
		}

		if ok, err := schemaAccepts(anyEvent, raw); !ok {
			t.Fatalf("Decode accepts what the JSON Schema rejects: %v\ninput: %q", err, raw)
		}

		batch, err := schemas.SplitBatch(append(append([]byte("[ "), raw...), " ]"...))
		if err != nil || len(batch) != 1 || !bytes.Equal(bytes.TrimSpace(raw), batch[0]) {
			t.Fatalf("SplitBatch of a one-event batch = %q, %v", batch, err)
		}
	})
}

func slicesContainsIs(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
