package rating_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/aggregators"
	"github.com/tally-billing/tally/aggregators/rating"
)

// BenchmarkRateMonth rates one business tenant-month: a plan change, 400
// seat events, a year of daily credit rows and 6 packs.
func BenchmarkRateMonth(b *testing.B) {
	subs := []rating.SubscriptionChange{start("2025-11-01", "team", monthly), chg("2026-11-11T08:30:00Z", "business", monthly, addons("data_residency"))}
	var u rating.Usage
	for i := 0; i < 200; i++ {
		at := ts("2026-10-01").Add(time.Duration(i) * 5 * time.Hour)
		user := fmt.Sprintf("u%d", i%150)
		u.Seats = append(u.Seats,
			aggregators.SeatEvent{Time: at, Assigned: true, UserID: user, SeatType: "learner"},
			aggregators.SeatEvent{Time: at.Add(90 * time.Hour), Assigned: false, UserID: user, SeatType: "learner"})
	}
	for day := 0; day < 365; day++ {
		u.Credits = append(u.Credits, rating.CreditUsage{At: ts("2025-12-01").AddDate(0, 0, day), Credits: decimal.New(int64(250_000+day*37), -1)})
	}
	for i := 0; i < 6; i++ {
		u.Packs = append(u.Packs, rating.PackPurchase{At: ts("2026-01-15").AddDate(0, 2*i, 0), PackID: fmt.Sprintf("p%d", i), Credits: d("10000"), Price: d("120.00"), Currency: cur("USD")})
	}
	p := per("2026-11")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rating.RateMonth(book, "tenant", subs, u, p); err != nil {
			b.Fatal(err)
		}
	}
}
