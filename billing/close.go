package billing

// CloseResult is what a period close produced.
type CloseResult struct {
	Period   string    `json:"period"`
	Invoices []Invoice `json:"invoices"`
	// AlreadyClosed is true when the period had been closed before; the
	// invoices are those of the first close.
	AlreadyClosed bool `json:"already_closed"`
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
