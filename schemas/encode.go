package schemas

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/money"
)

// Encode renders e as a CloudEvents 1.0 structured-mode JSON document (with
// datacontenttype application/json and no extension attributes) and checks
// the result with [Decode], so it never returns bytes that Tally would
// reject, except for the future-time check. e.Raw is ignored. It is meant
// for emitters and tests; the pipeline stores Raw, never a re-encoding.
//
// Money amounts whose scale exceeds the currency's minor unit but whose
// value does not (10.100 USD) are written with the minor unit's digits;
// anything that would need rounding is rejected, never rounded.
func Encode(e *Event) ([]byte, error) {
	if e.Data == nil || e.Data.appendJSON(nil) == nil {
		return nil, fmt.Errorf("encoding event: %w", &FieldError{Field: "data", Message: "is required", Err: ErrMissingField})
	}
	if !payloadFits(e.Type, e.Data) {
		return nil, fmt.Errorf("encoding event: %w", &FieldError{Field: "data", Message: fmt.Sprintf("a %T payload does not fit type %s", e.Data, quoteCut(string(e.Type))), Err: ErrInvalidValue})
	}
	spec := e.SpecVersion
	if spec == "" {
		spec = SpecVersion
	}
	b := make([]byte, 0, 384)
	b = append(b, `{"specversion":`...)
	b = appendJSONString(b, spec)
	b = append(b, `,"id":`...)
	b = appendJSONString(b, e.ID)
	b = append(b, `,"source":`...)
	b = appendJSONString(b, e.Source)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, string(e.Type))
	b = append(b, `,"subject":`...)
	b = appendJSONString(b, e.Subject)
	b = append(b, `,"time":`...)
	b = appendJSONString(b, e.Time.UTC().Format(time.RFC3339Nano))
	b = append(b, `,"datacontenttype":"application/json","data":`...)
	b = e.Data.appendJSON(b)
	b = append(b, '}')
	if _, err := Decode(b); err != nil {
		return nil, fmt.Errorf("encoding event: %w", err)
	}
	return b, nil
}

// jsonObject writes the members of one object.
type jsonObject struct {
	b     []byte
	first bool
}

func newObject(b []byte) *jsonObject { return &jsonObject{b: append(b, '{'), first: true} }

func (o *jsonObject) name(n string) {
	if !o.first {
		o.b = append(o.b, ',')
	}
	o.first = false
	o.b = appendJSONString(o.b, n)
	o.b = append(o.b, ':')
}

func (o *jsonObject) str(n, v string) {
	o.name(n)
	o.b = appendJSONString(o.b, v)
}

func (o *jsonObject) optional(n, v string) {
	if v != "" {
		o.str(n, v)
	}
}

func (o *jsonObject) dec(n string, d decimal.Decimal) { o.str(n, money.FormatDecimal(d)) }

func (o *jsonObject) amount(n string, d decimal.Decimal, c money.Currency) {
	if d.Exponent() < -c.MinorUnits {
		if r := c.Round(d); r.Equal(d) {
			d = r
		}
	}
	o.dec(n, d)
}

func (o *jsonObject) end() []byte { return append(o.b, '}') }

// appendJSON of a nil payload returns nil, which Encode reports as absent
// data.

func (v *AICreditsConsumed) appendJSON(b []byte) []byte {
	if v == nil {
		return nil
	}
	o := newObject(b)
	o.dec("credits", v.Credits)
	o.str("feature", string(v.Feature))
	o.optional("user_id", v.UserID)
	o.optional("model", v.Model)
	o.optional("provider", v.Provider)
	return o.end()
}

func (v *AIPackPurchased) appendJSON(b []byte) []byte {
	if v == nil {
		return nil
	}
	o := newObject(b)
	o.str("pack_id", v.PackID)
	o.dec("credits", v.Credits)
	o.str("currency", v.Currency.Code)
	o.amount("price", v.Price, v.Currency)
	return o.end()
}

func (v *SeatChange) appendJSON(b []byte) []byte {
	if v == nil {
		return nil
	}
	o := newObject(b)
	o.str("user_id", v.UserID)
	o.str("seat_type", string(v.SeatType))
	return o.end()
}

func (v *Subscription) appendJSON(b []byte) []byte {
	if v == nil {
		return nil
	}
	o := newObject(b)
	o.str("plan", v.Plan)
	o.str("term", string(v.Term))
	if v.TermYears != 0 {
		o.str("term_years", fmt.Sprint(v.TermYears))
	}
	o.str("currency", v.Currency.Code)
	if v.CommittedSeats != nil {
		o.name("committed_seats")
		seats := newObject(o.b)
		for _, seat := range allSeatTypes {
			if n, ok := v.CommittedSeats[seat]; ok {
				seats.str(string(seat), fmt.Sprint(n))
			}
		}
		for seat, n := range v.CommittedSeats { // unknown seat types: let Decode say so
			if _, ok := lookupSeatType(string(seat)); !ok {
				seats.str(string(seat), fmt.Sprint(n))
			}
		}
		o.b = seats.end()
	}
	if len(v.Addons) > 0 {
		o.name("addons")
		o.b = append(o.b, '[')
		for i, a := range v.Addons {
			if i > 0 {
				o.b = append(o.b, ',')
			}
			o.b = appendJSONString(o.b, a)
		}
		o.b = append(o.b, ']')
	}
	return o.end()
}

func (v *SubscriptionCanceled) appendJSON(b []byte) []byte {
	if v == nil {
		return nil
	}
	o := newObject(b)
	o.optional("reason", v.Reason)
	return o.end()
}

func (v *SaleCompleted) appendJSON(b []byte) []byte {
	if v == nil {
		return nil
	}
	o := newObject(b)
	o.str("order_id", v.OrderID)
	o.str("buyer_id", v.BuyerID)
	o.str("course_id", v.CourseID)
	o.str("currency", v.Currency.Code)
	o.amount("gross", v.Gross, v.Currency)
	o.amount("tax", v.Tax, v.Currency)
	return o.end()
}

func (v *RefundIssued) appendJSON(b []byte) []byte {
	if v == nil {
		return nil
	}
	o := newObject(b)
	o.str("order_id", v.OrderID)
	o.str("refund_id", v.RefundID)
	o.str("currency", v.Currency.Code)
	o.amount("amount", v.Amount, v.Currency)
	return o.end()
}

func (v *KYCVerified) appendJSON(b []byte) []byte {
	if v == nil {
		return nil
	}
	o := newObject(b)
	o.str("stripe_account", v.StripeAccount)
	return o.end()
}

func (v *KYCRevoked) appendJSON(b []byte) []byte {
	if v == nil {
		return nil
	}
	o := newObject(b)
	o.optional("reason", v.Reason)
	return o.end()
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 is written
// as is, for Decode to reject.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		case c < utf8.RuneSelf:
			b = append(b, c)
		default:
			_, size := utf8.DecodeRuneInString(s[i:])
			b = append(b, s[i:i+size]...)
			i += size
			continue
		}
		i++
	}
	return append(b, '"')
}
