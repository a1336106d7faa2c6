package daemon

// The domains' wiring that needs more than a line: the price books, the
// billing service, and the dead-lettering of stored events the domains
// refuse.

import (
	"context"
	"errors"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tally-billing/tally/billing"
	"github.com/tally-billing/tally/chstore"
	"github.com/tally-billing/tally/consumers"
	"github.com/tally-billing/tally/pipeline"
	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/stripesync"
)

// loadPriceBook loads --price-book, or the shipped one.
func (d *Daemon) loadPriceBook() (*pricebook.Book, error) {
	if d.cfg.PriceBook == "" {
		return pricebook.Default(), nil
	}
	return pricebook.Load(d.cfg.PriceBook)
}

// keepPriceBooks stores book in ClickHouse under its version, unless it is
// there already (a changed book under a version already used is refused),
// and loads every version Tally ever ran with, for billing to re-rate
// closed months with the version they were billed under.
func (d *Daemon) keepPriceBooks(ctx context.Context, book *pricebook.Book) error {
	books, err := pricebook.Keep(ctx, d.store.Invoices(), book, d.cfg.Now())
	if err != nil {
		return err
	}
	d.books = books
	d.log.Info().Str("price_book", book.Version).Strs("versions", books.Versions()).Msg("price books loaded")
	return nil
}

// buildBilling wires the billing service, with a Stripe sender when a key
// is configured (a dry run otherwise).
func (d *Daemon) buildBilling(reg prometheus.Registerer, book *pricebook.Book, rejecter billing.EventRejecter, notifier billing.Notifier) (*billing.Service, error) {
	invoices := d.store.Invoices()
	cfg := billing.Config{
		Rejecter: rejecter, Notifier: notifier,
		Book: book, Books: d.books, Activity: d.store.Events(),
		Invoices: invoices, Periods: invoices, Customers: invoices,
		Now: d.cfg.Now, Logger: d.log, Metrics: billing.NewMetrics(reg),
	}
	if d.stripe != nil { // a nil sender in the interface would not be a dry run
		cfg.Sender = stripesync.NewInvoiceSender(d.stripe)
	}
	return billing.New(cfg)
}

// storedRejecter dead-letters stored events: it reads them back from
// ClickHouse and publishes them to the dead-letter stream with the reason,
// under the message id of their events-stream sequence (so twice is once
// within JetStream's duplicate window), and skips those the dead-letter
// store holds already (so twice is once after it: billing rejects the
// subscription changes it leaves out at every close). Every stored event,
// HTTP or NATS, came from the events stream (the one hop), so its row's
// stream_seq is its origin sequence there; the origin subject named is the
// type's, also for an event an emitter published under tally.ingest.
type storedRejecter struct {
	events *chstore.Events
	dlq    *pipeline.DeadLetters
}

func (r *storedRejecter) RejectStored(ctx context.Context, seqs []uint64, reason string) error {
	done, err := r.events.DeadLettered(ctx, pipeline.EventsStream, seqs)
	if err != nil {
		return err
	}
	seqs = slices.DeleteFunc(slices.Clone(seqs), func(seq uint64) bool { return done[seq] })
	events, err := r.events.EventsBySeq(ctx, seqs)
	if err != nil {
		return err
	}
	for _, e := range events {
		m := &consumers.Message{Stream: pipeline.EventsStream, StreamSeq: e.Seq,
			Subject: pipeline.EventsSubjectPrefix + e.Type, Data: e.Payload}
		if err := r.dlq.PublishDeadLetter(ctx, m, errors.New(reason)); err != nil {
			return err
		}
	}
	return nil
}
