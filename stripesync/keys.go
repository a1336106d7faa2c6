package stripesync

import "strings"

// Metadata keys written on Stripe objects; they name Tally's ids so that an
// object can be found again and matched to its source.
const (
	MetaTenant    = "tally_tenant"
	MetaInvoiceID = "tally_invoice_id"
	MetaLineID    = "tally_line_id"
	MetaPayoutID  = "tally_payout_id"
)

// maxIdempotencyKey is Stripe's limit on the Idempotency-Key header.
const maxIdempotencyKey = 255

// Idempotency keys, derived from Tally's ids only, so a rerun sends the same
// keys.
func customerKey(tenant string) string   { return "tally-customer-" + tenant }
func invoiceKey(id string) string        { return "tally-invoice-" + id }
func itemKey(id, line string) string     { return "tally-item-" + id + "-" + line }
func finalizeKey(id string) string       { return "tally-finalize-" + id }
func transferKey(payout string) string   { return "tally-transfer-" + payout }
func transferGroup(payout string) string { return "tally-payout-" + payout }
func searchQuote(s string) string        { return "'" + searchEscaper.Replace(s) + "'" }
func metaQuery(key, value string) string { return "metadata['" + key + "']:" + searchQuote(value) }

var searchEscaper = strings.NewReplacer(`\`, `\\`, `'`, `\'`)
