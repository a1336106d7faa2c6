package pricebook

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"
)

// Catalog is every price book version Tally has run with (SPEC §5 "Every
// price book version stays"): the current book, which rates open periods,
// and the earlier ones, which re-rate a closed month with the version its
// invoice was billed under. Read-only once built.
type Catalog struct {
	current *Book
	books   map[string]*Book
	// unusable are stored versions that cannot be used, with why: a
	// source that no longer parses, or two sources for one version.
	unusable map[string]error
}

// NewCatalog returns the catalog of current and the earlier books. Two
// books with one version and different sources are refused with an error
// wrapping [ErrVersionConflict]; the same book twice is one version.
func NewCatalog(current *Book, earlier ...*Book) (*Catalog, error) {
	if current == nil {
		return nil, fmt.Errorf("building the price book catalog: the current book is required: %w", ErrInvalid)
	}
	c := &Catalog{current: current, books: map[string]*Book{current.Version: current}, unusable: map[string]error{}}
	for _, b := range earlier {
		have, ok := c.books[b.Version]
		switch {
		case !ok:
			c.books[b.Version] = b
		case !bytes.Equal(have.source, b.source):
			return nil, fmt.Errorf("building the price book catalog: version %s: %w", b.Version, ErrVersionConflict)
		}
	}
	return c, nil
}

// Current returns the book Tally runs with now.
func (c *Catalog) Current() *Book { return c.current }

// Version returns the book with the given version. An error wraps
// [ErrUnknownVersion] for a version the catalog does not hold, or says
// why a stored version cannot be used.
func (c *Catalog) Version(version string) (*Book, error) {
	if b, ok := c.books[version]; ok {
		return b, nil
	}
	if err, ok := c.unusable[version]; ok {
		return nil, fmt.Errorf("price book %s is stored but cannot be used: %w", version, err)
	}
	return nil, fmt.Errorf("price book %s: %w (known: %v)", version, ErrUnknownVersion, c.Versions())
}

// Versions returns the versions the catalog can give, sorted.
func (c *Catalog) Versions() []string {
	out := make([]string, 0, len(c.books))
	for v := range c.books {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// Record is one price book as an [Archive] keeps it.
type Record struct {
	Version string
	Source  []byte    // the canonical source, [Book.Source]
	At      time.Time // when Tally first started with it
}

// Archive keeps every price book Tally starts with. It must keep every
// record saved, two of one version included (two replicas starting at
// once), so that a conflict shows instead of one record hiding another.
type Archive interface {
	// PriceBooks returns every record saved.
	PriceBooks(ctx context.Context) ([]Record, error)
	// SavePriceBook saves a record.
	SavePriceBook(ctx context.Context, r Record) error
}

// Keep archives current, unless its version is archived already, and
// returns the catalog of every archived version with current as the
// current book. At start, in order: read the archive; refuse current if
// its version was archived with another source (an error wrapping
// [ErrVersionConflict]: give the changed book a new version); save it at
// now if it is new; load every other archived version. An archived
// version that no longer parses, or has two sources, does not stop Tally:
// the catalog reports it, with the reason, when a close needs it.
func Keep(ctx context.Context, a Archive, current *Book, now time.Time) (*Catalog, error) {
	records, err := a.PriceBooks(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the stored price books: %w", err)
	}
	byVersion := map[string][]Record{}
	for _, r := range records {
		byVersion[r.Version] = append(byVersion[r.Version], r)
	}
	if stored := byVersion[current.Version]; len(stored) > 0 {
		for _, r := range stored {
			if !bytes.Equal(r.Source, current.source) {
				return nil, fmt.Errorf("starting with price book %s: Tally ran with another book of that version since %s; "+
					"invoices name the version they were billed with, so a changed book needs a new version: %w",
					current.Version, r.At.UTC().Format(time.RFC3339), ErrVersionConflict)
			}
		}
	} else if err := a.SavePriceBook(ctx, Record{Version: current.Version, Source: current.Source(), At: now.UTC()}); err != nil {
		return nil, fmt.Errorf("storing price book %s: %w", current.Version, err)
	}
	c, err := NewCatalog(current)
	if err != nil {
		return nil, err
	}
	for version, rs := range byVersion {
		if version == current.Version {
			continue
		}
		if b, err := fromRecords(version, rs); err != nil {
			c.unusable[version] = err
		} else {
			c.books[version] = b
		}
	}
	return c, nil
}

// fromRecords parses the archived records of one version.
func fromRecords(version string, rs []Record) (*Book, error) {
	for _, r := range rs[1:] {
		if !bytes.Equal(r.Source, rs[0].Source) {
			return nil, fmt.Errorf("stored twice with different content: %w", ErrVersionConflict)
		}
	}
	b, err := parseArchived(rs[0].Source)
	if err != nil {
		return nil, fmt.Errorf("parsing the stored source: %w", err)
	}
	if b.Version != version {
		return nil, fmt.Errorf("the stored source is version %q: %w", b.Version, ErrInvalid)
	}
	return b, nil
}
