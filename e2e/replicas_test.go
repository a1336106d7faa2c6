package e2e

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/daemon"
	"github.com/tally-billing/tally/internal/testnet"
	"github.com/tally-billing/tally/natsembed"
)

// TestTwoReplicasRunSingletonsOnce runs two Tally replicas on one NATS and
// one ClickHouse, both with their schedulers on and a clock past November's
// close and December 1's payout run: the lease lets exactly one replica
// close the period and run the payouts; both share the event consumers.
func TestTwoReplicasRunSingletonsOnce(t *testing.T) {
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel)
	addr := testnet.FreeAddr(t)
	ns, err := natsembed.Start(natsembed.Config{StoreDir: filepath.Join(t.TempDir(), "nats"), ListenAddr: addr, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	dsn := newDatabase(t)
	// Schedulers handle only periods after the installation: record it in
	// October, whatever today's date.
	backdateInstall(t, dsn, time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC))
	scheduled := func(c *daemon.Config) { c.NoScheduler = false }
	a := startTally(t, withNATS(ns.ClientURL()), withDSN(dsn), withClock(december2), scheduled)
	b := startTally(t, withNATS(ns.ClientURL()), withDSN(dsn), withClock(december2), scheduled)

	events := workedExampleEvents()
	half := len(events) / 2
	a.mustAccept(half, 0, events[:half]...)
	b.mustAccept(len(events)-half, 0, events[half:]...)
	a.waitRows("tenant-biz", 1+120+10+1)

	waitFor(t, time.Minute, "the scheduled close and payout run", func() bool {
		return a.count("SELECT count() FROM closed_periods WHERE period = '2026-11'") >= 1 &&
			a.count("SELECT count() FROM payout_runs WHERE as_of = '2026-12-01 00:00:00'") >= 1
	})
	// Both replicas have looked at least once by now (they look at start);
	// the rows are counted without FINAL, so a second close or run would show.
	if n := a.count("SELECT count() FROM closed_periods WHERE period = '2026-11'"); n != 1 {
		t.Errorf("2026-11 closed %d times, want once", n)
	}
	if n := a.count("SELECT count() FROM payout_runs WHERE as_of = '2026-12-01 00:00:00'"); n != 1 {
		t.Errorf("the payout run of December 1 happened %d times, want once", n)
	}
	if n := a.count("SELECT count() FROM events"); n != uint64(len(events)) {
		t.Errorf("%d events stored by two replicas, want %d", n, len(events))
	}
}
