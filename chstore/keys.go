package chstore

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
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

// latestVersions returns, for each id, one more than the highest version
// stored in table (keyed by idColumn); an id with no row is an error.
func latestVersions(ctx context.Context, conn driver.Conn, table, idColumn string, ids []string) (map[string]uint64, error) {
	ctx, err := withKeys(ctx, "updated_ids", "String", ids)
	if err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT %s, max(version) FROM %s WHERE %s IN (SELECT key FROM updated_ids) GROUP BY %s`,
		idColumn, table, idColumn, idColumn))
	if err != nil {
		return nil, fmt.Errorf("reading %s versions: %w", table, err)
	}
	defer rows.Close()
	next := make(map[string]uint64, len(ids))
	for rows.Next() {
		var id string
		var v uint64
		if err := rows.Scan(&id, &v); err != nil {
			return nil, fmt.Errorf("scanning %s version: %w", table, err)
		}
		next[id] = v + 1
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading %s versions: %w", table, err)
	}
	for _, id := range ids {
		if next[id] == 0 {
			return nil, fmt.Errorf("updating %s: no row with %s %q", table, idColumn, id)
		}
	}
	return next, nil
}
