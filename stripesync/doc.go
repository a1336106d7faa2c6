// Package stripesync is Tally's Stripe adapter: it pushes finalized invoices
// (customer, invoice items, invoice, finalize) and payouts (Connect
// transfers) to Stripe through stripe-go's client.
//
// Every write carries an idempotency key derived from Tally's own ids, so a
// crash and a retry, or a retry after a lost response, never creates a
// second object. Rate limits (429), server errors (5xx), timeouts and
// connection errors are retried with exponential backoff and jitter under
// the same key; any other 4xx is returned at once as a [*PermanentError]
// (errors.Is(err, [ErrRejected])) carrying Stripe's code and message.
//
// Amounts arrive as decimal.Decimal and become integer minor units here, and
// only here, through money.Currency.ToMinor, which never rounds: an amount
// with more digits than its currency allows is refused before any request.
//
// The domains own their ports: [InvoiceSender] implements billing's
// ([billing.InvoiceSender], refusals wrapped with [billing.ErrSendRefused])
// and [TransferSender] payouts' ([payouts.TransferSender], refusals wrapped
// with [payouts.ErrTransferRefused]) on a Client; neither domain imports
// this package.
//
// See README.md for the order of calls and the retry policy.
package stripesync
