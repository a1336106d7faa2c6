package schemas

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"strconv"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/money"
)

// canonVersion starts every canonical form; bump it if the form changes
// (stored hashes would then need recomputing).
const canonVersion = "tally.event.content.v1\x00"

// ContentHash returns a hash of the event's content, excluding its
// identity: type, subject, time (the instant, to the nanosecond, whatever
// offset it was written with), and data in a canonical form.
//
// Two events with the same identity are duplicates if their hashes are
// equal and conflicts otherwise. The canonical form is built from the
// validated, typed payload, so:
//   - whitespace, key order, escapes (`"a\u0062c"` is "abc") and the time
//     zone spelling of the same instant do not matter;
//   - decimals compare by value: "1.5" and "1.50" are the same content;
//   - an absent optional field and an empty addons list are the same;
//   - addons compare as an ordered list;
//   - extension attributes and datacontenttype are not content: a retry
//     with a new trace id is still a duplicate;
//   - any other difference in a value changes the hash.
//
// The hash is the first 16 bytes of a SHA-256 over the canonical form.
func (e *Event) ContentHash() [16]byte {
	var arr [384]byte
	b := append(arr[:0], canonVersion...)
	b = canonString(b, string(e.Type))
	b = canonString(b, e.Subject)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.Unix()))
	b = binary.BigEndian.AppendUint32(b, uint32(e.Time.Nanosecond()))
	if e.Data == nil {
		b = append(b, 'N')
	} else {
		b = e.Data.appendCanonical(b)
	}
	sum := sha256.Sum256(b)
	return [16]byte(sum[:16])
}

// The canonical form is a sequence of tagged, length-prefixed values, so
// that no two different contents can produce the same bytes.

func canonString(b []byte, s string) []byte {
	b = append(b, 's')
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// canonField writes a field name; fields are written in a fixed order and
// absent optional fields are skipped entirely.
func canonField(b []byte, name string) []byte {
	b = append(b, 'f')
	b = binary.AppendUvarint(b, uint64(len(name)))
	return append(b, name...)
}

// canonDecimal writes the value of d: trailing zeros removed, so equal
// values write equal bytes.
func canonDecimal(b []byte, d decimal.Decimal) []byte {
	d = d.Normalize()
	b = append(b, 'd')
	b = d.Coefficient().Append(b, 10)
	b = append(b, 'e')
	return strconv.AppendInt(b, int64(d.Exponent()), 10)
}

func canonCurrency(b []byte, c money.Currency) []byte { return canonString(b, c.Code) }

func canonOptional(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	return canonString(canonField(b, name), value)
}

func canonStart(b []byte, payload string) []byte {
	return canonString(append(b, 'P'), payload)
}

func (v *AICreditsConsumed) appendCanonical(b []byte) []byte {
	if v == nil {
		return append(b, 'N')
	}
	b = canonStart(b, "ai_credits_consumed")
	b = canonDecimal(canonField(b, "credits"), v.Credits)
	b = canonString(canonField(b, "feature"), string(v.Feature))
	b = canonOptional(b, "user_id", v.UserID)
	b = canonOptional(b, "model", v.Model)
	return canonOptional(b, "provider", v.Provider)
}

func (v *AIPackPurchased) appendCanonical(b []byte) []byte {
	if v == nil {
		return append(b, 'N')
	}
	b = canonStart(b, "ai_pack_purchased")
	b = canonString(canonField(b, "pack_id"), v.PackID)
	b = canonDecimal(canonField(b, "credits"), v.Credits)
	b = canonCurrency(canonField(b, "currency"), v.Currency)
	return canonDecimal(canonField(b, "price"), v.Price)
}

func (v *SeatChange) appendCanonical(b []byte) []byte {
	if v == nil {
		return append(b, 'N')
	}
	b = canonStart(b, "seat_change")
	b = canonString(canonField(b, "user_id"), v.UserID)
	return canonString(canonField(b, "seat_type"), string(v.SeatType))
}

func (v *Subscription) appendCanonical(b []byte) []byte {
	if v == nil {
		return append(b, 'N')
	}
	b = canonStart(b, "subscription")
	b = canonString(canonField(b, "plan"), v.Plan)
	b = canonString(canonField(b, "term"), string(v.Term))
	if v.TermYears != 0 {
		b = binary.AppendVarint(append(canonField(b, "term_years"), 'i'), int64(v.TermYears))
	}
	b = canonCurrency(canonField(b, "currency"), v.Currency)
	if v.CommittedSeats != nil {
		b = append(canonField(b, "committed_seats"), 'm')
		keys := make([]SeatType, 0, len(v.CommittedSeats))
		for k := range v.CommittedSeats {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = binary.AppendUvarint(b, uint64(len(keys)))
		for _, k := range keys {
			b = canonString(b, string(k))
			b = binary.AppendVarint(append(b, 'i'), v.CommittedSeats[k])
		}
	}
	if len(v.Addons) > 0 {
		b = append(canonField(b, "addons"), 'a')
		b = binary.AppendUvarint(b, uint64(len(v.Addons)))
		for _, a := range v.Addons {
			b = canonString(b, a)
		}
	}
	return b
}

func (v *SubscriptionCanceled) appendCanonical(b []byte) []byte {
	if v == nil {
		return append(b, 'N')
	}
	return canonOptional(canonStart(b, "subscription_canceled"), "reason", v.Reason)
}

func (v *SaleCompleted) appendCanonical(b []byte) []byte {
	if v == nil {
		return append(b, 'N')
	}
	b = canonStart(b, "sale_completed")
	b = canonString(canonField(b, "order_id"), v.OrderID)
	b = canonString(canonField(b, "buyer_id"), v.BuyerID)
	b = canonString(canonField(b, "course_id"), v.CourseID)
	b = canonCurrency(canonField(b, "currency"), v.Currency)
	b = canonDecimal(canonField(b, "gross"), v.Gross)
	return canonDecimal(canonField(b, "tax"), v.Tax)
}

func (v *RefundIssued) appendCanonical(b []byte) []byte {
	if v == nil {
		return append(b, 'N')
	}
	b = canonStart(b, "refund_issued")
	b = canonString(canonField(b, "order_id"), v.OrderID)
	b = canonString(canonField(b, "refund_id"), v.RefundID)
	b = canonCurrency(canonField(b, "currency"), v.Currency)
	return canonDecimal(canonField(b, "amount"), v.Amount)
}

func (v *KYCVerified) appendCanonical(b []byte) []byte {
	if v == nil {
		return append(b, 'N')
	}
	return canonString(canonField(canonStart(b, "kyc_verified"), "stripe_account"), v.StripeAccount)
}

func (v *KYCRevoked) appendCanonical(b []byte) []byte {
	if v == nil {
		return append(b, 'N')
	}
	return canonOptional(canonStart(b, "kyc_revoked"), "reason", v.Reason)
}
