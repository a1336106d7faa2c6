package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tally-billing/tally/pricebook"
)

// TestRunRefusesABookLeavingACurrencyUnpaid: a price book whose minimum
// payout covers only USD, EUR and JPY is refused at start, before anything
// runs, with the problem and the fix.
func TestRunRefusesABookLeavingACurrencyUnpaid(t *testing.T) {
	book := strings.Replace(string(pricebook.DefaultJSON()), `"default": "50",`, "", 1)
	if book == string(pricebook.DefaultJSON()) {
		t.Fatal("the shipped book has no default minimum payout to take out")
	}
	path := filepath.Join(t.TempDir(), "book.json")
	if err := os.WriteFile(path, []byte(book), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := runTally(t, "run", "--price-book", path, "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0")
	for _, want := range []string{path, "marketplace.minimum_payout", "no minimum payout for", `add a "default" entry`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("run --price-book without a default minimum payout: %v; want an error with %q", err, want)
		}
	}
	if !errors.Is(err, pricebook.ErrInvalid) {
		t.Errorf("error %v does not wrap pricebook.ErrInvalid", err)
	}
}
