package daemon

import (
	"runtime/debug"
	"testing"
)

func TestPayoutRunsLowerTheMemoryLimitAndRestoreIt(t *testing.T) {
	orig := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(orig) })
	limit := func() int64 { return debug.SetMemoryLimit(-1) }

	debug.SetMemoryLimit(768 << 20)
	var r lightRuns
	r.enter()
	if got := limit(); got != 460<<20 {
		t.Fatalf("limit during a run = %d MiB, want 460", got>>20)
	}
	r.enter() // a second run at once (API and scheduler)
	r.exit()
	if got := limit(); got != 460<<20 {
		t.Fatalf("limit while one of two runs goes on = %d MiB, want 460", got>>20)
	}
	r.exit()
	if got := limit(); got != 768<<20 {
		t.Fatalf("limit after the runs = %d MiB, want the process's 768 back", got>>20)
	}

	debug.SetMemoryLimit(256 << 20) // an operator's lower limit is never raised
	r.enter()
	if got := limit(); got != 256<<20 {
		t.Fatalf("limit during a run under a 256 MiB process limit = %d MiB, want 256", got>>20)
	}
	r.exit()
	if got := limit(); got != 256<<20 {
		t.Fatalf("limit after = %d MiB, want 256", got>>20)
	}
}
