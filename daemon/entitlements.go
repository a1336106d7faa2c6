package daemon

import (
	"github.com/tally-billing/tally/entitlements"
	"github.com/tally-billing/tally/pipeline"
	"github.com/tally-billing/tally/pricebook"
)

// buildEntitlements wires the live tenant state: it folds what the sink
// stored (chstore.Events), up to the sink's ack floor (the watermark), and
// dead-letters the enrolments its rules refuse. Every replica keeps its
// own (docs/adr/0002-live-tenant-state.md); Run is started with the other
// loops.
func (d *Daemon) buildEntitlements(book *pricebook.Book, wm *pipeline.Watermark, rejecter entitlements.Rejecter) (*entitlements.State, error) {
	return entitlements.New(entitlements.Config{
		Book:     book,
		Matrix:   entitlements.BookMatrix(book),
		Store:    d.store.Events(),
		Position: storedPosition{wm},
		Rejecter: rejecter,
		Now:      d.cfg.Now,
		Logger:   d.log,
	})
}
