// Package schemastest draws valid Tally events for property tests
// (pgregory.net/rapid): the schemas package's own, and those of the
// packages that store and read events back. Alphabets are small on purpose
// so that two independently drawn events are sometimes equal.
package schemastest

import (
	"time"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/schemas"
)

// Currencies are the currencies events are drawn in: zero, two and three
// minor-unit digits, and funds codes.
var Currencies = []string{"USD", "EUR", "JPY", "KRW", "BHD", "KWD", "CLF", "UYW"}

// MustCurrency looks code up and panics if it is not a currency.
func MustCurrency(code string) money.Currency {
	c, err := money.LookupCurrency(code)
	if err != nil {
		panic(err)
	}
	return c
}

// Ident draws an identifier, sometimes with characters that need
// escaping or are outside ASCII.
func Ident() *rapid.Generator[string] {
	return rapid.OneOf(
		rapid.SampledFrom([]string{"a", "b", "u-1", "tenant-42"}),
		rapid.StringOfN(rapid.SampledFrom([]rune(`ab1-_/:."\é😀 `)), 1, 12, -1),
	)
}

// Key draws a plan or add-on key.
func Key() *rapid.Generator[string] {
	return rapid.SampledFrom([]string{"team", "business", "white_label", "data_residency", "hipaa_baa", "x1"})
}

// Quantity draws credits: > 0, at most 9 fraction digits.
func Quantity() *rapid.Generator[decimal.Decimal] {
	return rapid.Custom(func(t *rapid.T) decimal.Decimal {
		coef := rapid.Int64Range(1, 1_000_000_000_000).Draw(t, "coef")
		exp := rapid.Int32Range(-9, 0).Draw(t, "exp")
		return decimal.New(coef, exp)
	})
}

// Amount draws money in c: >= min, at most c.MinorUnits digits.
func Amount(c money.Currency, min int64) *rapid.Generator[decimal.Decimal] {
	return rapid.Custom(func(t *rapid.T) decimal.Decimal {
		return c.FromMinor(rapid.Int64Range(min, 10_000_000).Draw(t, "minor"))
	})
}

// Time draws an instant schemas accepts, sometimes with nanoseconds.
func Time() *rapid.Generator[time.Time] {
	return rapid.Custom(func(t *rapid.T) time.Time {
		sec := rapid.Int64Range(schemas.MinTime().Unix(), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).Unix()).Draw(t, "sec")
		nsec := rapid.OneOf(rapid.Just(int64(0)), rapid.Int64Range(0, 999_999_999)).Draw(t, "nsec")
		return time.Unix(sec, nsec).UTC()
	})
}

// Payload draws a valid payload of an event of type typ.
func Payload(typ schemas.Type) *rapid.Generator[schemas.Payload] {
	return rapid.Custom(func(t *rapid.T) schemas.Payload {
		optional := func(label string) string {
			if rapid.Bool().Draw(t, label+"?") {
				return Ident().Draw(t, label)
			}
			return ""
		}
		cur := MustCurrency(rapid.SampledFrom(Currencies).Draw(t, "currency"))
		switch typ {
		case schemas.TypeAICreditsConsumed:
			return &schemas.AICreditsConsumed{
				Credits:  Quantity().Draw(t, "credits"),
				Feature:  rapid.SampledFrom(schemas.Features()).Draw(t, "feature"),
				UserID:   optional("user_id"),
				Model:    optional("model"),
				Provider: optional("provider"),
			}
		case schemas.TypeAIPackPurchased:
			return &schemas.AIPackPurchased{
				PackID:   Ident().Draw(t, "pack_id"),
				Credits:  Quantity().Draw(t, "credits"),
				Currency: cur,
				Price:    Amount(cur, 0).Draw(t, "price"),
			}
		case schemas.TypeSeatAssigned, schemas.TypeSeatReleased:
			return &schemas.SeatChange{
				UserID:   Ident().Draw(t, "user_id"),
				SeatType: rapid.SampledFrom(schemas.SeatTypes()).Draw(t, "seat_type"),
			}
		case schemas.TypeSubscriptionStarted, schemas.TypeSubscriptionChanged:
			s := &schemas.Subscription{
				Plan:     Key().Draw(t, "plan"),
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
				s.Addons = rapid.SliceOfNDistinct(Key(), 1, 4, func(s string) string { return s }).Draw(t, "addons")
			}
			return s
		case schemas.TypeSubscriptionCanceled:
			return &schemas.SubscriptionCanceled{Reason: optional("reason")}
		case schemas.TypeSaleCompleted:
			gross := Amount(cur, 0).Draw(t, "gross")
			minor, _ := cur.ToMinor(gross)
			return &schemas.SaleCompleted{
				OrderID:  Ident().Draw(t, "order_id"),
				BuyerID:  Ident().Draw(t, "buyer_id"),
				CourseID: Ident().Draw(t, "course_id"),
				Currency: cur,
				Gross:    gross,
				Tax:      cur.FromMinor(rapid.Int64Range(0, minor).Draw(t, "tax")),
			}
		case schemas.TypeRefundIssued:
			return &schemas.RefundIssued{
				OrderID:  Ident().Draw(t, "order_id"),
				RefundID: Ident().Draw(t, "refund_id"),
				Currency: cur,
				Amount:   Amount(cur, 1).Draw(t, "amount"),
			}
		case schemas.TypeKYCVerified:
			return &schemas.KYCVerified{StripeAccount: "acct_" + rapid.StringMatching(`[A-Za-z0-9]{1,16}`).Draw(t, "acct")}
		case schemas.TypeKYCRevoked:
			return &schemas.KYCRevoked{Reason: optional("reason")}
		case schemas.TypeFeatureFlagSet:
			return &schemas.FeatureFlagSet{Flag: Key().Draw(t, "flag"), Enabled: rapid.Bool().Draw(t, "enabled")}
		case schemas.TypeAICapSet:
			c := decimal.Zero
			if rapid.Bool().Draw(t, "cap?") {
				c = Quantity().Draw(t, "monthly_credits")
			}
			return &schemas.AICapSet{MonthlyCredits: c}
		case schemas.TypeSellerEnrolled, schemas.TypeSellerLeft:
			return &schemas.SellerEnrollment{Provider: Ident().Draw(t, "provider")}
		}
		panic("unknown type " + typ)
	})
}

// Event draws a valid event of any type; Raw is nil.
func Event() *rapid.Generator[*schemas.Event] {
	return rapid.Custom(func(t *rapid.T) *schemas.Event {
		return EventOf(rapid.SampledFrom(schemas.Types()).Draw(t, "type")).Draw(t, "event")
	})
}

// EventOf draws a valid event of type typ; Raw is nil.
func EventOf(typ schemas.Type) *rapid.Generator[*schemas.Event] {
	return rapid.Custom(func(t *rapid.T) *schemas.Event {
		return &schemas.Event{
			ID:      Ident().Draw(t, "id"),
			Source:  Ident().Draw(t, "source"),
			Type:    typ,
			Subject: Ident().Draw(t, "subject"),
			Time:    Time().Draw(t, "time"),
			Data:    Payload(typ).Draw(t, "data"),
		}
	})
}
