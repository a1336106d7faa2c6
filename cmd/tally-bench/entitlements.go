package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tally-billing/tally/auth"
	"github.com/tally-billing/tally/pipeline"
)

// The entitlements phase (SPEC §6): entitlement checks at a steady rate
// while events are ingested over NATS at half the NATS phase's rate, and
// the freshness of an entitlement (an event's 202 → a check that shows
// it). Every check passes the read-your-writes barrier (SPEC §5), so
// under ingest it waits for the sink to store what was acknowledged
// before it: that wait is most of what it measures.
const (
	entTarget       = 10 * time.Millisecond // SPEC §6: check p99
	entFreshTarget  = time.Second           // SPEC §6: freshness
	entProbeTenant  = "bench-ent-probe"
	entProbeFlag    = "bench_probe"
	entProbeEvery   = 100 * time.Millisecond
	entCheckTimeout = time.Minute
)

// entCapabilities are the checks the phase cycles through.
var entCapabilities = []string{"seats.learner", "ai_credits", "sso_scim", "marketplace_seller", "white_label"}

// entResult is what the entitlements phase measured.
type entResult struct {
	Tenants      int       `json:"tenants"`
	CheckRate    float64   `json:"check_rate_target"`
	ChecksPerSec float64   `json:"checks_per_sec"`
	IngestRate   float64   `json:"ingest_rate_target"`
	IngestPerSec float64   `json:"ingest_per_sec"`
	IdleChecks   waitStats `json:"idle_checks"`
	Checks       waitStats `json:"checks"`
	Freshness    waitStats `json:"freshness"`
	// Stale counts probes whose check did not show the event acknowledged
	// just before it: a read-your-writes violation (must be 0).
	Stale int `json:"stale"`
	// Skipped counts checks not started (too many in flight) or failed.
	Skipped int    `json:"skipped"`
	Verdict string `json:"verdict"`
}

// prepareEntitlements generates the events the phase's load publishes.
func (b *bench) prepareEntitlements() error {
	rate := b.natsRate / 2
	if b.cfg.LatencyRate > 0 {
		rate = float64(b.cfg.LatencyRate)
	}
	return b.ensureEvents(max(1, int(rate*float64(b.cfg.EntSeconds))))
}

// entitlementsPhase seeds -ent-tenants tenants on Team, times
// -ent-idle-checks checks with no load, then for -ent-seconds publishes
// the bench's events over NATS at half the NATS phase's rate while
// workers check at -ent-check-rate and a prober toggles a feature flag
// every 100ms and times its 202 → the first check answered after it.
func (b *bench) entitlementsPhase(ctx context.Context, tp *tallyProc, res *phaseResult) error {
	finance, err := tp.Key(auth.RoleFinance)
	if err != nil {
		return err
	}
	c := &entClient{addr: tp.HTTPAddr, finance: finance, ingest: tp.ingestKey,
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: b.cfg.EntWorkers + 4}, Timeout: entCheckTimeout}}
	tenants := b.cfg.EntTenants
	if err := c.seed(ctx, b.now, tenants); err != nil {
		return err
	}
	out := &entResult{Tenants: tenants, CheckRate: float64(b.cfg.EntCheckRate)}

	idle := &entTimes{}
	for i := range 200 {
		if err := c.check(ctx, i, tenants, idle); err != nil {
			return err
		}
	}
	out.IdleChecks = idle.stats()

	rate := b.natsRate / 2
	if b.cfg.LatencyRate > 0 {
		rate = float64(b.cfg.LatencyRate)
	}
	n := min(int(rate*float64(b.cfg.EntSeconds)), len(b.events))
	out.IngestRate = rate
	nc, err := connectNATS(tp.NATSURL, b.cfg.Window)
	if err != nil {
		return err
	}
	defer nc.close()
	checks, fresh := &entTimes{}, &entTimes{}
	var stale atomic.Int64
	loadDone := make(chan struct{})
	g, gctx := errgroup.WithContext(ctx)
	start := time.Now()
	var sendDone time.Time
	g.Go(func() error {
		defer close(loadDone)
		p := &windowPublisher{js: nc.js, subject: natsSubject, window: b.cfg.Window}
		pacer := newPacer(rate)
		if _, err := p.publish(gctx, b.events[:n], pubHooks{pace: pacer.wait}); err != nil {
			return fmt.Errorf("publishing the load: %w", err)
		}
		sendDone = time.Now()
		return nil
	})
	// Open loop: a check is started when it is due, whatever the ones
	// before it are doing (a closed loop of workers would measure its own
	// pool), up to -ent-workers × 64 in flight; a check not started for
	// that is counted as skipped.
	var skipped atomic.Int64
	g.Go(func() error {
		checkPacer := newPacer(float64(b.cfg.EntCheckRate))
		inFlight := make(chan struct{}, b.cfg.EntWorkers*64)
		var wg sync.WaitGroup
		defer wg.Wait()
		for i := 0; ; i++ {
			if err := checkPacer.until(gctx, i); err != nil {
				return err
			}
			select {
			case <-loadDone:
				return nil
			default:
			}
			select {
			case inFlight <- struct{}{}:
			default:
				skipped.Add(1)
				continue
			}
			wg.Add(1)
			go func() {
				defer func() { <-inFlight; wg.Done() }()
				if err := c.check(gctx, i, tenants, checks); err != nil && gctx.Err() == nil {
					skipped.Add(1)
				}
			}()
		}
	})
	g.Go(func() error {
		for k := 1; ; k++ {
			select {
			case <-loadDone:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			case <-time.After(entProbeEvery):
			}
			ok, err := c.probe(gctx, k, fresh)
			if err != nil {
				return err
			}
			if !ok {
				stale.Add(1)
			}
		}
	})
	if err := g.Wait(); err != nil {
		return err
	}
	loadSeconds := sendDone.Sub(start).Seconds()
	out.IngestPerSec = float64(n) / loadSeconds
	out.Checks, out.Freshness, out.Stale = checks.stats(), fresh.stats(), int(stale.Load())
	out.Skipped = int(skipped.Load())
	out.ChecksPerSec = float64(out.Checks.Samples) / loadSeconds
	out.judge()
	res.setRate(n, sendDone.Sub(start))
	res.SendSeconds = res.Seconds
	res.TargetRate = rate
	res.P50Ms, res.P99Ms, res.MaxMs = out.Checks.P50Ms, out.Checks.P99Ms, out.Checks.MaxMs
	out.Checks.Ms, out.IdleChecks.Ms, out.Freshness.Ms = nil, nil, nil
	res.Entitlements = out
	return nil
}

func (r *entResult) judge() {
	switch {
	case r.Stale > 0:
		r.Verdict = fmt.Sprintf("no: %d checks missed an event acknowledged before them", r.Stale)
	case r.Checks.Failed+r.Freshness.Failed > 0:
		r.Verdict = fmt.Sprintf("no: %d checks answered 503", r.Checks.Failed+r.Freshness.Failed)
	case r.Checks.P99Ms >= millisOf(entTarget) || r.Freshness.P99Ms >= millisOf(entFreshTarget):
		r.Verdict = fmt.Sprintf("no: check p99 %.0f ms (target < %s), freshness p99 %.0f ms (target < %s)",
			r.Checks.P99Ms, entTarget, r.Freshness.P99Ms, entFreshTarget)
	default:
		r.Verdict = "yes"
	}
}

func (r *entResult) writeLines(w io.Writer, _ phaseResult) {
	fmt.Fprintf(w, "%-8s %d tenants; checks at %.0f/s (%.0f/s achieved) while NATS ingest at %.0f events/s (%.0f/s achieved)\n",
		"", r.Tenants, r.CheckRate, r.ChecksPerSec, r.IngestRate, r.IngestPerSec)
	fmt.Fprintf(w, "%-8s check under ingest: %s, %d skipped; no load: %s\n", "", r.Checks, r.Skipped, r.IdleChecks)
	fmt.Fprintf(w, "%-8s freshness (202 → a check showing it): %s; stale answers %d\n", "", r.Freshness, r.Stale)
	fmt.Fprintf(w, "%-8s target check p99 < %s and freshness p99 < %s: %s\n", "", entTarget, entFreshTarget, r.Verdict)
}

// entTimes collects timed answers from several goroutines.
type entTimes struct {
	mu sync.Mutex
	p  probes
}

func (t *entTimes) add(a apiAnswer) {
	t.mu.Lock()
	t.p.add(a)
	t.mu.Unlock()
}

func (t *entTimes) stats() waitStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.p.stats()
}

// entClient talks to tally's API for the phase.
type entClient struct {
	addr, finance, ingest string
	http                  *http.Client
}

// seed subscribes the tenants and the probe tenant to Team from the
// month's start, and waits (one check, which passes the barrier) until
// they are in the state.
func (c *entClient) seed(ctx context.Context, now time.Time, tenants int) error {
	at := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)
	var events []string
	for i := range tenants + 1 {
		t := fmt.Sprintf("bench-ent-%d", i)
		if i == tenants {
			t = entProbeTenant
		}
		events = append(events, fmt.Sprintf(`{"specversion":"1.0","id":"ent-seed-%d","source":"bench","type":"subscription.started","subject":%q,"time":%q,"data":{"plan":"team","term":"monthly","currency":"USD"}}`, i, t, at))
	}
	for len(events) > 0 {
		k := min(len(events), pipeline.MaxBatchEvents)
		if err := c.post(ctx, "["+joinComma(events[:k])+"]"); err != nil {
			return err
		}
		events = events[k:]
	}
	a, err := c.get(ctx, "/v1/tenants/"+entProbeTenant+"/entitlements/sso_scim")
	if err != nil || a.status != http.StatusOK {
		return fmt.Errorf("first check after seeding: %v %d %s", err, a.status, a.body)
	}
	return nil
}

// check times one check of tenant i % tenants.
func (c *entClient) check(ctx context.Context, i, tenants int, into *entTimes) error {
	path := fmt.Sprintf("/v1/tenants/bench-ent-%d/entitlements/%s", i%tenants, entCapabilities[i%len(entCapabilities)])
	a, err := c.get(ctx, path)
	if err != nil {
		return err
	}
	if a.status != http.StatusOK && a.status != http.StatusServiceUnavailable {
		return fmt.Errorf("GET %s: %d %s", path, a.status, a.body)
	}
	into.add(a)
	return nil
}

// probe sets the probe tenant's flag to k's parity, then checks the
// view: freshness is from the 202 to the answer, and the answer must show
// the flag as set (ok false otherwise).
func (c *entClient) probe(ctx context.Context, k int, into *entTimes) (bool, error) {
	on := k%2 == 1
	ev := fmt.Sprintf(`[{"specversion":"1.0","id":"ent-probe-%d","source":"bench","type":"tenant.feature_flag.set","subject":%q,"time":%q,"data":{"flag":%q,"enabled":"%t"}}]`,
		k, entProbeTenant, time.Now().UTC().Format(time.RFC3339Nano), entProbeFlag, on)
	if err := c.post(ctx, ev); err != nil {
		return false, err
	}
	accepted := time.Now()
	a, err := c.get(ctx, "/v1/tenants/"+entProbeTenant+"/entitlements")
	if err != nil {
		return false, err
	}
	a.took = time.Since(accepted)
	into.add(a)
	if a.status != http.StatusOK {
		return true, nil // counted as failed by probes
	}
	var v struct {
		Flags map[string]bool `json:"flags"`
	}
	if err := json.Unmarshal(a.body, &v); err != nil {
		return false, fmt.Errorf("decoding the probe's view: %w", err)
	}
	return v.Flags[entProbeFlag] == on, nil
}

func (c *entClient) get(ctx context.Context, path string) (apiAnswer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.addr+path, nil)
	if err != nil {
		return apiAnswer{}, err
	}
	req.Header.Set("Authorization", "Bearer "+c.finance)
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return apiAnswer{}, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return apiAnswer{}, fmt.Errorf("GET %s: reading the answer: %w", path, err)
	}
	return apiAnswer{status: resp.StatusCode, body: body, took: time.Since(start)}, nil
}

// post sends a batch of events with the ingest key and requires a 202.
func (c *entClient) post(ctx context.Context, batch string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+c.addr+"/v1/events", bytes.NewReader([]byte(batch)))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.ingest)
	req.Header.Set("Content-Type", pipeline.ContentTypeBatch)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("POST /v1/events: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("POST /v1/events: %d %s", resp.StatusCode, body)
	}
	return nil
}

func joinComma(parts []string) string {
	var b bytes.Buffer
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(p)
	}
	return b.String()
}
