package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/auth"
	"github.com/tally-billing/tally/schemas"
)

// The year of the payouts-year phase: twelve months before the payout
// run of December 1, 2026; a run on the 1st of every month.
var yearStart = time.Date(2025, time.December, 1, 0, 0, 0, 0, time.UTC)

func monthStart(m int) time.Time { return yearStart.AddDate(0, m, 0) }

// yearPhase seeds a year of marketplace history month by month through
// the HTTP ingest and runs payouts on the 1st of every month, each run
// continuing from the last one's ledger snapshot. Every month, per
// provider (-providers of them), -year-sales-per-month sales; a tenth of
// the providers refund half of a sale inside its hold; one in fifty a
// whole sale of the month before, already paid out (clawback); one in
// two hundred has a sale of the month before stored late (its ledger is
// derived again from its history); one in five hundred is revoked and
// verified again. It times the twelfth run (peak RSS of tally measured
// from just before it) and then -balance-reads reads of one provider's
// balance.
func (b *bench) yearPhase(ctx context.Context, tp *tallyProc, res *phaseResult) error {
	providers, per := b.cfg.Providers, b.cfg.YearSalesPerMonth
	finance, err := tp.Key(auth.RoleFinance)
	if err != nil {
		return err
	}
	h := newHTTPSender(tp.HTTPAddr, tp.ingestKey, b.cfg.HTTPWorkers)
	st, err := openStore(ctx, tp.ClickHouseDSN)
	if err != nil {
		return err
	}
	defer st.close()
	sent := 0
	var last time.Duration
	for m := range 12 {
		events := yearMonth(providers, per, m)
		bar := b.newBar(len(events), fmt.Sprintf("payouts-year: month %d events", m+1))
		err := h.sendAll(ctx, events, b.cfg.HTTPBatch, b.cfg.HTTPWorkers, func(n int) { _ = bar.Add(n) })
		endBar(bar, err)
		if err != nil {
			return fmt.Errorf("seeding month %d: %w", m+1, err)
		}
		sent += len(events)
		if _, err := st.waitStored(ctx, waitSpec{target: uint64(sent), interval: 100 * time.Millisecond, stall: b.cfg.Stall}); err != nil {
			return err
		}
		asOf := monthStart(m + 1)
		if m == 11 {
			if err := resetPeakRSS(tp.Pid()); err != nil {
				res.note("resetting the peak RSS before the last run: %v (the peak is the phase's)", err)
			}
		}
		start := time.Now()
		if _, err := postFinance(ctx, tp.HTTPAddr, finance, "/v1/payouts/run?as_of="+asOf.Format(time.RFC3339)); err != nil {
			return fmt.Errorf("payout run as of %s: %w", asOf.Format(time.DateOnly), err)
		}
		last = time.Since(start)
		fmt.Fprintf(b.stderr, "payouts-year: run as of %s took %s\n", asOf.Format(time.DateOnly), last.Round(time.Millisecond))
	}
	entries, err := st.queryUint(ctx, "SELECT count() FROM ledger FINAL")
	if err != nil {
		return err
	}
	paid, err := st.queryUint(ctx, "SELECT uniqExact(provider) FROM payouts WHERE as_of = '"+monthStart(12).Format("2006-01-02 15:04:05")+"'")
	if err != nil {
		return err
	}
	if paid < uint64(providers)*9/10 {
		return fmt.Errorf("the last payout run paid %d of %d providers", paid, providers)
	}

	// balance reads: one provider each, as of the last run
	rng := rand.New(rand.NewPCG(b.cfg.Seed, 11))
	ms := make([]float64, 0, b.cfg.BalanceReads)
	asOf := monthStart(12).Format(time.RFC3339)
	for range b.cfg.BalanceReads {
		p := providerName(rng.IntN(providers))
		took, err := getBalance(ctx, tp.HTTPAddr, finance, "/v1/providers/"+p+"/balance?as_of="+asOf)
		if err != nil {
			return err
		}
		ms = append(ms, float64(took)/float64(time.Millisecond))
	}
	res.P50Ms, res.P99Ms, res.MaxMs = percentiles(ms)
	res.setRate(sent, last)
	res.SendSeconds = res.Seconds
	res.note("%d events over 12 monthly runs, %d ledger entries; the 12th run took %.2f s and paid %d providers; %d balance reads: p50 %.1f ms, p99 %.1f ms (p50/p99 columns)",
		sent, entries, last.Seconds(), paid, len(ms), res.P50Ms, res.P99Ms)
	return nil
}

// yearMonth is month m's events (see yearPhase).
func yearMonth(providers, per, m int) []event {
	var out []event
	from := monthStart(m)
	days := int(monthStart(m+1).Sub(from) / (24 * time.Hour))
	for p := range providers {
		if m == 0 {
			out = append(out, mustEvent(string(envelope("kyc", fmt.Sprintf("ykyc-%d", p), schemas.TypeKYCVerified, providerName(p),
				yearStart.Add(-24*time.Hour), newData().str("stripe_account", fmt.Sprintf("acct_bench%05d", p))))))
		}
		for s := range per {
			at := from.Add(time.Duration(s*days/per)*24*time.Hour + time.Duration(p)*time.Second)
			out = append(out, yearSale(p, m, s, at))
		}
		if (p+m)%10 == 0 { // half of this month's first sale, inside its hold
			out = append(out, yearRefund(p, m, 0, "h", from.Add(2*24*time.Hour+time.Duration(p)*time.Second), true))
		}
		if m > 0 && (p+m)%50 == 1 { // last month's second sale, paid out already
			out = append(out, yearRefund(p, m-1, 1, "w", from.Add(3*24*time.Hour+time.Duration(p)*time.Second), false))
		}
		if m > 0 && (p+m)%200 == 2 { // a sale of last month, stored after its run
			out = append(out, yearSale(p, m-1, per+1, monthStart(m-1).Add(20*24*time.Hour)))
		}
		if (p+m)%500 == 3 {
			out = append(out,
				mustEvent(string(envelope("kyc", fmt.Sprintf("rv-%d-%d", p, m), schemas.TypeKYCRevoked, providerName(p), from.Add(5*24*time.Hour), newData()))),
				mustEvent(string(envelope("kyc", fmt.Sprintf("kv-%d-%d", p, m), schemas.TypeKYCVerified, providerName(p), from.Add(10*24*time.Hour),
					newData().str("stripe_account", fmt.Sprintf("acct_bench%05d", p))))))
		}
	}
	return out
}

func yearSale(p, m, s int, at time.Time) event {
	pr := prices[(p+s)%len(prices)]
	d := newData().str("order_id", fmt.Sprintf("yo-%d-%d-%d", p, m, s)).
		str("buyer_id", fmt.Sprintf("buyer-%d", s)).str("course_id", fmt.Sprintf("course-%d", p)).
		str("gross", pr.gross).str("tax", pr.tax).str("currency", pr.currency)
	return mustEvent(string(envelope("checkout", fmt.Sprintf("ys-%d-%d-%d", p, m, s), schemas.TypeSaleCompleted, providerName(p), at, d)))
}

// yearRefund refunds provider p's sale s of month m: half its gross or all
// of it.
func yearRefund(p, m, s int, tag string, at time.Time, half bool) event {
	pr := prices[(p+s)%len(prices)]
	amount := pr.gross
	if half {
		amount = decimal.RequireFromString(pr.gross).Div(decimal.NewFromInt(2)).RoundDown(2).StringFixed(2)
	}
	d := newData().str("order_id", fmt.Sprintf("yo-%d-%d-%d", p, m, s)).str("refund_id", tag+"-"+strconv.Itoa(m)).
		str("amount", amount).str("currency", pr.currency)
	return mustEvent(string(envelope("checkout", fmt.Sprintf("yr-%s-%d-%d-%d", tag, p, m, s), schemas.TypeRefundIssued, providerName(p), at, d)))
}

// getBalance GETs a balance with key and returns how long the whole
// answer took.
func getBalance(ctx context.Context, addr, key, path string) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("GET %s: reading the answer: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %d: %s", path, resp.StatusCode, body)
	}
	return took, nil
}

// resetPeakRSS resets the peak RSS (VmHWM) of pid to its current RSS.
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}
