package rating

import (
	"fmt"
	"time"
)

// Period is a billing period: a calendar month in UTC.
type Period struct {
	Year  int
	Month time.Month
}

// PeriodOf returns the period containing t.
func PeriodOf(t time.Time) Period {
	t = t.UTC()
	return Period{Year: t.Year(), Month: t.Month()}
}

// ParsePeriod parses "YYYY-MM" (years 2000–9999).
func ParsePeriod(s string) (Period, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil || len(s) != 7 || t.Year() < 2000 {
		return Period{}, fmt.Errorf("parsing period %q: want YYYY-MM from 2000-01: %w", s, ErrBadPeriod)
	}
	return PeriodOf(t), nil
}

// Start is the first instant of the period.
func (p Period) Start() time.Time { return time.Date(p.Year, p.Month, 1, 0, 0, 0, 0, time.UTC) }

// End is the first instant after the period (the next period's Start).
func (p Period) End() time.Time { return p.Start().AddDate(0, 1, 0) }

// Next is the following period.
func (p Period) Next() Period { return PeriodOf(p.End()) }

// Before reports whether p is earlier than q.
func (p Period) Before(q Period) bool { return p.Start().Before(q.Start()) }

// String is "YYYY-MM".
func (p Period) String() string { return fmt.Sprintf("%04d-%02d", p.Year, int(p.Month)) }
