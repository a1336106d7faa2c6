package billing

// CloseResult is what a period close produced.
type CloseResult struct {
	Period   string    `json:"period"`
	Invoices []Invoice `json:"invoices"`
	// AlreadyClosed is true when the period had been closed before; the
	// invoices are those of the first close.
	AlreadyClosed bool `json:"already_closed"`
	// Failures are the tenants that could not be rated, with why. The
	// period is closed without them; every later close retries them and
	// bills their month once they can be rated (see docs/billing.md).
	// Never null: an empty list when every tenant was rated.
	Failures []TenantFailure `json:"failures"`
}

// TenantFailure is a tenant whose invoices a close could not rate.
type TenantFailure struct {
	Tenant string `json:"tenant"`
	Reason string `json:"reason"`
}

// UnbilledItem is usage no invoice covers, for example AI credits of a
// tenant that has no subscription in that period.
type UnbilledItem struct {
	Tenant   string `json:"tenant"`
	Period   string `json:"period"`
	Meter    string `json:"meter"`
	Quantity string `json:"quantity"`
	Reason   string `json:"reason"`
}
