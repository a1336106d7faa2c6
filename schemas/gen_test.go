package schemas_test

import (
	"fmt"
	"strings"
	"time"

	"pgregory.net/rapid"

	"github.com/tally-billing/tally/schemas"
)

// Helpers of the property tests; the generators of valid events are in
// schemas/schemastest.

// roundTrip encodes e and decodes the result.
func roundTrip(t *rapid.T, e *schemas.Event) *schemas.Event {
	raw, err := schemas.Encode(e)
	if err != nil {
		t.Fatalf("Encode(%+v): %v", e, err)
	}
	back, err := schemas.Decode(raw)
	if err != nil {
		t.Fatalf("Decode(Encode(e)) of %s: %v", raw, err)
	}
	return back
}

// respell re-encodes a JSON value with shuffled object keys, random
// whitespace and random (but equivalent) string escapes.
func respell(t *rapid.T, v any, path string) string {
	ws := func(label string) string {
		return rapid.SampledFrom([]string{"", "", " ", "\n", "\t", "\r\n  "}).Draw(t, label)
	}
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		keys = rapid.Permutation(sortedKeys(keys)).Draw(t, "keys "+path)
		var b strings.Builder
		b.WriteString("{" + ws("ws"))
		for i, k := range keys {
			if i > 0 {
				b.WriteString("," + ws("ws"))
			}
			b.WriteString(respellString(t, k) + ws("ws") + ":" + ws("ws") + respell(t, v[k], path+"."+k) + ws("ws"))
		}
		b.WriteString("}")
		return b.String()
	case []any:
		var b strings.Builder
		b.WriteString("[" + ws("ws"))
		for i, el := range v {
			if i > 0 {
				b.WriteString("," + ws("ws"))
			}
			b.WriteString(respell(t, el, fmt.Sprintf("%s[%d]", path, i)) + ws("ws"))
		}
		b.WriteString("]")
		return b.String()
	case string:
		if path == ".time" {
			v = respellTime(t, v)
		}
		return respellString(t, v)
	case bool:
		return fmt.Sprint(v)
	}
	panic(fmt.Sprintf("unexpected %T at %s", v, path))
}

func sortedKeys(keys []string) []string {
	out := append([]string(nil), keys...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// respellString writes s as a JSON string, escaping characters at random.
func respellString(t *rapid.T, s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		mode := rapid.IntRange(0, 3).Draw(t, "escape")
		switch {
		case r == '"' || r == '\\':
			if mode == 0 {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteString(`\` + string(r))
			}
		case r == '/' && mode == 1:
			b.WriteString(`\/`)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		case mode == 0 && r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(&b, `\u%04X\u%04X`, 0xD800+(r>>10), 0xDC00+(r&0x3ff))
		case mode == 0:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// respellTime writes the same instant with another offset and fraction.
func respellTime(t *rapid.T, s string) string {
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("generated time %q: %v", s, err)
	}
	offset := rapid.SampledFrom([]int{0, 60, -300, 330, 345, -570, 840, -720}).Draw(t, "offset minutes")
	zone := time.FixedZone("", offset*60)
	layout := rapid.SampledFrom([]string{time.RFC3339Nano, "2006-01-02T15:04:05.000000000Z07:00"}).Draw(t, "layout")
	return tm.In(zone).Format(layout)
}
