// Package finance holds the shapes of the finance reports that Tally
// reads from its ClickHouse views (docs/finance.md) and serves over the
// API and the CLI.
package finance

// Report is one month's figures, read from the finance views of
// migration 0004 (docs/finance.md). Amounts are decimal strings with the
// currency's minor-unit digits (rounded half to even where a view divides,
// as MRR does); credits, rates and quantities keep their own digits. A
// month without data has empty sections.
type Report struct {
	Period string `json:"period"`
	// BilledRevenue: finance_billed_revenue for invoices of the period.
	BilledRevenue []RevenueRow `json:"billed_revenue"`
	// BilledTotals: BilledRevenue summed per currency.
	BilledTotals []CurrencyAmount `json:"billed_totals"`
	// Discounts: finance_discounts for invoices of the period.
	Discounts []DiscountRow `json:"discounts"`
	// MRR: finance_mrr for the month.
	MRR []MRRRow `json:"mrr"`
	// AICredits: finance_ai_credits for the month, by feature and model.
	AICredits []AICreditRow `json:"ai_credits"`
	// AIAllowance: finance_ai_allowance for the month, per currency of the
	// tenants' invoices ("" for tenants without one).
	AIAllowance []AIAllowanceRow `json:"ai_allowance"`
	// Marketplace: finance_marketplace for the month.
	Marketplace []MarketplaceRow `json:"marketplace"`
	// Liabilities: finance_provider_balances as of the end of the month
	// (each provider's latest row at or before it), per currency.
	Liabilities []LiabilityRow `json:"provider_liabilities"`
}

// RevenueRow is billed revenue of one plan, term, invoice kind and line kind.
type RevenueRow struct {
	Currency    string `json:"currency"`
	Plan        string `json:"plan"`
	Term        string `json:"term"`
	InvoiceKind string `json:"invoice_kind"`
	Kind        string `json:"kind"`
	Adjusts     string `json:"adjusts,omitempty"`
	Invoices    uint64 `json:"invoices"`
	Lines       uint64 `json:"lines"`
	Amount      string `json:"amount"`
}

// CurrencyAmount is a total in one currency.
type CurrencyAmount struct {
	Currency string `json:"currency"`
	Amount   string `json:"amount"`
}

// DiscountRow is the discount given on one plan and term.
type DiscountRow struct {
	Currency       string `json:"currency"`
	Plan           string `json:"plan"`
	Term           string `json:"term"`
	Credit         bool   `json:"credit"`
	Rate           string `json:"rate"`
	Invoices       uint64 `json:"invoices"`
	DiscountedFees string `json:"discounted_fees"`
	DiscountGiven  string `json:"discount_given"`
}

// MRRRow is the monthly and annual recurring revenue of one plan and term.
type MRRRow struct {
	Currency string `json:"currency"`
	Plan     string `json:"plan"`
	Term     string `json:"term"`
	Tenants  uint64 `json:"tenants"`
	MRR      string `json:"mrr"`
	ARR      string `json:"arr"`
}

// AICreditRow is the AI credits consumed for one feature and model.
type AICreditRow struct {
	Feature string `json:"feature"`
	Model   string `json:"model"`
	Tenants uint64 `json:"tenants"`
	Events  uint64 `json:"events"`
	Credits string `json:"credits"`
}

// AIAllowanceRow sums, per currency, AI credits consumed against the
// allowance and the overage billed.
type AIAllowanceRow struct {
	Currency        string `json:"currency"`
	Tenants         uint64 `json:"tenants"`
	CreditsConsumed string `json:"credits_consumed"`
	AllowanceUsed   string `json:"allowance_used"`
	FromPacks       string `json:"from_packs"`
	OverageCredits  string `json:"overage_credits"`
	OverageBilled   string `json:"overage_billed"`
}

// MarketplaceRow is a month of marketplace money in one currency.
type MarketplaceRow struct {
	Currency      string `json:"currency"`
	Sales         uint64 `json:"sales"`
	Refunds       uint64 `json:"refunds"`
	GMV           string `json:"gmv"`
	Refunded      string `json:"refunded"`
	Tax           string `json:"tax"`
	Net           string `json:"net"`
	PlatformFee   string `json:"platform_fee"`
	ProviderShare string `json:"provider_share"`
	TakeRate      string `json:"take_rate"`
}

// LiabilityRow sums provider balances in one currency at a month end.
type LiabilityRow struct {
	Currency          string `json:"currency"`
	Providers         uint64 `json:"providers"`
	Held              string `json:"held"`
	Available         string `json:"available"`
	Paid              string `json:"paid"`
	OwedToProviders   string `json:"owed_to_providers"`
	NegativeBalance   string `json:"negative_balance"`
	ProvidersNegative uint64 `json:"providers_negative"`
}
