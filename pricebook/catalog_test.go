package pricebook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/pricebook"
)

// memArchive is an in-memory pricebook.Archive that keeps every record
// saved, as the ClickHouse table does.
type memArchive struct {
	records []pricebook.Record
	saves   int
	readErr error
	saveErr error
}

func (a *memArchive) PriceBooks(context.Context) ([]pricebook.Record, error) {
	return a.records, a.readErr
}

func (a *memArchive) SavePriceBook(_ context.Context, r pricebook.Record) error {
	if a.saveErr != nil {
		return a.saveErr
	}
	a.saves++
	a.records = append(a.records, r)
	return nil
}

var (
	october = time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC)
	january = time.Date(2027, 1, 1, 8, 0, 0, 0, time.UTC)
)

// repriced is the shipped book under a new version with team at 249.00
// and its learner seat at 5.00 USD.
func repriced(t *testing.T, version string) *pricebook.Book {
	t.Helper()
	b, err := pricebook.Parse(mutate(t, func(m map[string]any) {
		m["version"] = version
		obj(m, "plans", "team", "base")["USD"] = "249.00"
		obj(m, "plans", "team", "seats", "learner", "price")["USD"] = "5.00"
	}))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func learnerUSD(t *testing.T, b *pricebook.Book) string {
	t.Helper()
	p, err := b.PlanIn("team", currency(t, "USD"))
	if err != nil {
		t.Fatal(err)
	}
	return money.FormatDecimal(p.Seats["learner"].Price)
}

// TestKeep follows one database through three starts: the shipped book,
// the same book again, then a repriced book with a new version.
func TestKeep(t *testing.T) {
	ctx := context.Background()
	a := &memArchive{}
	shipped := pricebook.Default()

	c, err := pricebook.Keep(ctx, a, shipped, october)
	if err != nil {
		t.Fatal(err)
	}
	if a.saves != 1 || a.records[0].Version != shipped.Version || !bytes.Equal(a.records[0].Source, shipped.Source()) || !a.records[0].At.Equal(october) {
		t.Fatalf("first start saved %d records: %+v", a.saves, a.records)
	}
	if c.Current() != shipped {
		t.Error("the current book is not the one started with")
	}

	// A restart with the same book (another parse of it) saves nothing.
	if _, err := pricebook.Keep(ctx, a, pricebook.Default(), january); err != nil || a.saves != 1 {
		t.Fatalf("restart with the same book: %v, %d saves", err, a.saves)
	}

	next := repriced(t, "2027-01-01.1")
	c, err = pricebook.Keep(ctx, a, next, january)
	if err != nil {
		t.Fatal(err)
	}
	if a.saves != 2 || c.Current() != next {
		t.Fatalf("new version: %d saves, current %s", a.saves, c.Current().Version)
	}
	if got := strings.Join(c.Versions(), " "); got != shipped.Version+" 2027-01-01.1" {
		t.Errorf("versions %q", got)
	}
	old, err := c.Version(shipped.Version)
	if err != nil {
		t.Fatal(err)
	}
	// The earlier version keeps its own prices: 4.00 then, 5.00 now.
	if learnerUSD(t, old) != "4.00" || learnerUSD(t, c.Current()) != "5.00" {
		t.Errorf("team learner: %s in %s, %s now; want 4.00 and 5.00", learnerUSD(t, old), old.Version, learnerUSD(t, c.Current()))
	}
	if got, err := c.Version("2027-01-01.1"); err != nil || got != next {
		t.Errorf("Version(current) = %v, %v", got, err)
	}
	if _, err := c.Version("1999-01-01.1"); !errors.Is(err, pricebook.ErrUnknownVersion) {
		t.Errorf("a version never run: %v; want ErrUnknownVersion", err)
	}
}

// TestKeepRefusesAChangedBookUnderAnOldVersion: the shipped version with
// one price changed is refused, and nothing is stored.
func TestKeepRefusesAChangedBookUnderAnOldVersion(t *testing.T) {
	ctx := context.Background()
	a := &memArchive{}
	if _, err := pricebook.Keep(ctx, a, pricebook.Default(), october); err != nil {
		t.Fatal(err)
	}
	changed := repriced(t, pricebook.Default().Version)
	_, err := pricebook.Keep(ctx, a, changed, january)
	if !errors.Is(err, pricebook.ErrVersionConflict) || !strings.Contains(err.Error(), "needs a new version") ||
		!strings.Contains(err.Error(), "since 2026-10-01T08:00:00Z") {
		t.Fatalf("changed book, same version: %v; want ErrVersionConflict saying when and what to do", err)
	}
	if a.saves != 1 {
		t.Errorf("%d saves; the refused book must not be stored", a.saves)
	}
}

// TestKeepReportsUnusableVersions: a stored version that cannot be used
// does not stop Tally; it is reported when asked for, with the reason.
func TestKeepReportsUnusableVersions(t *testing.T) {
	ctx := context.Background()
	v1, v1b := repriced(t, "v1"), mustParse(t, mutate(t, func(m map[string]any) { m["version"] = "v1" }))
	a := &memArchive{records: []pricebook.Record{
		{Version: "broken", Source: []byte(`{"version":"broken"}`), At: october},
		{Version: "twice", Source: repriced(t, "twice").Source(), At: october},
		{Version: "twice", Source: mustParse(t, mutate(t, func(m map[string]any) { m["version"] = "twice" })).Source(), At: october},
		{Version: "renamed", Source: v1.Source(), At: october},
		{Version: "v1", Source: v1b.Source(), At: october},
	}}
	c, err := pricebook.Keep(ctx, a, pricebook.Default(), january)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		version string
		want    error
		msg     string
	}{
		{"broken", pricebook.ErrInvalid, "parsing the stored source"},
		{"twice", pricebook.ErrVersionConflict, "stored twice"},
		{"renamed", pricebook.ErrInvalid, `stored source is version "v1"`},
	} {
		_, err := c.Version(tc.version)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), "is stored but cannot be used") || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Version(%s) = %v; want %v mentioning %q", tc.version, err, tc.want, tc.msg)
		}
	}
	if b, err := c.Version("v1"); err != nil || learnerUSD(t, b) != "4.00" {
		t.Errorf("Version(v1) = %v, %v", b, err)
	}
}

func TestKeepStoreErrors(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("clickhouse is down")
	if _, err := pricebook.Keep(ctx, &memArchive{readErr: boom}, pricebook.Default(), october); !errors.Is(err, boom) {
		t.Errorf("read error: %v", err)
	}
	if _, err := pricebook.Keep(ctx, &memArchive{saveErr: boom}, pricebook.Default(), october); !errors.Is(err, boom) {
		t.Errorf("save error: %v", err)
	}
}

func TestNewCatalog(t *testing.T) {
	v1 := repriced(t, "v1")
	c, err := pricebook.NewCatalog(pricebook.Default(), v1, repriced(t, "v1"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Versions(), " "); got != pricebook.Default().Version+" v1" {
		t.Errorf("versions %q", got)
	}
	other := mustParse(t, mutate(t, func(m map[string]any) { m["version"] = "v1" }))
	if _, err := pricebook.NewCatalog(pricebook.Default(), v1, other); !errors.Is(err, pricebook.ErrVersionConflict) {
		t.Errorf("two books of v1: %v; want ErrVersionConflict", err)
	}
	if _, err := pricebook.NewCatalog(nil); !errors.Is(err, pricebook.ErrInvalid) {
		t.Errorf("no current book: %v", err)
	}
}

// TestSourceIsCanonical: layout and key order do not change the source;
// any value does; the source parses back to itself.
func TestSourceIsCanonical(t *testing.T) {
	shipped := pricebook.Default()
	var generic map[string]any
	if err := json.Unmarshal(pricebook.DefaultJSON(), &generic); err != nil {
		t.Fatal(err)
	}
	compact, err := json.Marshal(generic) // keys sorted, no whitespace
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(compact, pricebook.DefaultJSON()) {
		t.Fatal("the test needs a different layout")
	}
	if !bytes.Equal(mustParse(t, compact).Source(), shipped.Source()) {
		t.Error("re-laid-out file has another source")
	}
	again := mustParse(t, shipped.Source())
	if !bytes.Equal(again.Source(), shipped.Source()) || again.Version != shipped.Version {
		t.Error("the source does not parse back to itself")
	}
	scale := mustParse(t, mutate(t, func(m map[string]any) { obj(m, "plans", "team", "base")["USD"] = "199.0" }))
	if bytes.Equal(scale.Source(), shipped.Source()) {
		t.Error(`"199.0" and "199.00" share a source`)
	}
	s := shipped.Source()
	s[0] = 'x'
	if shipped.Source()[0] != '{' {
		t.Error("Source returns the book's own bytes")
	}
}

func mustParse(t *testing.T, data []byte) *pricebook.Book {
	t.Helper()
	b, err := pricebook.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
