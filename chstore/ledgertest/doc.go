// Package ledgertest checks chstore.Ledger (the ledger snapshots of
// migration 0007, the payouts by provider of 0010) and the event reads a
// snapshot needs against a real ClickHouse (the managed local one,
// chlocal): a snapshot, and one provider's part of it, reads back as it
// was saved, the latest one at or before an instant is found, the events
// after a snapshot are selected by stored position or by time, and a
// continued run reads only the payouts it must check.
package ledgertest
