// Package financetest checks migration 0006 (finance from columns) against
// a real ClickHouse (the managed local one, chlocal): no finance view reads
// an invoice line's description, and the one-time backfill gives lines
// stored before the migration the facts the rating engine now stores.
package financetest
