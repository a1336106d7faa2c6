package pricebook

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/schemas"
)

// validator collects the first error; every method carries on with zero
// values after an error so that the code reads straight.
type validator struct {
	err        error
	currencies []money.Currency
	// archived accepts a book without the entitlement matrix
	// ([parseArchived]).
	archived bool
}

func (v *validator) fail(path, format string, args ...any) {
	if v.err == nil {
		v.err = &FieldError{Path: path, Message: fmt.Sprintf(format, args...)}
	}
}

func (v *validator) book(f *fileBook) *Book {
	b := &Book{
		Version: f.Version,
		Plans:   map[string]*Plan{},
		Addons:  map[string]*Addon{},
		Terms:   map[schemas.Term]Term{},
	}
	if f.Version == "" {
		v.fail("version", "is required")
	} else if len(f.Version) > 64 || strings.ContainsFunc(f.Version, func(r rune) bool { return r <= ' ' || r > '~' }) {
		v.fail("version", "must be at most 64 printable ASCII characters without spaces, got %q", f.Version)
	}
	if len(f.Currencies) == 0 {
		v.fail("currencies", "must list at least one currency")
	}
	for i, code := range f.Currencies {
		path := fmt.Sprintf("currencies[%d]", i)
		c, err := money.LookupCurrency(code)
		if err != nil {
			v.fail(path, "%v", err)
			continue
		}
		if slices.Contains(b.Currencies, c) {
			v.fail(path, "currency %s is listed twice", code)
		}
		b.Currencies = append(b.Currencies, c)
	}
	v.currencies = b.Currencies

	if len(f.Plans) == 0 {
		v.fail("plans", "must define at least one plan")
	}
	for _, key := range slices.Sorted(maps.Keys(f.Plans)) {
		b.Plans[key] = v.plan("plans."+key, key, f.Plans[key])
	}
	legacy := v.legacy(f)
	for _, key := range slices.Sorted(maps.Keys(f.Addons)) {
		a := f.Addons[key]
		path := "addons." + key
		v.key(path, key)
		addon := &Addon{Key: key, Price: v.prices(path+".price", a.Price, true)}
		if !legacy {
			v.matrixAddon(path, key, a)
			b.Addons[key] = addon
			continue
		}
		if a.Plans != nil {
			if len(a.Plans) == 0 {
				v.fail(path+".plans", "must list at least one plan, or be left out for every plan")
			}
			for i, p := range a.Plans {
				pp := fmt.Sprintf("%s.plans[%d]", path, i)
				if _, ok := f.Plans[p]; !ok {
					v.fail(pp, "unknown plan %q", p)
				}
				if slices.Contains(addon.Plans, p) {
					v.fail(pp, "plan %q is listed twice", p)
				}
				addon.Plans = append(addon.Plans, p)
			}
		}
		b.Addons[key] = addon
	}
	if !legacy {
		v.addonCells(f)
	}
	for _, key := range slices.Sorted(maps.Keys(f.Terms)) {
		path := "terms." + key
		t := schemas.Term(key)
		if !slices.Contains(schemas.Terms(), t) {
			v.fail(path, "unknown term %q (want one of %v)", key, schemas.Terms())
		}
		d := v.fraction(path+".discount", f.Terms[key].Discount)
		b.Terms[t] = Term{Key: t, Discount: d}
	}
	for _, t := range schemas.Terms() {
		if _, ok := f.Terms[string(t)]; !ok {
			v.fail("terms", "term %q is missing", t)
		}
	}
	if f.Marketplace == nil {
		v.fail("marketplace", "is required")
	} else {
		m := f.Marketplace
		b.Marketplace.PlatformFee = v.fraction("marketplace.platform_fee", m.PlatformFee)
		days := v.count("marketplace.refund_window_days", m.RefundWindowDays)
		if days > 3650 {
			v.fail("marketplace.refund_window_days", "must be at most 3650, got %d", days)
		}
		b.Marketplace.RefundWindow = time.Duration(days) * 24 * time.Hour
		b.Marketplace.MinimumPayout = v.minimums("marketplace.minimum_payout", m.MinimumPayout)
		if m.PayoutSchedule != "monthly" {
			v.fail("marketplace.payout_schedule", "must be \"monthly\" (the only schedule in v1), got %q", m.PayoutSchedule)
		}
		b.Marketplace.PayoutSchedule = m.PayoutSchedule
	}
	return b
}

func (v *validator) plan(path, key string, f filePlan) *Plan {
	v.key(path, key)
	p := &Plan{
		Key:   key,
		Base:  v.prices(path+".base", f.Base, true),
		Seats: map[schemas.SeatType]Seat{},
	}
	for _, st := range slices.Sorted(maps.Keys(f.Seats)) {
		sp := path + ".seats." + st
		if !slices.Contains(schemas.SeatTypes(), schemas.SeatType(st)) {
			v.fail(sp, "unknown seat type %q (want one of %v)", st, schemas.SeatTypes())
		}
		s := f.Seats[st]
		p.Seats[schemas.SeatType(st)] = Seat{
			Included: v.count(sp+".included", s.Included),
			Price:    v.prices(sp+".price", s.Price, true),
		}
	}
	for _, st := range schemas.SeatTypes() {
		if _, ok := f.Seats[string(st)]; !ok {
			v.fail(path+".seats", "seat type %q is missing", st)
		}
	}
	if f.Limits == nil {
		v.fail(path+".limits", "is required (an empty list means no limit)")
	}
	for i, l := range f.Limits {
		lp := fmt.Sprintf("%s.limits[%d]", path, i)
		limit := Limit{Max: v.count(lp+".max", l.Max)}
		if len(l.SeatTypes) == 0 {
			v.fail(lp+".seat_types", "must list at least one seat type")
		}
		for j, st := range l.SeatTypes {
			sp := fmt.Sprintf("%s.seat_types[%d]", lp, j)
			t := schemas.SeatType(st)
			if !slices.Contains(schemas.SeatTypes(), t) {
				v.fail(sp, "unknown seat type %q", st)
			}
			if slices.Contains(limit.SeatTypes, t) {
				v.fail(sp, "seat type %q is listed twice", st)
			}
			limit.SeatTypes = append(limit.SeatTypes, t)
		}
		p.Limits = append(p.Limits, limit)
	}
	if f.AI == nil {
		v.fail(path+".ai", "is required")
		return p
	}
	p.AIIncluded = v.quantity(path+".ai.included_credits", f.AI.IncludedCredits)
	p.AIOverage = v.prices(path+".ai.overage_price", f.AI.OveragePrice, false)
	p.Entitlements = v.row(path+".entitlements", f.Entitlements)
	v.planTerms(path, f, p)
	return p
}

// prices validates a price in every book currency. A fixed fee carries at
// most the currency's minor-unit digits; a unit price (per credit) may
// carry more, since only invoice lines are rounded.
func (v *validator) prices(path string, m map[string]string, fixed bool) Prices {
	out := Prices{}
	for _, code := range slices.Sorted(maps.Keys(m)) {
		cp := path + "." + code
		c, err := money.LookupCurrency(code)
		if err != nil || !slices.Contains(v.currencies, c) {
			v.fail(cp, "currency %q is not one of the book's currencies", code)
			continue
		}
		d := v.decimal(cp, m[code])
		if fixed && money.FractionDigits(m[code]) > int(c.MinorUnits) {
			v.fail(cp, "a fixed %s price has at most %d fraction digits, got %q", code, c.MinorUnits, m[code])
		}
		out[code] = d
	}
	for _, c := range v.currencies {
		if _, ok := m[c.Code]; !ok {
			v.fail(path, "price in %s is missing", c.Code)
		}
	}
	return out
}

// defaultKey is the entry of marketplace.minimum_payout that applies to
// every currency without its own entry.
const defaultKey = "default"

// minimums validates the minimum payouts: an entry per currency (any
// active ISO 4217 code, since a sale may be in any), each > 0 with at most
// the currency's minor-unit digits, and a "default" in major units for
// every other currency, expressible in each of them. A book that leaves a
// currency without a minimum is refused: its providers would never be
// paid in it.
func (v *validator) minimums(path string, m map[string]string) Minimums {
	out := Minimums{Amounts: Prices{}}
	for _, code := range slices.Sorted(maps.Keys(m)) {
		if code == defaultKey {
			continue
		}
		cp := path + "." + code
		c, err := money.LookupCurrency(code)
		if err != nil {
			v.fail(cp, "%q is neither an ISO 4217 currency nor %q", code, defaultKey)
			continue
		}
		d := v.positive(cp, m[code])
		if money.FractionDigits(m[code]) > int(c.MinorUnits) {
			v.fail(cp, "a %s minimum payout has at most %d fraction digits, got %q", code, c.MinorUnits, m[code])
		}
		out.Amounts[code] = d
	}
	var rest []money.Currency // the currencies the default has to cover
	for _, c := range money.Currencies() {
		if _, ok := out.Amounts[c.Code]; !ok {
			rest = append(rest, c)
		}
	}
	s, ok := m[defaultKey]
	switch {
	case !ok && len(rest) > 0:
		v.fail(path, "no minimum payout for %s: a marketplace sale may be in any ISO 4217 currency, and a provider "+
			"is never paid in a currency without a minimum; add a %q entry (\"default\": \"50\" is 50 units of "+
			"every currency not listed) or list every currency", codes(rest), defaultKey)
	case ok:
		d := v.positive(path+"."+defaultKey, s)
		var short []money.Currency
		for _, c := range rest {
			if money.FractionDigits(s) > int(c.MinorUnits) {
				short = append(short, c)
			}
		}
		if len(short) > 0 {
			v.fail(path+"."+defaultKey, "%q cannot be paid in %s (fewer minor-unit digits): give the default "+
				"in whole units, or list those currencies with their own minimum", s, codes(short))
		}
		out.Default = &d
	}
	return out
}

// codes names currencies for an error message: the first ten, then how
// many more.
func codes(cs []money.Currency) string {
	const shown = 10
	names := make([]string, 0, shown)
	for i, c := range cs {
		if i == shown {
			return fmt.Sprintf("%s and %d more", strings.Join(names, ", "), len(cs)-shown)
		}
		names = append(names, c.Code)
	}
	return strings.Join(names, ", ")
}

// positive is a decimal > 0.
func (v *validator) positive(path, s string) decimal.Decimal {
	d := v.decimal(path, s)
	if d.IsZero() {
		v.fail(path, "must be greater than zero, got %q", s)
	}
	return d
}

func (v *validator) decimal(path, s string) decimal.Decimal {
	if strings.HasPrefix(s, "-") {
		v.fail(path, "must not be negative, got %q", s)
		return decimal.Zero
	}
	d, err := money.ParseDecimal(s)
	if err != nil {
		v.fail(path, "must be a decimal string like \"12.50\", got %q", s)
		return decimal.Zero
	}
	return d
}

// quantity is a decimal ≥ 0 with at most 9 fraction digits (credits).
func (v *validator) quantity(path, s string) decimal.Decimal {
	d := v.decimal(path, s)
	if money.FractionDigits(s) > 9 {
		v.fail(path, "must have at most 9 fraction digits, got %q", s)
	}
	return d
}

// fraction is a decimal in [0, 1).
func (v *validator) fraction(path, s string) decimal.Decimal {
	d := v.decimal(path, s)
	if d.GreaterThanOrEqual(decimal.NewFromInt(1)) {
		v.fail(path, "must be a fraction in [0, 1) such as \"0.20\" for 20 %%, got %q", s)
	}
	return d
}

// count is a whole number ≥ 0 that fits in an int64.
func (v *validator) count(path, s string) int64 {
	d := v.decimal(path, s)
	if money.FractionDigits(s) > 0 || d.GreaterThan(decimal.NewFromInt(1_000_000_000)) {
		v.fail(path, "must be a whole number from 0 to 1000000000, got %q", s)
		return 0
	}
	return d.IntPart()
}

func (v *validator) key(path, key string) {
	ok := key != "" && len(key) <= 64 && key[0] >= 'a' && key[0] <= 'z'
	for i := 0; ok && i < len(key); i++ {
		c := key[i]
		ok = c == '_' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
	}
	if !ok {
		v.fail(path, "key %q must be lowercase letters, digits and '_', starting with a letter", key)
	}
}
