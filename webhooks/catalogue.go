package webhooks

import "slices"

// Event types of SPEC §7.
const (
	TypeAICreditsThreshold      = "usage.ai_credits.threshold"
	TypeSeatsLimitReached       = "seats.limit_reached"
	TypeInvoiceFinalized        = "invoice.finalized"
	TypeInvoiceSent             = "invoice.sent"
	TypeInvoicePaid             = "invoice.paid"
	TypeInvoicePaymentFailed    = "invoice.payment_failed"
	TypeCreditNoteIssued        = "credit_note.issued"
	TypePayoutPaid              = "payout.paid"
	TypePayoutFailed            = "payout.failed"
	TypePayoutHeld              = "payout.held"
	TypePilotEnding             = "pilot.ending"
	TypePilotConverted          = "pilot.converted"
	TypeContractRenewalUpcoming = "contract.renewal_upcoming"
	TypeDisputeOpened           = "dispute.opened"
	TypeDisputeOverdue          = "dispute.overdue"
)

// CatalogueEntry is one event type an endpoint may subscribe to.
type CatalogueEntry struct {
	Type        string `json:"type"`
	Description string `json:"description"`
	// Emitted is false for the types Tally does not produce yet (their
	// features or the live tenant state they need are not built); an
	// endpoint may subscribe to them already.
	Emitted bool `json:"emitted"`
}

// Catalogue lists every event type of SPEC §7, in the SPEC's order.
func Catalogue() []CatalogueEntry {
	return []CatalogueEntry{
		{TypeAICreditsThreshold, "AI credits crossed 50/80/100 % of allowance plus packs, or the cap (not emitted yet)", false},
		{TypeSeatsLimitReached, "a seat type reached its limit (not emitted yet)", false},
		{TypeInvoiceFinalized, "an invoice was rated and frozen by a period close", true},
		{TypeInvoiceSent, "an invoice was finalized in Stripe", true},
		{TypeInvoicePaid, "an invoice was paid (not emitted yet)", false},
		{TypeInvoicePaymentFailed, "an invoice's payment failed (not emitted yet)", false},
		{TypeCreditNoteIssued, "a credit note was issued (not emitted yet)", false},
		{TypePayoutPaid, "Stripe accepted a payout's transfer", true},
		{TypePayoutFailed, "Stripe refused a payout's transfer; the money is available again", true},
		{TypePayoutHeld, "a payout run found money available but no KYC verification", true},
		{TypePilotEnding, "a pilot ends in 14 days (not emitted yet)", false},
		{TypePilotConverted, "a pilot became a paid plan (not emitted yet)", false},
		{TypeContractRenewalUpcoming, "a prepaid contract year ends in 60 days (not emitted yet)", false},
		{TypeDisputeOpened, "a dispute was opened (not emitted yet)", false},
		{TypeDisputeOverdue, "a dispute is overdue (not emitted yet)", false},
	}
}

// KnownType reports whether t is in the catalogue.
func KnownType(t string) bool {
	return slices.ContainsFunc(Catalogue(), func(e CatalogueEntry) bool { return e.Type == t })
}

// typeNames lists the catalogue's types, for error messages.
func typeNames() []string {
	var out []string
	for _, e := range Catalogue() {
		out = append(out, e.Type)
	}
	return out
}
