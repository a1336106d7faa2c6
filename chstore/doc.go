// Package chstore is Tally's ClickHouse store: versioned migrations, the
// exactly-once event tables, dead letters and the usage queries. It
// implements the store interfaces that consumers, billing, payouts and
// the API declare, with a small type per domain on one connection pool
// (store.go): Events, Invoices, Finance. An event and its row are mapped
// in one place, eventrows.go.
//
// Tables are documented in docs/clickhouse.md.
package chstore
