package schemas

import (
	"fmt"
	"slices"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/money"
)

// Data field names of each payload, in validation order (the order of the
// Go struct fields; a test keeps the two in step).
var (
	aiCreditsFields   = []string{"credits", "feature", "user_id", "model", "provider"}
	aiPackFields      = []string{"pack_id", "credits", "currency", "price"}
	seatFields        = []string{"user_id", "seat_type"}
	subscriptionField = []string{"plan", "term", "term_years", "currency", "committed_seats", "addons"}
	canceledFields    = []string{"reason"}
	saleFields        = []string{"order_id", "buyer_id", "course_id", "currency", "gross", "tax"}
	refundFields      = []string{"order_id", "refund_id", "currency", "amount"}
	kycVerifiedFields = []string{"stripe_account"}
	kycRevokedFields  = []string{"reason"}
)

const (
	maxFields = 8
	// maxQuantityFrac is the most fraction digits of a credits quantity.
	maxQuantityFrac = 9
	// maxIntDigits is the most integer digits of any quantity or amount:
	// 10^18 leaves ClickHouse's Decimal(38, 9) ample room for sums.
	maxIntDigits = 18
	// maxSeatDigits bounds a committed_seats value (at most 999,999,999).
	maxSeatDigits = 9
	// maxAddons bounds the addons list.
	maxAddons = 32
	// maxStripeAccountLen is the longest Stripe id.
	maxStripeAccountLen = 255
)

// data validates the data object idx of an event of type t.
func (p *parser) data(t Type, idx int32) (Payload, *FieldError) {
	// Every number inside data must be a decimal string; report the first
	// JSON number in document order, wherever it is.
	for i := idx + 1; i < p.nodes[idx].end; i++ {
		if p.nodes[i].kind == kindNumber {
			return nil, &FieldError{
				Field:   p.path(i),
				Message: "must be a decimal string, not a JSON number, got " + p.describe(i),
				Err:     ErrJSONNumber,
			}
		}
	}
	switch t {
	case TypeAICreditsConsumed:
		return p.aiCreditsConsumed(idx)
	case TypeAIPackPurchased:
		return p.aiPackPurchased(idx)
	case TypeSeatAssigned, TypeSeatReleased:
		return p.seatChange(idx)
	case TypeSubscriptionStarted, TypeSubscriptionChanged:
		return p.subscription(idx)
	case TypeSubscriptionCanceled:
		d, err := p.fields(idx, canceledFields)
		if err != nil {
			return nil, err
		}
		reason, err := d.text(0)
		return &SubscriptionCanceled{Reason: reason}, err
	case TypeSaleCompleted:
		return p.saleCompleted(idx)
	case TypeRefundIssued:
		return p.refundIssued(idx)
	case TypeKYCVerified:
		return p.kycVerified(idx)
	case TypeKYCRevoked:
		d, err := p.fields(idx, kycRevokedFields)
		if err != nil {
			return nil, err
		}
		reason, err := d.text(0)
		return &KYCRevoked{Reason: reason}, err
	case TypeFeatureFlagSet:
		return p.featureFlagSet(idx)
	case TypeAICapSet:
		return p.aiCapSet(idx)
	case TypeSellerEnrolled, TypeSellerLeft:
		return p.sellerEnrollment(idx)
	}
	return nil, &FieldError{Field: "type", Message: "unknown event type", Err: ErrUnknownType} // unreachable: type checked first
}

func (p *parser) aiCreditsConsumed(idx int32) (Payload, *FieldError) {
	d, err := p.fields(idx, aiCreditsFields)
	if err != nil {
		return nil, err
	}
	var v AICreditsConsumed
	if v.Credits, err = d.quantity(0); err != nil {
		return nil, err
	}
	var feature string
	if feature, err = d.enum(1, featureNames); err != nil {
		return nil, err
	}
	v.Feature = Feature(feature)
	if v.UserID, err = d.ident(2, false); err != nil {
		return nil, err
	}
	if v.Model, err = d.ident(3, false); err != nil {
		return nil, err
	}
	if v.Provider, err = d.ident(4, false); err != nil {
		return nil, err
	}
	return &v, nil
}

func (p *parser) aiPackPurchased(idx int32) (Payload, *FieldError) {
	d, err := p.fields(idx, aiPackFields)
	if err != nil {
		return nil, err
	}
	var v AIPackPurchased
	if v.PackID, err = d.ident(0, true); err != nil {
		return nil, err
	}
	if v.Credits, err = d.quantity(1); err != nil {
		return nil, err
	}
	if v.Currency, err = d.currency(2); err != nil {
		return nil, err
	}
	if v.Price, err = d.amount(3, v.Currency, false); err != nil {
		return nil, err
	}
	return &v, nil
}

func (p *parser) seatChange(idx int32) (Payload, *FieldError) {
	d, err := p.fields(idx, seatFields)
	if err != nil {
		return nil, err
	}
	var v SeatChange
	if v.UserID, err = d.ident(0, true); err != nil {
		return nil, err
	}
	var seat string
	if seat, err = d.enum(1, seatTypeNames); err != nil {
		return nil, err
	}
	v.SeatType = SeatType(seat)
	return &v, nil
}

func (p *parser) subscription(idx int32) (Payload, *FieldError) {
	d, err := p.fields(idx, subscriptionField)
	if err != nil {
		return nil, err
	}
	var v Subscription
	if v.Plan, err = d.key(0, "a plan key"); err != nil {
		return nil, err
	}
	var term string
	if term, err = d.enum(1, termNames); err != nil {
		return nil, err
	}
	v.Term = Term(term)

	// term_years: "2" to "5" for multi_year, absent otherwise.
	if ty := d.slot[2]; ty >= 0 {
		if v.Term != TermMultiYear {
			return nil, p.invalid(ty, `must be omitted unless term is "multi_year"`)
		}
		n := &p.nodes[ty]
		if n.kind != kindString || len(n.str) != 1 || n.str[0] < '2' || n.str[0] > '5' {
			return nil, p.invalid(ty, `must be "2", "3", "4" or "5"`)
		}
		v.TermYears = int32(n.str[0] - '0')
	} else if v.Term == TermMultiYear {
		return nil, d.missing(2, `when term is "multi_year"`)
	}

	if v.Currency, err = d.currency(3); err != nil {
		return nil, err
	}

	// committed_seats: required for prepaid terms; when present, an entry
	// for every seat type.
	if cs := d.slot[4]; cs >= 0 {
		if v.CommittedSeats, err = p.committedSeats(cs); err != nil {
			return nil, err
		}
	} else if v.Term.Prepaid() {
		return nil, d.missing(4, fmt.Sprintf("when term is %q", v.Term))
	}

	if a := d.slot[5]; a >= 0 {
		if v.Addons, err = p.addons(a); err != nil {
			return nil, err
		}
	}
	return &v, nil
}

func (p *parser) committedSeats(idx int32) (map[SeatType]int64, *FieldError) {
	const want = "must be an object mapping each seat type (learner, author) to a whole-number string"
	if p.nodes[idx].kind != kindObject {
		return nil, p.invalid(idx, want)
	}
	seats := make(map[SeatType]int64, len(allSeatTypes))
	for c := p.nodes[idx].first; c >= 0; c = p.nodes[c].next {
		seat, ok := lookupSeatType(p.nodes[c].key)
		if !ok {
			return nil, &FieldError{Field: p.path(c), Message: "unknown seat type; expected " + strings.Join(seatTypeNames, " or "), Err: ErrUnknownField}
		}
		n := &p.nodes[c]
		count, ok := parseWhole(n.str)
		if n.kind != kindString || !ok {
			return nil, p.invalid(c, fmt.Sprintf("must be a whole-number string >= 0 of at most %d digits", maxSeatDigits))
		}
		seats[seat] = count
	}
	for _, seat := range allSeatTypes {
		if _, ok := seats[seat]; !ok {
			return nil, &FieldError{Field: p.path(idx) + "." + string(seat), Message: `is required; use "0" for none`, Err: ErrMissingField}
		}
	}
	return seats, nil
}

func (p *parser) addons(idx int32) ([]string, *FieldError) {
	if p.nodes[idx].kind != kindArray {
		return nil, p.invalid(idx, "must be a list of add-on keys")
	}
	if n := p.nodes[idx].n; n > maxAddons {
		return nil, &FieldError{Field: p.path(idx), Message: fmt.Sprintf("must list at most %d add-ons, got %d", maxAddons, n), Err: ErrInvalidValue}
	}
	if p.nodes[idx].n == 0 {
		return nil, nil // same as absent
	}
	out := make([]string, 0, p.nodes[idx].n)
	for c := p.nodes[idx].first; c >= 0; c = p.nodes[c].next {
		n := &p.nodes[c]
		if n.kind != kindString || !isKey(n.str) {
			return nil, p.invalid(c, fmt.Sprintf("must be an add-on key of 1 to %d lowercase letters, digits or '_'", maxKeyLen))
		}
		if slices.Contains(out, n.str) {
			return nil, &FieldError{Field: p.path(c), Message: "duplicate add-on " + quoteCut(n.str) + "; list each add-on once", Err: ErrInvalidValue}
		}
		out = append(out, n.str)
	}
	return out, nil
}

func (p *parser) saleCompleted(idx int32) (Payload, *FieldError) {
	d, err := p.fields(idx, saleFields)
	if err != nil {
		return nil, err
	}
	var v SaleCompleted
	if v.OrderID, err = d.ident(0, true); err != nil {
		return nil, err
	}
	if v.BuyerID, err = d.ident(1, true); err != nil {
		return nil, err
	}
	if v.CourseID, err = d.ident(2, true); err != nil {
		return nil, err
	}
	if v.Currency, err = d.currency(3); err != nil {
		return nil, err
	}
	if v.Gross, err = d.amount(4, v.Currency, false); err != nil {
		return nil, err
	}
	if v.Tax, err = d.amount(5, v.Currency, false); err != nil {
		return nil, err
	}
	if v.Tax.GreaterThan(v.Gross) {
		return nil, p.invalid(d.slot[5], fmt.Sprintf("must not exceed gross (%s)", money.FormatDecimal(v.Gross)))
	}
	return &v, nil
}

func (p *parser) refundIssued(idx int32) (Payload, *FieldError) {
	d, err := p.fields(idx, refundFields)
	if err != nil {
		return nil, err
	}
	var v RefundIssued
	if v.OrderID, err = d.ident(0, true); err != nil {
		return nil, err
	}
	if v.RefundID, err = d.ident(1, true); err != nil {
		return nil, err
	}
	if v.Currency, err = d.currency(2); err != nil {
		return nil, err
	}
	if v.Amount, err = d.amount(3, v.Currency, true); err != nil {
		return nil, err
	}
	return &v, nil
}

func (p *parser) kycVerified(idx int32) (Payload, *FieldError) {
	d, err := p.fields(idx, kycVerifiedFields)
	if err != nil {
		return nil, err
	}
	if d.slot[0] < 0 {
		return nil, d.missing(0, "")
	}
	n := &p.nodes[d.slot[0]]
	if n.kind != kindString || !isStripeAccount(n.str) {
		return nil, p.invalid(d.slot[0], fmt.Sprintf(`must be a Stripe connected account id, "acct_" followed by letters and digits (at most %d characters)`, maxStripeAccountLen))
	}
	return &KYCVerified{StripeAccount: n.str}, nil
}

// dataFields is the data object of one event with its members sorted into
// the slots of the payload's field list.
type dataFields struct {
	p     *parser
	names []string
	slot  [maxFields]int32
}

// fields sorts the members of data object idx into slots, rejecting any
// member that is not in names.
func (p *parser) fields(idx int32, names []string) (dataFields, *FieldError) {
	d := dataFields{p: p, names: names}
	for i := range d.slot {
		d.slot[i] = -1
	}
	for c := p.nodes[idx].first; c >= 0; c = p.nodes[c].next {
		j := slices.Index(names, p.nodes[c].key)
		if j < 0 {
			return d, &FieldError{Field: p.path(c), Message: "unknown field; expected " + strings.Join(names, ", "), Err: ErrUnknownField}
		}
		d.slot[j] = c
	}
	return d, nil
}

func (d *dataFields) missing(i int, when string) *FieldError {
	msg := "is required"
	if when != "" {
		msg += " " + when
	}
	return &FieldError{Field: "data." + d.names[i], Message: msg, Err: ErrMissingField}
}

// ident reads an id-like string field.
func (d *dataFields) ident(i int, required bool) (string, *FieldError) {
	idx := d.slot[i]
	if idx < 0 {
		if required {
			return "", d.missing(i, "")
		}
		return "", nil
	}
	n := &d.p.nodes[idx]
	if n.kind == kindString && isIdent(n.str, maxIdentLen) {
		return n.str, nil
	}
	msg := fmt.Sprintf("must be a non-empty string of at most %d bytes with no control characters", maxIdentLen)
	if !required {
		msg += "; omit the field when there is none"
	}
	return "", d.p.invalid(idx, msg)
}

// text reads an optional free-text field.
func (d *dataFields) text(i int) (string, *FieldError) {
	idx := d.slot[i]
	if idx < 0 {
		return "", nil
	}
	n := &d.p.nodes[idx]
	if n.kind == kindString && isIdent(n.str, maxTextLen) {
		return n.str, nil
	}
	return "", d.p.invalid(idx, fmt.Sprintf("must be a non-empty string of at most %d bytes with no control characters; omit the field when there is none", maxTextLen))
}

// key reads a required key: 1 to 64 of [a-z0-9_].
func (d *dataFields) key(i int, what string) (string, *FieldError) {
	idx := d.slot[i]
	if idx < 0 {
		return "", d.missing(i, "")
	}
	n := &d.p.nodes[idx]
	if n.kind == kindString && isKey(n.str) {
		return n.str, nil
	}
	return "", d.p.invalid(idx, fmt.Sprintf("must be %s of 1 to %d lowercase letters, digits or '_'", what, maxKeyLen))
}

// enum reads a required string that must be one of allowed.
func (d *dataFields) enum(i int, allowed []string) (string, *FieldError) {
	idx := d.slot[i]
	if idx < 0 {
		return "", d.missing(i, "")
	}
	n := &d.p.nodes[idx]
	if n.kind == kindString {
		if j := slices.Index(allowed, n.str); j >= 0 {
			return allowed[j], nil // the constant, not a substring of the input
		}
	}
	return "", d.p.invalid(idx, "must be one of "+strings.Join(allowed, ", "))
}

// quantity reads a required credits quantity: > 0, at most 9 fraction
// digits.
func (d *dataFields) quantity(i int) (decimal.Decimal, *FieldError) {
	idx := d.slot[i]
	if idx < 0 {
		return decimal.Decimal{}, d.missing(i, "")
	}
	n := &d.p.nodes[idx]
	if n.kind == kindString {
		if v, ok := parseBounded(n.str, maxQuantityFrac); ok && v.Sign() > 0 {
			return v, nil
		}
	}
	return decimal.Decimal{}, d.p.invalid(idx, fmt.Sprintf("must be a decimal string > 0 with at most %d fraction digits (and at most %d integer digits)", maxQuantityFrac, maxIntDigits))
}

// amount reads a required money amount in currency c: >= 0 (or > 0 when
// positive), at most c.MinorUnits fraction digits.
func (d *dataFields) amount(i int, c money.Currency, positive bool) (decimal.Decimal, *FieldError) {
	idx := d.slot[i]
	if idx < 0 {
		return decimal.Decimal{}, d.missing(i, "")
	}
	n := &d.p.nodes[idx]
	if n.kind == kindString {
		if v, ok := parseBounded(n.str, int(c.MinorUnits)); ok && (v.Sign() > 0 || !positive && v.Sign() == 0) {
			return v, nil
		}
	}
	bound := ">= 0"
	if positive {
		bound = "> 0"
	}
	return decimal.Decimal{}, d.p.invalid(idx, fmt.Sprintf("must be a decimal string %s with at most %d fraction digits for %s (and at most %d integer digits)", bound, c.MinorUnits, c.Code, maxIntDigits))
}

// currency reads a required ISO 4217 currency code.
func (d *dataFields) currency(i int) (money.Currency, *FieldError) {
	idx := d.slot[i]
	if idx < 0 {
		return money.Currency{}, d.missing(i, "")
	}
	n := &d.p.nodes[idx]
	if n.kind == kindString {
		if c, err := money.LookupCurrency(n.str); err == nil {
			return c, nil
		}
	}
	return money.Currency{}, d.p.invalid(idx, "must be an active ISO 4217 currency code of 3 uppercase letters")
}

// parseBounded parses a decimal literal with at most maxIntDigits integer
// digits and maxFrac fraction digits.
func parseBounded(s string, maxFrac int) (decimal.Decimal, bool) {
	frac := money.FractionDigits(s)
	intDigits := len(s)
	if frac > 0 {
		intDigits -= frac + 1
	}
	if frac > maxFrac || intDigits > maxIntDigits {
		return decimal.Decimal{}, false
	}
	v, err := money.ParseDecimal(s)
	return v, err == nil
}

// parseWhole parses a whole-number string of 1 to 9 digits.
func parseWhole(s string) (int64, bool) {
	if len(s) == 0 || len(s) > maxSeatDigits {
		return 0, false
	}
	var v int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		v = v*10 + int64(s[i]-'0')
	}
	return v, true
}

func isKey(s string) bool {
	if len(s) == 0 || len(s) > maxKeyLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func isStripeAccount(s string) bool {
	rest, ok := strings.CutPrefix(s, "acct_")
	if !ok || rest == "" || len(s) > maxStripeAccountLen {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

var (
	featureNames  = enumNames(allFeatures[:])
	seatTypeNames = enumNames(allSeatTypes[:])
	termNames     = enumNames(allTerms[:])
)

func enumNames[T ~string](values []T) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}

func lookupSeatType(s string) (SeatType, bool) {
	for _, t := range allSeatTypes {
		if string(t) == s {
			return t, true
		}
	}
	return "", false
}
