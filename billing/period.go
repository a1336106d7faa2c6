package billing

import (
	"time"

	"github.com/tally-billing/tally/aggregators/rating"
)

// Period is a calendar month in UTC, the unit of billing.
type Period = rating.Period

// ParsePeriod parses "YYYY-MM".
func ParsePeriod(s string) (Period, error) { return rating.ParsePeriod(s) }

// PeriodOf is the period containing t.
func PeriodOf(t time.Time) Period { return rating.PeriodOf(t) }

// prevPeriod is the period before p.
func prevPeriod(p Period) Period { return PeriodOf(p.Start().AddDate(0, -1, 0)) }
