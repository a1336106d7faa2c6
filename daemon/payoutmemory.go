package daemon

import (
	"context"
	"runtime/debug"
	"sync"
	"time"

	"github.com/tally-billing/tally/payouts"
)

// runMemoryLimit is the Go runtime's soft memory limit during a payout
// run, when the process's own limit (--memory-limit-mib, GOMEMLIMIT) is
// higher. A run holds a month of events and a few hundred thousand ledger
// entries for a few seconds; with the default GOGC the heap would grow to
// twice that before a collection. Under the limit the collector runs more
// often only when the heap comes near it, which costs less CPU than a
// lower GOGC for the whole run (docs/performance.md, payouts-year).
const runMemoryLimit int64 = 460 << 20

// lightRuns wraps the payout runs of a service: a run starts by handing
// the memory the process no longer uses back to the operating system
// (debug.FreeOSMemory: ingest leaves a few hundred megabytes of garbage
// and free pages resident, which the runtime's scavenger returns only
// slowly), so that the run's heap grows into those pages instead of
// beside them; during a run the soft memory limit is at most
// runMemoryLimit; after it the memory is handed back again. The API and
// the scheduler may run payouts at once: the first run sets the limit,
// the last one to end restores it.
type lightRuns struct {
	*payouts.Service
	mu      sync.Mutex
	running int
	before  int64 // the process's limit before the first run
}

// RunPayouts runs payouts as of asOf (payouts.Service.RunPayouts) under
// the run's memory limit.
func (r *lightRuns) RunPayouts(ctx context.Context, asOf time.Time) (payouts.RunResult, error) {
	r.enter()
	defer r.exit()
	return r.Service.RunPayouts(ctx, asOf)
}

// enter starts a run: the first one releases memory and lowers the limit.
func (r *lightRuns) enter() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running == 0 {
		debug.FreeOSMemory()
		r.before = debug.SetMemoryLimit(-1) // reads it
		debug.SetMemoryLimit(min(r.before, runMemoryLimit))
	}
	r.running++
}

// exit ends a run: the last one restores the limit and releases memory.
func (r *lightRuns) exit() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running--; r.running == 0 {
		debug.SetMemoryLimit(r.before)
		go debug.FreeOSMemory() // a collection and a release, off the caller's time
	}
}
