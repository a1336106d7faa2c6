// Package sendbatch sends items to an outside service a few at a time and
// records the outcomes in batches: the shape shared by pushing invoices
// and transfers to Stripe, where each push is a network round trip and
// each record is a ClickHouse insert.
package sendbatch

import (
	"context"
	"errors"
	"sync"

	"golang.org/x/sync/errgroup"
)

// Config sets how many sends run at once and how many outcomes one record
// call takes.
type Config struct {
	Workers int // default 8
	Batch   int // default 200
}

// Run calls send for every item, Workers at a time. send reports whether
// the item now has an outcome to record; record is then called with such
// items, Batch at a time (the last call may hold fewer). Failed sends do
// not stop the others: their errors are joined and returned after every
// recordable outcome has been recorded. A failed record stops the run.
//
// Until its outcome is recorded an item keeps its old state, so a crash
// in between makes the next run send it again: send must be idempotent.
func Run[T any](ctx context.Context, cfg Config, items []T,
	send func(context.Context, T) (bool, error), record func(context.Context, []T) error) error {
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 200
	}
	var (
		mu       sync.Mutex
		done     []T
		sendErrs []error
	)
	// flush records the outcomes gathered so far, Batch at a time, while
	// there is a whole batch of them (or any at all when final is set).
	// Other sends may finish between a send's append and its flush, so
	// more than a batch can be waiting: never more than Batch go to one
	// record call.
	flush := func(ctx context.Context, final bool) error {
		mu.Lock()
		defer mu.Unlock()
		for len(done) >= cfg.Batch || (final && len(done) > 0) {
			n := min(len(done), cfg.Batch)
			batch := done[:n:n]
			done = done[n:]
			if err := record(ctx, batch); err != nil {
				return err
			}
		}
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.Workers)
	for _, it := range items {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err // a record failed: send nothing more
			}
			ok, err := send(gctx, it)
			mu.Lock()
			if err != nil {
				sendErrs = append(sendErrs, err)
			}
			if ok {
				done = append(done, it)
			}
			mu.Unlock()
			return flush(gctx, false)
		})
	}
	runErr := g.Wait()
	if runErr != nil {
		return errors.Join(runErr, errors.Join(sendErrs...))
	}
	return errors.Join(flush(ctx, true), errors.Join(sendErrs...))
}
