package schemas_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/schemas"
	"github.com/tally-billing/tally/schemas/schemastest"
)

func TestContentHashIgnoresSpelling(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		e := roundTrip(t, schemastest.Event().Draw(t, "event"))
		var doc map[string]any
		if err := json.Unmarshal(e.Raw, &doc); err != nil {
			t.Fatal(err)
		}
		doc["id"] = "another-id" // identity is not content
		doc["traceparent"] = rapid.SampledFrom([]string{"00-a-b-01", "00-c-d-01"}).Draw(t, "traceparent")
		respelled := respell(t, doc, "")
		e2, err := schemas.Decode([]byte(respelled))
		if err != nil {
			t.Fatalf("Decode(%s): %v", respelled, err)
		}
		if e.ContentHash() != e2.ContentHash() {
			t.Fatalf("hash changed with the spelling:\n%s\n%s", e.Raw, respelled)
		}
	})
}

func TestContentHashSeesEveryValue(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		orig := schemastest.Event().Draw(t, "event")
		e := roundTrip(t, orig)
		mutated := mutate(t, orig)
		m := roundTrip(t, mutated)
		if e.ContentHash() == m.ContentHash() {
			t.Fatalf("hash unchanged by a mutation:\n%s\n%s", e.Raw, m.Raw)
		}
	})
}

// TestContentHashMatchesOracle checks hash equality against an independent
// notion of "same content" on independently drawn events.
func TestContentHashMatchesOracle(t *testing.T) {
	equal := 0
	rapid.Check(t, func(t *rapid.T) {
		a := roundTrip(t, schemastest.Event().Draw(t, "a"))
		b := roundTrip(t, schemastest.Event().Draw(t, "b"))
		if rapid.Bool().Draw(t, "same?") {
			b = roundTrip(t, &schemas.Event{ID: "x", Source: "y", Type: a.Type, Subject: a.Subject, Time: a.Time, Data: a.Data})
		}
		same := sameContent(a, b)
		if same {
			equal++
		}
		if (a.ContentHash() == b.ContentHash()) != same {
			t.Fatalf("hash equality %v, oracle says %v:\n%s\n%s", a.ContentHash() == b.ContentHash(), same, a.Raw, b.Raw)
		}
	})
	if equal == 0 {
		t.Fatal("the oracle never saw two equal contents; the test proves nothing")
	}
}

func TestContentHashDecimalsByValue(t *testing.T) {
	base := ev("ai.credits.pack_purchased", `{"pack_id":"p","credits":"1.5","price":"18","currency":"USD"}`)
	same := ev("ai.credits.pack_purchased", `{"pack_id":"p","credits":"1.500","price":"18.00","currency":"USD"}`)
	different := ev("ai.credits.pack_purchased", `{"pack_id":"p","credits":"1.5","price":"18.01","currency":"USD"}`)
	h := func(raw string) [16]byte {
		e, err := schemas.Decode([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		return e.ContentHash()
	}
	if h(base) != h(same) {
		t.Error(`"1.5" and "1.500" hash differently`)
	}
	if h(base) == h(different) {
		t.Error(`"18" and "18.01" hash equal`)
	}
	// Extensions and datacontenttype are not content; type, subject and
	// time are.
	withExt := `{"traceparent":"00-x","datacontenttype":"application/json",` + base[1:]
	if h(base) != h(withExt) {
		t.Error("extension attributes changed the hash")
	}
}

// sameContent is the test's own notion of equal content: type, subject,
// instant, and payload fields equal, decimals by value.
func sameContent(a, b *schemas.Event) bool {
	return a.Type == b.Type && a.Subject == b.Subject && a.Time.Equal(b.Time) && equalValues(reflect.ValueOf(a.Data), reflect.ValueOf(b.Data))
}

var decimalType = reflect.TypeFor[decimal.Decimal]()

func equalValues(a, b reflect.Value) bool {
	if a.Type() != b.Type() {
		return false
	}
	if a.Type() == decimalType {
		return a.Interface().(decimal.Decimal).Equal(b.Interface().(decimal.Decimal))
	}
	switch a.Kind() {
	case reflect.Interface, reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equalValues(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if !equalValues(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !equalValues(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			if !bv.IsValid() || !equalValues(a.MapIndex(k), bv) {
				return false
			}
		}
		return true
	default:
		return a.Equal(b)
	}
}

// mutate returns a copy of e with exactly one content value changed to
// another valid value.
func mutate(t *rapid.T, e *schemas.Event) *schemas.Event {
	m := *e
	type mutation struct {
		name  string
		apply func()
	}
	muts := []mutation{
		{"subject", func() { m.Subject += "x" }},
		{"time +1ns", func() { m.Time = m.Time.Add(1) }},
	}
	swapCurrency := func(c money.Currency) money.Currency {
		for _, code := range schemastest.Currencies {
			if o := schemastest.MustCurrency(code); o.MinorUnits == c.MinorUnits && o != c {
				return o
			}
		}
		return c
	}
	oneMinor := func(c money.Currency) decimal.Decimal { return c.FromMinor(1) }
	toggle := func(s string) string {
		if s == "" {
			return "set"
		}
		if rapid.Bool().Draw(t, "clear?") {
			return ""
		}
		return s + "x"
	}
	switch p := e.Data.(type) {
	case *schemas.AICreditsConsumed:
		v := *p
		m.Data = &v
		muts = append(muts,
			mutation{"credits", func() { v.Credits = v.Credits.Add(decimal.New(1, -9)) }},
			mutation{"feature", func() {
				for _, f := range schemas.Features() {
					if f != v.Feature {
						v.Feature = f
						return
					}
				}
			}},
			mutation{"user_id", func() { v.UserID = toggle(v.UserID) }},
			mutation{"model", func() { v.Model = toggle(v.Model) }},
			mutation{"provider", func() { v.Provider = toggle(v.Provider) }},
		)
	case *schemas.AIPackPurchased:
		v := *p
		m.Data = &v
		muts = append(muts,
			mutation{"pack_id", func() { v.PackID += "x" }},
			mutation{"credits", func() { v.Credits = v.Credits.Add(decimal.New(1, 0)) }},
			mutation{"price", func() { v.Price = v.Price.Add(oneMinor(v.Currency)) }},
			mutation{"currency", func() { v.Currency = swapCurrency(v.Currency) }},
		)
	case *schemas.SeatChange:
		v := *p
		m.Data = &v
		muts = append(muts,
			mutation{"user_id", func() { v.UserID += "x" }},
			mutation{"seat_type", func() {
				if v.SeatType == schemas.SeatLearner {
					v.SeatType = schemas.SeatAuthor
				} else {
					v.SeatType = schemas.SeatLearner
				}
			}},
			mutation{"type", func() {
				if m.Type == schemas.TypeSeatAssigned {
					m.Type = schemas.TypeSeatReleased
				} else {
					m.Type = schemas.TypeSeatAssigned
				}
			}},
		)
	case *schemas.Subscription:
		v := *p
		v.CommittedSeats = nil
		if p.CommittedSeats != nil {
			v.CommittedSeats = map[schemas.SeatType]int64{}
			for k, n := range p.CommittedSeats {
				v.CommittedSeats[k] = n
			}
		}
		v.Addons = append([]string(nil), p.Addons...)
		m.Data = &v
		muts = append(muts,
			mutation{"plan", func() { v.Plan += "x" }},
			mutation{"currency", func() { v.Currency = swapCurrency(v.Currency) }},
			mutation{"addons", func() {
				if len(v.Addons) > 0 && rapid.Bool().Draw(t, "drop?") {
					v.Addons = v.Addons[1:]
				} else {
					v.Addons = append(v.Addons, "new_addon")
				}
			}},
			mutation{"committed_seats", func() {
				if v.CommittedSeats == nil {
					v.CommittedSeats = map[schemas.SeatType]int64{schemas.SeatLearner: 0, schemas.SeatAuthor: 0}
					if v.Term != schemas.TermMonthly {
						panic("prepaid subscription without commitment")
					}
					return
				}
				v.CommittedSeats[schemas.SeatAuthor]++
			}},
			mutation{"type", func() {
				if m.Type == schemas.TypeSubscriptionStarted {
					m.Type = schemas.TypeSubscriptionChanged
				} else {
					m.Type = schemas.TypeSubscriptionStarted
				}
			}},
		)
		if v.Term == schemas.TermMultiYear {
			muts = append(muts, mutation{"term_years", func() { v.TermYears = 2 + (v.TermYears-1)%4 }})
		}
		if v.Term == schemas.TermAnnual {
			muts = append(muts, mutation{"term", func() { v.Term, v.TermYears = schemas.TermMultiYear, 2 }})
		}
	case *schemas.SubscriptionCanceled:
		v := *p
		m.Data = &v
		muts = append(muts, mutation{"reason", func() { v.Reason = toggle(v.Reason) }})
	case *schemas.SaleCompleted:
		v := *p
		m.Data = &v
		muts = append(muts,
			mutation{"order_id", func() { v.OrderID += "x" }},
			mutation{"buyer_id", func() { v.BuyerID += "x" }},
			mutation{"course_id", func() { v.CourseID += "x" }},
			mutation{"gross", func() { v.Gross = v.Gross.Add(oneMinor(v.Currency)) }},
			mutation{"tax", func() {
				if v.Tax.LessThan(v.Gross) {
					v.Tax = v.Tax.Add(oneMinor(v.Currency))
				} else {
					v.Gross = v.Gross.Add(oneMinor(v.Currency))
				}
			}},
			mutation{"currency", func() { v.Currency = swapCurrency(v.Currency) }},
		)
	case *schemas.RefundIssued:
		v := *p
		m.Data = &v
		muts = append(muts,
			mutation{"order_id", func() { v.OrderID += "x" }},
			mutation{"refund_id", func() { v.RefundID += "x" }},
			mutation{"amount", func() { v.Amount = v.Amount.Add(oneMinor(v.Currency)) }},
			mutation{"currency", func() { v.Currency = swapCurrency(v.Currency) }},
		)
	case *schemas.KYCVerified:
		v := *p
		m.Data = &v
		muts = append(muts, mutation{"stripe_account", func() { v.StripeAccount += "X" }})
	case *schemas.KYCRevoked:
		v := *p
		m.Data = &v
		muts = append(muts, mutation{"reason", func() { v.Reason = toggle(v.Reason) }})
	}
	mu := rapid.SampledFrom(muts).Draw(t, "mutation")
	mu.apply()
	return &m
}
