package entitlements

// Matrix is the entitlement matrix of SPEC §6: for every plan, the value
// of every capability. The price book implements it.
type Matrix interface {
	// Entitlement returns the value of capability on plan ("included",
	// "addon", "opt_in", "not_available" or a level such as "basic");
	// ok is false when the plan or the capability is unknown.
	Entitlement(plan, capability string) (value string, ok bool)
	// Capabilities returns every capability, in the matrix's order.
	Capabilities() []string
}

// The values of the matrix with a rule of their own; any other value is
// a level of a capability the plan includes.
const (
	ValueIncluded     = "included"
	ValueAddon        = "addon"
	ValueOptIn        = "opt_in"
	ValueNotAvailable = "not_available"
)

// The capabilities that are not in the matrix but answer a check: the seat
// limits and the AI credits (SPEC §6).
const (
	CapSeatsLearner = "seats.learner"
	CapSeatsAuthor  = "seats.author"
	CapAICredits    = "ai_credits"
	// CapMarketplaceSeller is the capability a seller enrolment needs.
	CapMarketplaceSeller = "marketplace_seller"
)
