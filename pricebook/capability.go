package pricebook

import (
	"slices"
)

// Capability is one row of the entitlement matrix of SPEC §6: something a
// plan includes, sells as an add-on, offers by opt-in, or does not offer.
type Capability string

// The capabilities of SPEC §6, in the order of its table. An add-on of
// the book has the key of its capability (hipaa_baa, white_label,
// data_residency).
const (
	CapLearnerPlayerOffline       Capability = "learner_player_offline"
	CapAITutor                    Capability = "ai_tutor"
	CapAuthoring                  Capability = "authoring"
	CapAICoAuthor                 Capability = "ai_co_author"
	CapLiveCollabOfflineAuthoring Capability = "live_collab_offline_authoring"
	CapMarketplaceBuyer           Capability = "marketplace_buyer"
	CapMarketplaceSeller          Capability = "marketplace_seller"
	CapSCORM12Export              Capability = "scorm_1_2_export"
	CapSCORM2004XAPICMI5          Capability = "scorm_2004_xapi_cmi5"
	CapSSOSCIM                    Capability = "sso_scim"
	CapAssignmentsCompliance      Capability = "assignments_compliance"
	CapAIAdminInsight             Capability = "ai_admin_insight"
	CapAPIKeysWebhooks            Capability = "api_keys_webhooks"
	CapLTI13                      Capability = "lti_1_3"
	CapDataResidency              Capability = "data_residency"
	CapHIPAABAA                   Capability = "hipaa_baa"
	CapWhiteLabel                 Capability = "white_label"
	CapMobileNative               Capability = "mobile_native"
	CapSupportSLA                 Capability = "support_sla"
)

var allCapabilities = func() []Capability {
	cs := []Capability{
		CapLearnerPlayerOffline, CapAITutor, CapAuthoring, CapAICoAuthor, CapLiveCollabOfflineAuthoring,
		CapMarketplaceBuyer, CapMarketplaceSeller, CapSCORM12Export, CapSCORM2004XAPICMI5, CapSSOSCIM,
		CapAssignmentsCompliance, CapAIAdminInsight, CapAPIKeysWebhooks, CapLTI13, CapDataResidency,
		CapHIPAABAA, CapWhiteLabel, CapMobileNative, CapSupportSLA,
	}
	slices.Sort(cs)
	return cs
}()

// Capabilities returns every capability of the matrix, sorted by key: a
// new slice each call, in the same order every time.
func Capabilities() []Capability { return slices.Clone(allCapabilities) }

// ParseCapability returns the capability with key s; ok is false for a
// key that is not one.
func ParseCapability(s string) (c Capability, ok bool) {
	if _, found := slices.BinarySearch(allCapabilities, Capability(s)); !found {
		return "", false
	}
	return Capability(s), true
}

// EntitlementValue is one cell of the matrix: [ValueIncluded], [ValueAddon],
// [ValueOptIn], [ValueNotAvailable], or a level (basic, v2, multi_region,
// premium_plus, …: the capability is included in that form).
type EntitlementValue string

// The values of SPEC §6 that are not levels.
const (
	// ValueIncluded: part of the plan, nothing to buy or switch on.
	ValueIncluded EntitlementValue = "included"
	// ValueAddon: bought as a priced add-on of the book (SPEC §2); without it
	// the plan does not have the capability.
	ValueAddon EntitlementValue = "addon"
	// ValueOptIn: free, switched on per tenant by an event (a feature flag, a
	// marketplace seller enrolment).
	ValueOptIn EntitlementValue = "opt_in"
	// ValueNotAvailable: the plan cannot have the capability at all.
	ValueNotAvailable EntitlementValue = "not_available"
)

// levels are the values naming the form in which a plan includes a
// capability: those of SPEC §6's list and the support levels of its
// support_sla row.
var levels = []EntitlementValue{
	"1_business_day", "4_hours", "basic", "commit", "community", "limited", "multi_region",
	"premium", "premium_plus", "restricted", "v1", "v2", "webhooks_only",
}

// EntitlementValues returns every value a matrix cell may hold, sorted.
func EntitlementValues() []EntitlementValue {
	out := append([]EntitlementValue{ValueAddon, ValueIncluded, ValueNotAvailable, ValueOptIn}, levels...)
	slices.Sort(out)
	return out
}

// Valid reports whether v is a value of SPEC §6.
func (v EntitlementValue) Valid() bool {
	return v == ValueIncluded || v == ValueAddon || v == ValueOptIn || v == ValueNotAvailable || v.IsLevel()
}

// IsLevel reports whether v names a form of the capability (basic,
// multi_region, …) rather than one of included, addon, opt_in,
// not_available. A level is included in that form.
func (v EntitlementValue) IsLevel() bool { return slices.Contains(levels, v) }

// IsAddon reports whether the capability is sold as a priced add-on.
func (v EntitlementValue) IsAddon() bool { return v == ValueAddon }

// IsOptIn reports whether the capability is free but off until the
// tenant opts in by an event.
func (v EntitlementValue) IsOptIn() bool { return v == ValueOptIn }

// Available reports whether the plan can have the capability at all:
// every value but not_available (an add-on must still be bought, an
// opt-in still switched on).
func (v EntitlementValue) Available() bool { return v.Valid() && v != ValueNotAvailable }

// IncludedInPlan reports whether the plan gives the capability with no
// purchase and no opt-in: included, or a level.
func (v EntitlementValue) IncludedInPlan() bool { return v == ValueIncluded || v.IsLevel() }
