package finance

// MaxTrendMonths is the longest range a Trend covers.
const MaxTrendMonths = 36

// LatestRows is how many invoices and payouts a Trend lists.
const LatestRows = 20

// Trend is the finance figures of a range of months, read from the same
// finance views as Report (docs/finance.md), one row per month and series,
// for the dashboard's charts, plus the latest invoices and payouts of the
// range. Amounts are decimal strings with the currency's minor-unit digits;
// credits and rates keep their own digits.
type Trend struct {
	From   string   `json:"from"`
	To     string   `json:"to"`
	Months []string `json:"months"`
	// Totals: per month and currency, the headline figures (MRR, ARR,
	// billed revenue, marketplace GMV, fee and take rate, what is owed to
	// providers), summed in decimal on the server.
	Totals []TrendTotal `json:"totals"`
	// MRR: finance_mrr by month, currency and plan (terms summed).
	MRR []TrendMRRRow `json:"mrr"`
	// Revenue: finance_billed_revenue by the invoices' month, currency and plan.
	Revenue []TrendRevenueRow `json:"revenue"`
	// AICredits: finance_ai_credits by month and feature.
	AICredits []TrendAICreditRow `json:"ai_credits"`
	// Marketplace: finance_marketplace by month and currency.
	Marketplace []TrendMarketplaceRow `json:"marketplace"`
	// Liabilities: finance_provider_balances at each month's end (each
	// provider's latest row at or before it), per currency.
	Liabilities []TrendLiabilityRow `json:"provider_liabilities"`
	// Invoices: the latest LatestRows invoices (finance_invoices) whose
	// period is in the range, newest first.
	Invoices []TrendInvoice `json:"invoices"`
	// Payouts: the latest LatestRows payouts dated in the range, newest first.
	Payouts []TrendPayout `json:"payouts"`
}

// TrendTotal is one month's headline figures in one currency.
type TrendTotal struct {
	Period          string `json:"period"`
	Currency        string `json:"currency"`
	MRR             string `json:"mrr"`
	ARR             string `json:"arr"`
	Billed          string `json:"billed"`
	GMV             string `json:"gmv"`
	PlatformFee     string `json:"platform_fee"`
	TakeRate        string `json:"take_rate"`
	TakeRatePercent string `json:"take_rate_percent"`
	OwedToProviders string `json:"owed_to_providers"`
}

// TrendMRRRow is one month's MRR of a plan.
type TrendMRRRow struct {
	Period   string `json:"period"`
	Currency string `json:"currency"`
	Plan     string `json:"plan"`
	Tenants  uint64 `json:"tenants"`
	MRR      string `json:"mrr"`
	ARR      string `json:"arr"`
}

// TrendRevenueRow is one month's billed revenue of a plan.
type TrendRevenueRow struct {
	Period   string `json:"period"`
	Currency string `json:"currency"`
	Plan     string `json:"plan"`
	Amount   string `json:"amount"`
}

// TrendAICreditRow is one month's AI credits of a feature.
type TrendAICreditRow struct {
	Period  string `json:"period"`
	Feature string `json:"feature"`
	Tenants uint64 `json:"tenants"`
	Events  uint64 `json:"events"`
	Credits string `json:"credits"`
}

// TrendMarketplaceRow is MarketplaceRow for one month.
type TrendMarketplaceRow struct {
	Period string `json:"period"`
	MarketplaceRow
}

// TrendLiabilityRow is LiabilityRow at one month's end.
type TrendLiabilityRow struct {
	Period string `json:"period"`
	LiabilityRow
}

// TrendInvoice is an invoice with its Stripe status.
type TrendInvoice struct {
	ID              string `json:"id"`
	Tenant          string `json:"tenant"`
	Period          string `json:"period"`
	Kind            string `json:"kind"`
	Plan            string `json:"plan"`
	Currency        string `json:"currency"`
	Total           string `json:"total"`
	Status          string `json:"status"`
	StatusReason    string `json:"status_reason,omitempty"`
	StripeInvoiceID string `json:"stripe_invoice_id"`
	IssuedAt        string `json:"issued_at"`
}

// TrendPayout is a payout with its Stripe status.
type TrendPayout struct {
	ID               string `json:"id"`
	Provider         string `json:"provider"`
	Currency         string `json:"currency"`
	Amount           string `json:"amount"`
	AsOf             string `json:"as_of"`
	Status           string `json:"status"`
	StatusReason     string `json:"status_reason,omitempty"`
	StripeTransferID string `json:"stripe_transfer_id"`
}
