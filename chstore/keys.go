package chstore

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
)

// withKeys attaches keys to the queries made with the returned context as
// the external table name(key keyType). A query then selects by them with
// `IN (SELECT key FROM name)`: a list of thousands of invoice or payout ids
// written into the query text would pass ClickHouse's max_query_size.
func withKeys[K string | uint64](ctx context.Context, name, keyType string, keys []K) (context.Context, error) {
	tbl, err := ext.NewTable(name, ext.Column("key", column.Type(keyType)))
	if err != nil {
		return nil, fmt.Errorf("building the %s table: %w", name, err)
	}
	for _, k := range keys {
		if err := tbl.Append(k); err != nil {
			return nil, fmt.Errorf("building the %s table: %w", name, err)
		}
	}
	return clickhouse.Context(ctx, clickhouse.WithExternalTable(tbl)), nil
}
