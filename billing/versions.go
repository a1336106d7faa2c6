package billing

import (
	"fmt"

	"github.com/tally-billing/tally/pricebook"
)

// PriceBooks gives the price book of a version (pricebook.Catalog
// implements it).
type PriceBooks interface {
	// Version returns the book with the given version, or an error
	// saying why there is none (never a nil book without an error).
	Version(version string) (*pricebook.Book, error)
}

// bookOf returns the price book inv was billed under, or an error wrapping
// ErrUnknownPriceBook.
func (s *Service) bookOf(inv Invoice) (*pricebook.Book, error) {
	if inv.PriceBookVersion == s.cfg.Book.Version {
		return s.cfg.Book, nil
	}
	if s.cfg.Books == nil {
		return nil, fmt.Errorf("%w: invoice %s was billed under price book %s, and only %s is loaded",
			ErrUnknownPriceBook, inv.ID, inv.PriceBookVersion, s.cfg.Book.Version)
	}
	b, err := s.cfg.Books.Version(inv.PriceBookVersion)
	if err != nil {
		return nil, fmt.Errorf("%w: invoice %s: %w", ErrUnknownPriceBook, inv.ID, err)
	}
	return b, nil
}
