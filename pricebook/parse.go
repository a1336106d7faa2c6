package pricebook

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

//go:embed pricebook.json
var defaultBook []byte

// Default returns the price book shipped with Tally (pricebook.json in this
// package's directory), freshly parsed: callers may not share mutations.
// The embedded file is validated by this package's tests, so Default
// panics only on a build that skipped them.
func Default() *Book {
	b, err := Parse(defaultBook)
	if err != nil {
		panic("pricebook: embedded pricebook.json: " + err.Error())
	}
	return b
}

// DefaultJSON returns a copy of the embedded price book file.
func DefaultJSON() []byte { return bytes.Clone(defaultBook) }

// Load reads and validates the price book file at path.
func Load(path string) (*Book, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading price book: %w", err)
	}
	b, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("loading price book %s: %w", path, err)
	}
	return b, nil
}

// The file format. Numbers are decimal strings; unknown fields are
// rejected.
type fileBook struct {
	Version     string               `json:"version"`
	Currencies  []string             `json:"currencies"`
	Plans       map[string]filePlan  `json:"plans"`
	Addons      map[string]fileAddon `json:"addons"`
	Terms       map[string]fileTerm  `json:"terms"`
	Marketplace *fileMarketplace     `json:"marketplace"`
}

type filePlan struct {
	Base   map[string]string   `json:"base"`
	Seats  map[string]fileSeat `json:"seats"`
	Limits []fileLimit         `json:"limits"`
	AI     *fileAI             `json:"ai"`
	// The fields below came with the entitlement matrix; omitempty keeps
	// the canonical source of a book archived before them unchanged.
	Entitlements map[string]string `json:"entitlements,omitempty"`
	Terms        []string          `json:"terms,omitempty"` // absent: every term of the book
	Flat         *fileFlat         `json:"flat,omitempty"`
}

type fileFlat struct {
	Price  map[string]string `json:"price"`
	Months string            `json:"months"`
}

type fileSeat struct {
	Included string            `json:"included"`
	Price    map[string]string `json:"price"`
}

type fileLimit struct {
	SeatTypes []string `json:"seat_types"`
	Max       string   `json:"max"`
}

type fileAI struct {
	IncludedCredits string            `json:"included_credits"`
	OveragePrice    map[string]string `json:"overage_price"`
}

type fileAddon struct {
	Price map[string]string `json:"price"`
	Plans []string          `json:"plans"` // absent: every plan
}

type fileTerm struct {
	Discount string `json:"discount"`
}

type fileMarketplace struct {
	PlatformFee      string            `json:"platform_fee"`
	RefundWindowDays string            `json:"refund_window_days"`
	MinimumPayout    map[string]string `json:"minimum_payout"`
	PayoutSchedule   string            `json:"payout_schedule"`
}

// Parse decodes and validates a price book. Errors wrap [ErrInvalid]; the
// first problem found (in a fixed order: fields in file-format order, map
// keys sorted) is reported as a [*FieldError]. Every plan must carry its
// row of the entitlement matrix.
func Parse(data []byte) (*Book, error) { return parse(data, false) }

// parseArchived is [Parse] for a version [Keep] read back from the
// archive: a book from before the entitlement matrix (no plan has
// "entitlements") is accepted too, its add-ons sold where their "plans"
// lists say, so that the months billed under it can still be re-rated.
func parseArchived(data []byte) (*Book, error) { return parse(data, true) }

func parse(data []byte, archived bool) (*Book, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f fileBook
	err := dec.Decode(&f)
	if err != nil {
		return nil, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &FieldError{Message: "unexpected data after the top-level object"}
	}
	v := validator{archived: archived}
	b := v.book(&f)
	if v.err != nil {
		return nil, v.err
	}
	// The canonical source: the decoded file written back, compact, with
	// map keys sorted. Whitespace and key order do not change it; every
	// value (decimal literals included, "50.00" is not "50.0") does.
	if b.source, err = json.Marshal(&f); err != nil {
		return nil, &FieldError{Message: "encoding the canonical source: " + err.Error()}
	}
	return b, nil
}

func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		msg := fmt.Sprintf("must be %s, got a JSON %s", jsonKind(te.Type.String()), te.Value)
		if te.Value == "number" {
			msg = "must be a decimal string, not a JSON number"
		}
		return &FieldError{Path: te.Field, Message: msg}
	}
	if strings.HasPrefix(err.Error(), "json: unknown field") {
		return &FieldError{Message: strings.TrimPrefix(err.Error(), "json: ")}
	}
	return &FieldError{Message: "decoding JSON: " + err.Error()}
}

func jsonKind(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	default:
		return "an object"
	}
}
