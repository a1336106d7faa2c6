package rating_test

import (
	"errors"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/tally-billing/tally/aggregators/rating"
)

// periodSyntax is "YYYY-MM" written independently of the time package.
var periodSyntax = regexp.MustCompile(`^([0-9]{4})-(0[1-9]|1[0-2])$`)

// FuzzParsePeriod checks ParsePeriod (the period of the API's ?period=,
// POST /v1/periods/{period}/close and the CLI) against an oracle: it
// accepts exactly "YYYY-MM" with a year from 2000 and a month 01–12, and
// an accepted period prints back as the input and spans one calendar
// month in UTC. Every rejection wraps ErrBadPeriod.
func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{
		"2026-11", "2000-01", "9999-12", "1999-12", "2026-13", "2026-00", "2026-1", "26-11",
		"2026-11-01", "2026/11", " 2026-11", "2026-11\n", "+2026-11", "２０２６-11", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := rating.ParsePeriod(s)
		m := periodSyntax.FindStringSubmatch(s)
		valid := false
		if m != nil {
			year, _ := strconv.Atoi(m[1])
			valid = year >= 2000
		}
		if err != nil {
			if valid {
				t.Fatalf("ParsePeriod(%q) rejected a valid period: %v", s, err)
			}
			if !errors.Is(err, rating.ErrBadPeriod) {
				t.Fatalf("ParsePeriod(%q): %v does not wrap ErrBadPeriod", s, err)
			}
			return
		}
		if !valid {
			t.Fatalf("ParsePeriod(%q) = %v; want an error", s, p)
		}
		if p.String() != s {
			t.Fatalf("ParsePeriod(%q).String() = %q", s, p.String())
		}
		start, end := p.Start(), p.End()
		if start.Location() != time.UTC || start.Day() != 1 || start.Hour() != 0 ||
			end.Sub(start) < 28*24*time.Hour || end.Sub(start) > 31*24*time.Hour || p.Next().Start() != end {
			t.Fatalf("period %s spans [%v, %v)", s, start, end)
		}
		if rating.PeriodOf(end.Add(-time.Nanosecond)) != p || rating.PeriodOf(start) != p {
			t.Fatalf("PeriodOf does not map %s's own instants back to it", s)
		}
	})
}
