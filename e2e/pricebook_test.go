package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tally-billing/tally/daemon"
	"github.com/tally-billing/tally/internal/pricebooktest"
	"github.com/tally-billing/tally/pricebook"
)

// repricedBook writes pricebooktest.Repriced under version to a file and
// returns its path.
func repricedBook(t *testing.T, version string) string {
	t.Helper()
	data, _ := pricebooktest.Repriced(t, version)
	path := filepath.Join(t.TempDir(), version+".json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func oct(day, hour int) time.Time { return time.Date(2026, 10, day, hour, 0, 0, 0, time.UTC) }

// TestLateEventUnderAnEarlierPriceBook: October is billed under the
// shipped book; Tally restarts on the same data with a repriced book (new
// version); a late October event is adjusted at October's prices on the
// November invoice, which is rated at the new prices. A changed book under
// the shipped version is refused at start.
func TestLateEventUnderAnEarlierPriceBook(t *testing.T) {
	shipped := pricebook.Default().Version
	const next = "2027-01-01.1" // not the shipped version
	tl := startTally(t, withClock(time.Date(2026, 11, 2, 2, 0, 0, 0, time.UTC)), withDSN(newDatabase(t)), withDataDir(t.TempDir()))
	events := append([]string{ev("billing", "pb-start", "subscription.started", "tenant-pb", oct(1, 0),
		`{"plan":"team","term":"monthly","currency":"USD"}`)},
		seatEvents("pb-l", "tenant-pb", "learner", 10, oct(2, 0))...)
	tl.mustAccept(len(events), 0, events...)
	tl.waitRows("tenant-pb", 11)
	octInv := tl.closePeriod("2026-10").Invoices
	// Shipped book: base 199.00 + 10 learners × 4.00 = 40.00 → 239.00.
	if len(octInv) != 1 || octInv[0].Total.String() != "239" || octInv[0].PriceBookVersion != shipped {
		t.Fatalf("October: %+v; want one invoice of 239.00 under %s", octInv, shipped)
	}
	cfg := tl.cfg
	tl.stop()

	// The shipped version with other prices is refused: invoices name it.
	changed := cfg
	changed.PriceBook = repricedBook(t, shipped)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if d, err := daemon.Start(ctx, changed); !errors.Is(err, pricebook.ErrVersionConflict) || !strings.Contains(err.Error(), "needs a new version") {
		if err == nil {
			_ = d.Stop(ctx)
		}
		t.Fatalf("start with a changed book under version %s: %v; want ErrVersionConflict", shipped, err)
	}

	cfg.PriceBook = repricedBook(t, next)
	cfg.Now = func() time.Time { return december2 }
	tl = restartTally(t, cfg)
	late := seatEvents("pb-late", "tenant-pb", "learner", 5, oct(20, 0)) // October's peak: 15
	late = append(late, seatEvents("pb-a", "tenant-pb", "author", 2, nov(3, 0))...)
	late = append(late, credits("pb-c", "tenant-pb", nov(5, 0), "6000", "tutor"))
	tl.mustAccept(len(late), 0, late...)
	tl.waitRows("tenant-pb", uint64(len(events)+len(late)))

	tl.closePeriod("2026-11")
	novInv := tl.invoices("tenant-pb", "2026-11")
	if len(novInv) != 1 || novInv[0].PriceBookVersion != next {
		t.Fatalf("November: %+v; want one invoice under %s", novInv, next)
	}
	inv := novInv[0]
	for _, c := range []struct{ kind, item, period, amount string }{
		{"base", "base:team", "2026-11", "249"},          // the new base
		{"seats", "seats:learner", "2026-11", "75"},      // 15 learners (carried over) × 5.00
		{"seats", "seats:author", "2026-11", "30"},       // 2 × 15.00
		{"ai_overage", "ai_overage", "2026-11", "18"},    // (6,000 − 5,000) × 0.018
		{"adjustment", "seats:learner", "2026-10", "20"}, // October at 4.00: 15 × 4.00 − 10 × 4.00
	} {
		if l := line(t, inv, c.kind, c.item); l.Period != c.period || l.Amount.String() != c.amount {
			t.Errorf("November %s %s: period %s amount %s; want %s and %s", c.kind, c.item, l.Period, l.Amount, c.period, c.amount)
		}
	}
	// Nothing else: at the new prices October would also have adjusted
	// its base (+50.00) and its learners (+35.00).
	if len(inv.Lines) != 5 || inv.Total.String() != "392" {
		t.Errorf("November: %d lines, total %s; want 5 lines and 249 + 75 + 30 + 18 + 20 = 392.00: %+v", len(inv.Lines), inv.Total, inv.Lines)
	}
	again := tl.invoices("tenant-pb", "2026-10")
	if len(again) != 1 || again[0].Total.String() != "239" || again[0].PriceBookVersion != shipped || len(again[0].Lines) != len(octInv[0].Lines) {
		t.Errorf("October's finalized invoice changed: %+v", again)
	}
	if n := tl.count("SELECT count() FROM price_books WHERE version IN (?, ?)", shipped, next); n != 2 {
		t.Errorf("%d price_books rows for %s and %s; want one each", n, shipped, next)
	}
}

// TestPriceBooksAreKept runs pricebook.Keep against the ClickHouse table:
// a version is stored once, with its canonical source, and read back.
func TestPriceBooksAreKept(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	shipped := pricebook.Default()
	at := time.Date(2026, 10, 1, 8, 30, 0, 123e6, time.UTC)
	for range 2 {
		if _, err := pricebook.Keep(ctx, store.Invoices(), shipped, at); err != nil {
			t.Fatal(err)
		}
	}
	_, next := pricebooktest.Repriced(t, "v2")
	c, err := pricebook.Keep(ctx, store.Invoices(), next, at.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	records, err := store.Invoices().PriceBooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range records {
		got = append(got, r.Version+" at "+r.At.Format(time.RFC3339Nano))
	}
	if want := []string{shipped.Version + " at 2026-10-01T08:30:00.123Z", "v2 at 2026-10-01T09:30:00.123Z"}; !slices.Equal(got, want) {
		t.Fatalf("stored %q; want %q", got, want)
	}
	if string(records[0].Source) != string(shipped.Source()) {
		t.Errorf("stored source of %s is not the book's canonical source", shipped.Version)
	}
	old, err := c.Version(shipped.Version)
	if err != nil || old.Plans["team"].Base["USD"].String() != "199" {
		t.Fatalf("the shipped version read back: %v", err)
	}
	_, sameAsShipped := pricebooktest.Edited(t, [2]string{shipped.Version, "v2"})
	if _, err := pricebook.Keep(ctx, store.Invoices(), sameAsShipped, at); !errors.Is(err, pricebook.ErrVersionConflict) {
		t.Errorf("v2 with the shipped prices: %v; want ErrVersionConflict", err)
	}
}
