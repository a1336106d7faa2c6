// Package ledgertest checks the ledger snapshot store of migration 0007
// against a real ClickHouse (the managed local one, chlocal): a snapshot
// reads back as it was saved, the latest one at or before an instant is
// found, and the events after a snapshot are selected by stored position
// or by time.
package ledgertest
