package daemon

import (
	"context"
	"runtime/debug"
	"sync"
	"time"

	"github.com/tally-billing/tally/payouts"
)

// runGCPercent is the garbage collector's target during a payout run
// (GOGC; the process's default is 100). A run holds a month of events and
// a few hundred thousand ledger entries for a few seconds, and with the
// default target the heap grows to twice that before a collection: the
// resident size of the whole process. A run collects more often instead,
// at some CPU; ingest, which allocates steadily, keeps the default
// between runs.
const runGCPercent = 40

// lightRuns wraps the payout runs of a service: a run starts by handing
// the memory the process no longer uses back to the operating system
// (debug.FreeOSMemory: ingest leaves a few hundred megabytes of garbage
// and free pages resident, which the runtime's scavenger returns only
// slowly), so that the run's heap grows into those pages instead of
// beside them; during a run the garbage collector's target is
// runGCPercent; after it the memory is handed back again. The API and
// the scheduler may run payouts at once: the first run sets the target,
// the last one to end restores it.
type lightRuns struct {
	*payouts.Service
	mu      sync.Mutex
	running int
	before  int // the target before the first run
}

// RunPayouts runs payouts as of asOf (payouts.Service.RunPayouts) with
// the run's garbage collector target.
func (r *lightRuns) RunPayouts(ctx context.Context, asOf time.Time) (payouts.RunResult, error) {
	r.mu.Lock()
	if r.running == 0 {
		debug.FreeOSMemory()
		r.before = debug.SetGCPercent(runGCPercent)
	}
	r.running++
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.running--; r.running == 0 {
			debug.SetGCPercent(r.before)
			go debug.FreeOSMemory() // a collection and a release, off the caller's time
		}
	}()
	return r.Service.RunPayouts(ctx, asOf)
}
