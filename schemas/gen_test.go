package schemas_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/schemas"
)

// Generators of valid events, for the property tests. Alphabets are small
// on purpose so that two independently drawn events are sometimes equal.

var testCurrencies = []string{"USD", "EUR", "JPY", "KRW", "BHD", "KWD", "CLF", "UYW"}

func mustCur(code string) money.Currency {
	c, err := money.LookupCurrency(code)
	if err != nil {
		panic(err)
	}
	return c
}

// genIdent draws an identifier, sometimes with characters that need
// escaping or are outside ASCII.
func genIdent() *rapid.Generator[string] {
	return rapid.OneOf(
		rapid.SampledFrom([]string{"a", "b", "u-1", "tenant-42"}),
		rapid.StringOfN(rapid.SampledFrom([]rune(`ab1-_/:."\é😀 `)), 1, 12, -1),
	)
}

func genKey() *rapid.Generator[string] {
	return rapid.SampledFrom([]string{"team", "business", "white_label", "data_residency", "hipaa_baa", "x1"})
}

// genQuantity draws credits: > 0, at most 9 fraction digits.
func genQuantity() *rapid.Generator[decimal.Decimal] {
	return rapid.Custom(func(t *rapid.T) decimal.Decimal {
		coef := rapid.Int64Range(1, 1_000_000_000_000).Draw(t, "coef")
		exp := rapid.Int32Range(-9, 0).Draw(t, "exp")
		return decimal.New(coef, exp)
	})
}

// genAmount draws money in c: >= min, at most c.MinorUnits digits.
func genAmount(c money.Currency, min int64) *rapid.Generator[decimal.Decimal] {
	return rapid.Custom(func(t *rapid.T) decimal.Decimal {
		return c.FromMinor(rapid.Int64Range(min, 10_000_000).Draw(t, "minor"))
	})
}

func genTime() *rapid.Generator[time.Time] {
	return rapid.Custom(func(t *rapid.T) time.Time {
		sec := rapid.Int64Range(schemas.MinTime().Unix(), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).Unix()).Draw(t, "sec")
		nsec := rapid.OneOf(rapid.Just(int64(0)), rapid.Int64Range(0, 999_999_999)).Draw(t, "nsec")
		return time.Unix(sec, nsec).UTC()
	})
}

func genPayload(typ schemas.Type) *rapid.Generator[schemas.Payload] {
	return rapid.Custom(func(t *rapid.T) schemas.Payload {
		optional := func(label string) string {
			if rapid.Bool().Draw(t, label+"?") {
				return genIdent().Draw(t, label)
			}
			return ""
		}
		cur := mustCur(rapid.SampledFrom(testCurrencies).Draw(t, "currency"))
		switch typ {
		case schemas.TypeAICreditsConsumed:
			return &schemas.AICreditsConsumed{
				Credits:  genQuantity().Draw(t, "credits"),
				Feature:  rapid.SampledFrom(schemas.Features()).Draw(t, "feature"),
				UserID:   optional("user_id"),
				Model:    optional("model"),
				Provider: optional("provider"),
			}
		case schemas.TypeAIPackPurchased:
			return &schemas.AIPackPurchased{
				PackID:   genIdent().Draw(t, "pack_id"),
				Credits:  genQuantity().Draw(t, "credits"),
				Currency: cur,
				Price:    genAmount(cur, 0).Draw(t, "price"),
			}
		case schemas.TypeSeatAssigned, schemas.TypeSeatReleased:
			return &schemas.SeatChange{
				UserID:   genIdent().Draw(t, "user_id"),
				SeatType: rapid.SampledFrom(schemas.SeatTypes()).Draw(t, "seat_type"),
			}
		case schemas.TypeSubscriptionStarted, schemas.TypeSubscriptionChanged:
			s := &schemas.Subscription{
				Plan:     genKey().Draw(t, "plan"),
				Term:     rapid.SampledFrom(schemas.Terms()).Draw(t, "term"),
				Currency: cur,
			}
			if s.Term == schemas.TermMultiYear {
				s.TermYears = rapid.Int32Range(2, 5).Draw(t, "term_years")
			}
			if s.Term.Prepaid() || rapid.Bool().Draw(t, "commit?") {
				s.CommittedSeats = map[schemas.SeatType]int64{
					schemas.SeatLearner: rapid.Int64Range(0, 999_999_999).Draw(t, "learners"),
					schemas.SeatAuthor:  rapid.Int64Range(0, 3).Draw(t, "authors"),
				}
			}
			if rapid.Bool().Draw(t, "addons?") {
				s.Addons = rapid.SliceOfNDistinct(genKey(), 1, 4, func(s string) string { return s }).Draw(t, "addons")
			}
			return s
		case schemas.TypeSubscriptionCanceled:
			return &schemas.SubscriptionCanceled{Reason: optional("reason")}
		case schemas.TypeSaleCompleted:
			gross := genAmount(cur, 0).Draw(t, "gross")
			minor, _ := cur.ToMinor(gross)
			return &schemas.SaleCompleted{
				OrderID:  genIdent().Draw(t, "order_id"),
				BuyerID:  genIdent().Draw(t, "buyer_id"),
				CourseID: genIdent().Draw(t, "course_id"),
				Currency: cur,
				Gross:    gross,
				Tax:      cur.FromMinor(rapid.Int64Range(0, minor).Draw(t, "tax")),
			}
		case schemas.TypeRefundIssued:
			return &schemas.RefundIssued{
				OrderID:  genIdent().Draw(t, "order_id"),
				RefundID: genIdent().Draw(t, "refund_id"),
				Currency: cur,
				Amount:   genAmount(cur, 1).Draw(t, "amount"),
			}
		case schemas.TypeKYCVerified:
			return &schemas.KYCVerified{StripeAccount: "acct_" + rapid.StringMatching(`[A-Za-z0-9]{1,16}`).Draw(t, "acct")}
		case schemas.TypeKYCRevoked:
			return &schemas.KYCRevoked{Reason: optional("reason")}
		}
		panic("unknown type " + typ)
	})
}

func genEvent() *rapid.Generator[*schemas.Event] {
	return rapid.Custom(func(t *rapid.T) *schemas.Event {
		typ := rapid.SampledFrom(schemas.Types()).Draw(t, "type")
		return &schemas.Event{
			ID:      genIdent().Draw(t, "id"),
			Source:  genIdent().Draw(t, "source"),
			Type:    typ,
			Subject: genIdent().Draw(t, "subject"),
			Time:    genTime().Draw(t, "time"),
			Data:    genPayload(typ).Draw(t, "data"),
		}
	})
}

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
