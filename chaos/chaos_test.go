package chaos

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// lastMonth is the month before the current one (UTC): its events are
// never "in the future" and the period can be closed at once.
func lastMonth() time.Time {
	now := time.Now().UTC()
	return time.Date(now.Year(), now.Month()-1, 1, 0, 0, 0, 0, time.UTC)
}

// seed is TALLY_CHAOS_SEED, or a fresh one; it is logged so a failing run
// can be repeated with the same events and fault points.
func seed(t *testing.T) uint64 {
	t.Helper()
	s := uint64(time.Now().UnixNano())
	if v := envInt(t, "TALLY_CHAOS_SEED", 0); v != 0 {
		s = uint64(v)
	}
	t.Logf("TALLY_CHAOS_SEED=%d", s)
	return s
}

// faultPoints returns n points (in events handed out) spread at random over
// the middle 80% of a load of events.
func faultPoints(rng *rand.Rand, events, n int) []int {
	lo, span := events/10, max(events*8/10, 1)
	pts := make([]int, n)
	for i := range pts {
		pts[i] = lo + rng.IntN(span)
	}
	slices.Sort(pts)
	return pts
}

// atPoint waits until the load has handed out at least at events, then a
// random pause of up to 200ms so a fault lands mid-request; it returns
// false when the load ended first.
func atPoint(ctx context.Context, rng *rand.Rand, load *Load, done <-chan struct{}, at int) bool {
	for load.HandedOut() < at {
		select {
		case <-done:
			return false
		case <-ctx.Done():
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
	time.Sleep(time.Duration(rng.IntN(200)) * time.Millisecond)
	return true
}

// paced is the rate (events/s) that stretches a load of events over at
// least per for each of faults, so the faults land inside the load and not
// after it; a large load is not slowed (its rate is above what the clients
// reach).
func paced(events, faults int, per time.Duration) int {
	secs := max(int(per/time.Second)*faults, 1)
	return max(events/secs, 100)
}

// waitLoad runs load.Wait in the background and closes the returned
// channel when it ends.
func waitLoad(load *Load) (<-chan struct{}, *error) {
	done := make(chan struct{})
	var err error
	go func() {
		err = load.Wait()
		close(done)
	}()
	return done, &err
}

// progress logs the load's progress every 10 seconds until done closes or
// the test ends.
func progress(t *testing.T, load *Load, ledger *Ledger, done <-chan struct{}) {
	stop, stopped := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(stop); <-stopped }) // no Logf after the test
	go func() {
		defer close(stopped)
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-stop:
				return
			case <-tick.C:
				t.Logf("progress: %d events handed out, %d acknowledged", load.HandedOut(), ledger.Len())
			}
		}
	}()
}

// TestKillTallyUnderLoad sends a load over HTTP (two clients) and straight
// onto the embedded NATS (one JetStream publisher) while `tally run` gets
// SIGKILL at random moments and is restarted on the same data dir. Then
// every acknowledged event must be stored exactly once, the usage of every
// tenant must equal the generator's sums, and the Team tenant's invoice must
// equal the one worked by SPEC's rules.
func TestKillTallyUnderLoad(t *testing.T) {
	events, kills := chaosEvents(t), chaosKills(t)
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 1))
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout(events, kills))
	defer cancel()
	month := lastMonth()

	p := StartTally(t, TallyConfig{})
	ledger := NewLedger()
	h1, h2 := NewHTTPSender(p, ledger), NewHTTPSender(p, ledger)
	np := NewNATSPublisher(t, p.NATSURL(), ledger)
	if err := h1.Send(ctx, []Event{teamStartEvent(month)}); err != nil {
		t.Fatal(err)
	}

	rate := paced(events, kills, 5*time.Second)
	t.Logf("load: %d events at most %d/s, %d kills of tally run", events, rate, kills)
	load := RunLoad(ctx, NewGen(s, 5, month), LoadConfig{Events: events, Rate: rate, HTTP: []*HTTPSender{h1, h2}, NATS: []*NATSPublisher{np}})
	done, loadErr := waitLoad(load)
	progress(t, load, ledger, done)
	killed := 0
	for _, at := range faultPoints(rng, events, kills) {
		if !atPoint(ctx, rng, load, done, at) {
			break
		}
		handed, acked := load.HandedOut(), ledger.Len()
		p.Kill()
		killed++
		begin := time.Now()
		if err := p.Start(ctx); err != nil {
			t.Fatalf("restart %d: %v", killed, err)
		}
		t.Logf("kill %d/%d at %d events handed out, %d acknowledged; ready again after %s", killed, kills, handed, acked,
			time.Since(begin).Round(time.Millisecond))
	}
	<-done
	if *loadErr != nil {
		t.Fatalf("load: %v", *loadErr)
	}
	if killed != kills {
		t.Errorf("%d kills made, want %d (the load ended first)", killed, kills)
	}
	t.Logf("load done: %d events acknowledged; http: %s | %s; nats: %s", ledger.Len(), h1.Stats.String(), h2.Stats.String(), np.Stats.String())

	WaitDrained(t, ctx, p.NATSURL())
	ch := OpenClickHouse(t, p.ClickHouseDSN())
	CheckStored(t, ctx, ch, ledger)
	CheckUsage(t, ctx, p, ledger, month.Format(time.DateOnly), month.AddDate(0, 1, 0).Format(time.DateOnly))
	CheckTeamInvoice(t, ctx, p, ledger, month)
}

// TestKillClickHouseUnderLoad sends a load over HTTP and NATS while the
// managed ClickHouse server gets SIGKILL at random moments; tally's
// supervisor restarts it on the same ports and the sink retries its
// inserts. Every acknowledged event must be stored exactly once.
func TestKillClickHouseUnderLoad(t *testing.T) {
	events, kills := chaosEvents(t), chaosKills(t)
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 2))
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout(events, kills))
	defer cancel()
	month := lastMonth()

	p := StartTally(t, TallyConfig{})
	ledger := NewLedger()
	h1 := NewHTTPSender(p, ledger)
	np := NewNATSPublisher(t, p.NATSURL(), ledger)

	// Ingest does not wait for ClickHouse, so the load is paced to last at
	// least 10s per kill: the kills then land while the sink is inserting.
	rate := paced(events, kills, 10*time.Second)
	t.Logf("load: %d events at most %d/s, %d kills of the managed clickhouse", events, rate, kills)
	load := RunLoad(ctx, NewGen(s, 5, month), LoadConfig{Events: events, Rate: rate, HTTP: []*HTTPSender{h1}, NATS: []*NATSPublisher{np}})
	done, loadErr := waitLoad(load)
	progress(t, load, ledger, done)
	pinger := OpenClickHouse(t, p.ClickHouseDSN()) // the managed server keeps its ports across restarts
	answers := func() bool {
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := QueryUint64(qctx, pinger, "SELECT toUInt64(1)")
		return err == nil
	}
	killed := 0
	for _, at := range faultPoints(rng, events, kills) {
		if !atPoint(ctx, rng, load, done, at) {
			break
		}
		handed, acked := load.HandedOut(), ledger.Len()
		pid, err := p.KillClickHouse()
		if err != nil {
			t.Fatal(err)
		}
		killed++
		begin := time.Now()
		for {
			pids := p.ClickHousePIDs()
			if len(pids) == 1 && pids[0] != pid && answers() {
				break
			}
			if ctx.Err() != nil || !p.Running() {
				t.Fatalf("clickhouse not back after kill %d (tally running: %v): %v", killed, p.Running(), ctx.Err())
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("clickhouse kill %d/%d (pid %d) at %d events handed out, %d acknowledged; answering again after %s",
			killed, kills, pid, handed, acked, time.Since(begin).Round(time.Millisecond))
	}
	<-done
	if *loadErr != nil {
		t.Fatalf("load: %v", *loadErr)
	}
	if killed != kills {
		t.Errorf("%d kills made, want %d (the load ended first)", killed, kills)
	}
	if !p.Running() {
		t.Fatal("tally run exited")
	}
	t.Logf("load done: %d events acknowledged; http: %s; nats: %s", ledger.Len(), h1.Stats.String(), np.Stats.String())
	for _, prefix := range []string{"tally_consumer_errors_total", "tally_consumer_redeliveries_total"} {
		t.Logf("daemon metrics: %s", strings.Join(p.MetricLines(ctx, prefix), "; "))
	}

	WaitDrained(t, ctx, p.NATSURL())
	ch := OpenClickHouse(t, p.ClickHouseDSN())
	CheckStored(t, ctx, ch, ledger)
	CheckUsage(t, ctx, p, ledger, month.Format(time.DateOnly), month.AddDate(0, 1, 0).Format(time.DateOnly))
}

// TestRestartExternalNATSUnderLoad runs tally against an external
// nats-server, which gets SIGKILL mid-load and is started again on the
// same port and store dir after a pause. While it is gone, HTTP ingest must
// answer 503 with Retry-After (never a 202), and every event that did get
// a 202 must be stored exactly once.
func TestRestartExternalNATSUnderLoad(t *testing.T) {
	events, kills := chaosEvents(t), chaosKills(t)
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 3))
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout(events, kills))
	defer cancel()
	month := lastMonth()

	ns := StartNATSServer(t)
	p := StartTally(t, TallyConfig{NATSURL: ns.URL()})
	ledger := NewLedger()
	h1, h2 := NewHTTPSender(p, ledger), NewHTTPSender(p, ledger)
	np := NewNATSPublisher(t, p.NATSURL(), ledger)

	rate := paced(events, kills, 5*time.Second)
	t.Logf("load: %d events at most %d/s, %d restarts of the external nats-server", events, rate, kills)
	load := RunLoad(ctx, NewGen(s, 5, month), LoadConfig{Events: events, Rate: rate, HTTP: []*HTTPSender{h1, h2}, NATS: []*NATSPublisher{np}})
	done, loadErr := waitLoad(load)
	progress(t, load, ledger, done)
	restarted := 0
	for _, at := range faultPoints(rng, events, kills) {
		if !atPoint(ctx, rng, load, done, at) {
			break
		}
		before := h1.Stats.RetryAfter.Load() + h2.Stats.RetryAfter.Load()
		ns.Kill()
		down := time.Now()
		// Stay down long enough for the senders to hit the outage.
		time.Sleep(1500 * time.Millisecond)
		if err := ns.Start(); err != nil {
			t.Fatal(err)
		}
		restarted++
		t.Logf("nats-server restart %d/%d at %d events handed out, %d acknowledged; down %s, 503s with Retry-After meanwhile: %d",
			restarted, kills, load.HandedOut(), ledger.Len(), time.Since(down).Round(time.Millisecond),
			h1.Stats.RetryAfter.Load()+h2.Stats.RetryAfter.Load()-before)
	}
	<-done
	if *loadErr != nil {
		t.Fatalf("load: %v", *loadErr)
	}
	if restarted != kills {
		t.Errorf("%d restarts made, want %d (the load ended first)", restarted, kills)
	}
	if !p.Running() {
		t.Fatal("tally run exited while NATS was away")
	}
	t.Logf("load done: %d events acknowledged; http: %s | %s; nats: %s", ledger.Len(), h1.Stats.String(), h2.Stats.String(), np.Stats.String())
	if kills > 0 && h1.Stats.RetryAfter.Load()+h2.Stats.RetryAfter.Load() == 0 {
		t.Errorf("no 503 with Retry-After seen over %d NATS outages (503s without it: %d)", kills,
			h1.Stats.Unavailable.Load()+h2.Stats.Unavailable.Load())
	}

	WaitDrained(t, ctx, p.NATSURL())
	ch := OpenClickHouse(t, p.ClickHouseDSN())
	CheckStored(t, ctx, ch, ledger)
	CheckUsage(t, ctx, p, ledger, month.Format(time.DateOnly), month.AddDate(0, 1, 0).Format(time.DateOnly))
}
