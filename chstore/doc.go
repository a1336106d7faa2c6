// Package chstore is Tally's ClickHouse store: versioned migrations, the
// exactly-once event tables, dead letters and the usage queries. It
// implements the store interfaces that consumers and the API declare.
//
// Tables are documented in docs/clickhouse.md.
package chstore
