package pricebook

import (
	"fmt"
	"maps"
	"slices"
)

// HasMatrix reports whether the book carries the entitlement matrix. Every
// book [Parse] accepts does; only a version archived before the matrix
// existed (read back by [Keep]) does not, and its add-ons are sold where
// its add-on "plans" lists say.
func (b *Book) HasMatrix() bool {
	for _, p := range b.Plans {
		return p.Entitlements != nil
	}
	return false
}

// Entitlement returns the value of capability c on plan; ok is false for a
// plan the book does not have, a capability that is not one, or a book
// without the matrix.
func (b *Book) Entitlement(plan string, c Capability) (v EntitlementValue, ok bool) {
	p, found := b.Plans[plan]
	if !found {
		return "", false
	}
	v, ok = p.Entitlements[c]
	return v, ok
}

// Matrix returns the plan's row of the matrix, a value for every
// capability (a copy: the caller may keep it); ok is false for a plan the
// book does not have or a book without the matrix.
func (b *Book) Matrix(plan string) (row map[Capability]EntitlementValue, ok bool) {
	p, found := b.Plans[plan]
	if !found || p.Entitlements == nil {
		return nil, false
	}
	return maps.Clone(p.Entitlements), true
}

// AddonStatus is how a plan has an add-on.
type AddonStatus int

const (
	// AddonPriced: the plan sells the add-on at its price (matrix value
	// addon).
	AddonPriced AddonStatus = iota + 1
	// AddonIncluded: the plan includes the capability (included, or a
	// level such as multi_region for data_residency); a subscription
	// naming the add-on is accepted and the add-on costs nothing.
	AddonIncluded
)

// String names the status for messages.
func (s AddonStatus) String() string {
	switch s {
	case AddonPriced:
		return "priced"
	case AddonIncluded:
		return "included"
	}
	return fmt.Sprintf("AddonStatus(%d)", int(s))
}

// AddonOn says how plan has the add-on (SPEC §2: an add-on is sold only
// where the matrix marks it addon; one the plan includes costs nothing).
// Errors wrap [ErrUnknownAddon], [ErrUnknownPlan] or, where the plan
// cannot have the add-on (not_available, or opt_in: a free capability is
// not bought), [ErrAddonNotAllowed] with the matrix value.
func (b *Book) AddonOn(addon, plan string) (AddonStatus, error) {
	a, err := b.Addon(addon)
	if err != nil {
		return 0, err
	}
	p, err := b.Plan(plan)
	if err != nil {
		return 0, err
	}
	if p.Entitlements == nil { // archived before the matrix
		if a.Plans == nil || slices.Contains(a.Plans, plan) {
			return AddonPriced, nil
		}
		return 0, fmt.Errorf("add-on %q on plan %q (price book %s): %w", addon, plan, b.Version, ErrAddonNotAllowed)
	}
	v := p.Entitlements[Capability(addon)]
	switch {
	case v.IsAddon():
		return AddonPriced, nil
	case v.IncludedInPlan():
		return AddonIncluded, nil
	}
	return 0, fmt.Errorf("add-on %q on plan %q is %s in price book %s: %w", addon, plan, v, b.Version, ErrAddonNotAllowed)
}
