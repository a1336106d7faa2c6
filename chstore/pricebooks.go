package chstore

import (
	"context"
	"fmt"
	"time"

	"github.com/tally-billing/tally/pricebook"
)

// PriceBooks returns every price book record stored, by version then
// time (the pricebook.Archive of the daemon).
func (s *Invoices) PriceBooks(ctx context.Context) ([]pricebook.Record, error) {
	rows, err := s.conn.Query(ctx, `SELECT version, source, started_at FROM price_books ORDER BY version, started_at`)
	if err != nil {
		return nil, fmt.Errorf("reading price books: %w", err)
	}
	defer rows.Close()
	var out []pricebook.Record
	for rows.Next() {
		var r pricebook.Record
		var source string
		var at time.Time
		if err := rows.Scan(&r.Version, &source, &at); err != nil {
			return nil, fmt.Errorf("scanning a price book: %w", err)
		}
		r.Source, r.At = []byte(source), at.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// SavePriceBook stores one price book record. It goes in as a batch of
// one row, which keeps the milliseconds of the time.
func (s *Invoices) SavePriceBook(ctx context.Context, r pricebook.Record) error {
	batch, err := s.conn.PrepareBatch(ctx, `INSERT INTO price_books (version, source, started_at)`)
	if err != nil {
		return fmt.Errorf("preparing price book %s: %w", r.Version, err)
	}
	defer batch.Abort()
	if err := batch.Append(r.Version, string(r.Source), r.At.UTC()); err != nil {
		return fmt.Errorf("appending price book %s: %w", r.Version, err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("storing price book %s: %w", r.Version, err)
	}
	return nil
}
