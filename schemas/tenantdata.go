package schemas

import (
	"fmt"

	"github.com/shopspring/decimal"
)

// The payloads of the tenant state events of SPEC §6: their types, their
// validation, their JSON and their canonical form, in one file.

// FeatureFlagSet is the data of tenant.feature_flag.set: a default-off
// capability or flag switched on or off for the tenant.
type FeatureFlagSet struct {
	Flag    string `json:"flag" tally:"required"`    // a key: 1 to 64 of [a-z0-9_]
	Enabled bool   `json:"enabled" tally:"required"` // "true" or "false" on the wire
}

// AICapSet is the data of tenant.ai_cap.set: a ceiling on the AI credits
// the tenant may consume per calendar month. Zero removes the cap.
type AICapSet struct {
	MonthlyCredits decimal.Decimal `json:"monthly_credits" tally:"required"` // ≥ 0, at most 9 fraction digits
}

// SellerEnrollment is the data of marketplace.seller.enrolled and
// marketplace.seller.left: the tenant opts in (or out) as a marketplace
// seller under a provider id.
type SellerEnrollment struct {
	Provider string `json:"provider" tally:"required"` // the marketplace provider id
}

var (
	featureFlagFields = []string{"flag", "enabled"}
	aiCapFields       = []string{"monthly_credits"}
	sellerFields      = []string{"provider"}
	boolNames         = []string{"true", "false"}
)

func (p *parser) featureFlagSet(idx int32) (Payload, *FieldError) {
	d, err := p.fields(idx, featureFlagFields)
	if err != nil {
		return nil, err
	}
	var v FeatureFlagSet
	if v.Flag, err = d.key(0, "a flag name"); err != nil {
		return nil, err
	}
	var enabled string
	if enabled, err = d.enum(1, boolNames); err != nil {
		return nil, err
	}
	v.Enabled = enabled == "true"
	return &v, nil
}

func (p *parser) aiCapSet(idx int32) (Payload, *FieldError) {
	d, err := p.fields(idx, aiCapFields)
	if err != nil {
		return nil, err
	}
	i := d.slot[0]
	if i < 0 {
		return nil, d.missing(0, `(use "0" to remove the cap)`)
	}
	if n := &p.nodes[i]; n.kind == kindString {
		if c, ok := parseBounded(n.str, maxQuantityFrac); ok {
			return &AICapSet{MonthlyCredits: c}, nil
		}
	}
	return nil, p.invalid(i, fmt.Sprintf(`must be a decimal string >= 0 with at most %d fraction digits (and at most %d integer digits); "0" removes the cap`, maxQuantityFrac, maxIntDigits))
}

func (p *parser) sellerEnrollment(idx int32) (Payload, *FieldError) {
	d, err := p.fields(idx, sellerFields)
	if err != nil {
		return nil, err
	}
	var v SellerEnrollment
	if v.Provider, err = d.ident(0, true); err != nil {
		return nil, err
	}
	return &v, nil
}

func (v *FeatureFlagSet) appendJSON(b []byte) []byte {
	if v == nil {
		return nil
	}
	o := newObject(b)
	o.str("flag", v.Flag)
	o.str("enabled", fmt.Sprint(v.Enabled))
	return o.end()
}

func (v *AICapSet) appendJSON(b []byte) []byte {
	if v == nil {
		return nil
	}
	o := newObject(b)
	o.dec("monthly_credits", v.MonthlyCredits)
	return o.end()
}

func (v *SellerEnrollment) appendJSON(b []byte) []byte {
	if v == nil {
		return nil
	}
	o := newObject(b)
	o.str("provider", v.Provider)
	return o.end()
}

func (v *FeatureFlagSet) appendCanonical(b []byte) []byte {
	if v == nil {
		return append(b, 'N')
	}
	b = canonString(canonField(canonStart(b, "feature_flag_set"), "flag"), v.Flag)
	return canonString(canonField(b, "enabled"), fmt.Sprint(v.Enabled))
}

func (v *AICapSet) appendCanonical(b []byte) []byte {
	if v == nil {
		return append(b, 'N')
	}
	return canonDecimal(canonField(canonStart(b, "ai_cap_set"), "monthly_credits"), v.MonthlyCredits)
}

func (v *SellerEnrollment) appendCanonical(b []byte) []byte {
	if v == nil {
		return append(b, 'N')
	}
	return canonString(canonField(canonStart(b, "seller_enrollment"), "provider"), v.Provider)
}
