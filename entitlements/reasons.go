package entitlements

// The reason of every answer of a check (docs/entitlements.md, "Reason
// codes"). allowed is true exactly for the codes marked so.
const (
	// ReasonNoSubscription: the tenant has no subscription now; allowed
	// nothing.
	ReasonNoSubscription = "no_subscription"
	// ReasonPlanNotInMatrix: the tenant's plan has no row in the matrix;
	// allowed nothing.
	ReasonPlanNotInMatrix = "plan_not_in_matrix"
	// ReasonIncluded (allowed): the plan includes the capability, at the
	// level the value names.
	ReasonIncluded = "included"
	// ReasonNotAvailable: the plan does not offer the capability.
	ReasonNotAvailable = "not_available"
	// ReasonAddonActive (allowed): the capability is an add-on of the
	// plan and the subscription has it.
	ReasonAddonActive = "addon_active"
	// ReasonAddonNotBought: an add-on of the plan the subscription does
	// not have.
	ReasonAddonNotBought = "addon_not_bought"
	// ReasonOptedIn (allowed): an opt_in capability the tenant switched
	// on (its feature flag, or a seller enrolment for marketplace_seller).
	ReasonOptedIn = "opted_in"
	// ReasonNotOptedIn: an opt_in capability the tenant has not switched
	// on.
	ReasonNotOptedIn = "not_opted_in"
	// ReasonSeatsAvailable (allowed): one more seat of the type can be
	// assigned without passing the plan's limit.
	ReasonSeatsAvailable = "seats_available"
	// ReasonSeatsUnlimited (allowed): the plan has no limit on the type.
	ReasonSeatsUnlimited = "seats_unlimited"
	// ReasonSeatLimitReached: the seats assigned now are at (or above)
	// the plan's limit: one more would pass it.
	ReasonSeatLimitReached = "seat_limit_reached"
	// ReasonWithinCap (allowed): AI credits consumed this month are below
	// the tenant's cap.
	ReasonWithinCap = "within_cap"
	// ReasonNoCap (allowed): the tenant has no AI cap; credits beyond the
	// allowance and packs are billed as overage.
	ReasonNoCap = "no_cap"
	// ReasonAICapReached: the credits consumed this month reached the cap.
	ReasonAICapReached = "ai_cap_reached"
	// ReasonNotRateable: the tenant's subscriptions cannot be rated (a
	// plan or add-on the price book does not know); the close reports the
	// tenant too. Allowed nothing.
	ReasonNotRateable = "not_rateable"
)

// Reasons of the stateful rules: a stored event refused (dead-lettered)
// because of the tenant's state when it was stored.
const (
	// RefusalSellerNotAvailable: a marketplace.seller.enrolled of a tenant
	// whose plan at the enrolment's time has marketplace_seller
	// not_available.
	RefusalSellerNotAvailable = "seller_not_available"
	// RefusalSellerNotEntitled: a marketplace.sale.completed of a provider
	// enrolled by a tenant whose plan at the sale's time has
	// marketplace_seller not_available.
	RefusalSellerNotEntitled = "seller_not_entitled"
)
