package rating_test

import (
	"errors"
	"testing"

	"github.com/tally-billing/tally/aggregators"
	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

const (
	monthly = schemas.TermMonthly
	annual  = schemas.TermAnnual
	multi   = schemas.TermMultiYear
	learner = schemas.SeatLearner
	author  = schemas.SeatAuthor
)

// Every expected number below is worked by hand from SPEC §2–3; the
// arithmetic is in the comments. November 2026 has 30 days (2,592,000 s),
// October 2026 31 days.
func TestRateMonth(t *testing.T) {
	tests := []struct {
		name     string
		subs     []rating.SubscriptionChange
		usage    rating.Usage
		period   string
		total    string
		lines    []wantLine
		unbilled string // credits outside subscribed time; "" = 0
	}{
		// Each plan, a full month, no usage: the base fee.
		{name: "starter base", subs: []rating.SubscriptionChange{start("2026-11-01", "starter", monthly)}, period: "2026-11",
			total: "49.00", lines: []wantLine{{"base:starter", "1", "49.00", "49.00", ""}}},
		{name: "team base", subs: []rating.SubscriptionChange{start("2026-10-15", "team", monthly)}, period: "2026-11",
			total: "199.00", lines: []wantLine{{"base:team", "1", "199.00", "199.00", ""}}},
		{name: "business base", subs: []rating.SubscriptionChange{start("2026-11-01", "business", monthly)}, period: "2026-11",
			total: "499.00", lines: []wantLine{{"base:business", "1", "499.00", "499.00", ""}}},
		{name: "enterprise base", subs: []rating.SubscriptionChange{start("2026-11-01", "enterprise", monthly)}, period: "2026-11",
			total: "1999.00", lines: []wantLine{{"base:enterprise", "1", "1999.00", "1999.00", ""}}},
		{name: "enterprise_plus base", subs: []rating.SubscriptionChange{start("2026-11-01", "enterprise_plus", monthly)}, period: "2026-11",
			total: "4999.00", lines: []wantLine{{"base:enterprise_plus", "1", "4999.00", "4999.00", ""}}},
		{name: "healthcare base", subs: []rating.SubscriptionChange{start("2026-11-01", "healthcare", monthly)}, period: "2026-11",
			total: "5999.00", lines: []wantLine{{"base:healthcare", "1", "5999.00", "5999.00", ""}}},

		// Included seats and allowance; limits.
		{
			// 12 learners − 10 included = 2 × 5.00 = 10.00, over the limit
			// of 10; 1 author = 1 included; 1,500 − 1,000 = 500 × 0.020 =
			// 10.00. 49 + 10 + 10 = 69.00.
			name: "starter included seats and limit",
			subs: []rating.SubscriptionChange{start("2026-11-01", "starter", monthly)},
			usage: rating.Usage{
				Seats:   join(seats("2026-11-02", learner, "l", 12), seats("2026-11-02", author, "a", 1)),
				Credits: []rating.CreditUsage{credits("2026-11-03", "1500")},
			},
			period: "2026-11", total: "69.00",
			lines: []wantLine{
				{"base:starter", "1", "49.00", "49.00", ""},
				{"seats:learner", "2", "5.00", "10.00", "over_limit"},
				{"ai_overage", "500", "0.020", "10.00", ""},
			},
		},
		{
			// 51 learners × 4.00 = 204.00 over the limit of 50; 5 authors
			// × 15.00 = 75.00 at the limit, not over. 199 + 204 + 75 = 478.00.
			name:   "team limit",
			subs:   []rating.SubscriptionChange{start("2026-11-01", "team", monthly)},
			usage:  rating.Usage{Seats: join(seats("2026-11-02", learner, "l", 51), seats("2026-11-02", author, "a", 5))},
			period: "2026-11", total: "478.00",
			lines: []wantLine{
				{"base:team", "1", "199.00", "199.00", ""},
				{"seats:learner", "51", "4.00", "204.00", "over_limit"},
				{"seats:author", "5", "15.00", "75.00", ""},
			},
		},
		{
			// 200 learners + 60 authors at once = 260 > 250 shared: both
			// lines flagged. 200 × 6 = 1,200.00; 60 × 20 = 1,200.00.
			// 499 + 2,400 = 2,899.00.
			name:   "business shared limit exceeded",
			subs:   []rating.SubscriptionChange{start("2026-11-01", "business", monthly)},
			usage:  rating.Usage{Seats: join(seats("2026-11-02", learner, "l", 200), seats("2026-11-03", author, "a", 60))},
			period: "2026-11", total: "2899.00",
			lines: []wantLine{
				{"base:business", "1", "499.00", "499.00", ""},
				{"seats:learner", "200", "6.00", "1200.00", "over_limit"},
				{"seats:author", "60", "20.00", "1200.00", "over_limit"},
			},
		},
		{
			// 240 learners Nov 2–10, then 100 authors from Nov 15: peaks
			// 240 and 100, but never more than 240 at once ≤ 250: no flag.
			// 240 × 6 = 1,440.00; 100 × 20 = 2,000.00; 499 + 3,440 = 3,939.00.
			name: "business shared limit counts seats held at the same time",
			subs: []rating.SubscriptionChange{start("2026-11-01", "business", monthly)},
			usage: rating.Usage{Seats: join(
				seats("2026-11-02", learner, "l", 240), release("2026-11-10", learner, "l", 240),
				seats("2026-11-15", author, "a", 100))},
			period: "2026-11", total: "3939.00",
			lines: []wantLine{
				{"base:business", "1", "499.00", "499.00", ""},
				{"seats:learner", "240", "6.00", "1440.00", ""},
				{"seats:author", "100", "20.00", "2000.00", ""},
			},
		},
		{
			// No limit on enterprise: 1,000 × 8.00 = 8,000.00; 1,999 + 8,000.
			name:   "enterprise has no limit",
			subs:   []rating.SubscriptionChange{start("2026-11-01", "enterprise", monthly)},
			usage:  rating.Usage{Seats: seats("2026-11-02", learner, "l", 1000)},
			period: "2026-11", total: "9999.00",
			lines: []wantLine{
				{"base:enterprise", "1", "1999.00", "1999.00", ""},
				{"seats:learner", "1000", "8.00", "8000.00", ""},
			},
		},
		{
			// Release and assignment at one instant: no transient peak of 3.
			name: "releases before assignments at one instant",
			subs: []rating.SubscriptionChange{start("2026-11-01", "team", monthly)},
			usage: rating.Usage{Seats: join(seats("2026-11-02", learner, "x", 2), release("2026-11-05", learner, "x", 1),
				[]aggregators.SeatEvent{{Time: ts("2026-11-05"), Assigned: true, UserID: "y", SeatType: "learner"}})},
			period: "2026-11", total: "207.00",
			lines: []wantLine{{"base:team", "1", "199.00", "199.00", ""}, {"seats:learner", "2", "4.00", "8.00", ""}},
		},
		{
			// Seats held since October carry into November.
			name:   "seat state carries over",
			subs:   []rating.SubscriptionChange{start("2026-10-01", "team", monthly)},
			usage:  rating.Usage{Seats: seats("2026-10-03", author, "a", 3)},
			period: "2026-11", total: "244.00",
			lines: []wantLine{{"base:team", "1", "199.00", "199.00", ""}, {"seats:author", "3", "15.00", "45.00", ""}},
		},

		// Proration by exact seconds.
		{
			// Team Nov 1–11 (10 of 30 days): 199 × 1/3 = 66.333… → 66.33;
			// business Nov 11–Dec 1 (20 of 30): 499 × 2/3 = 332.666… →
			// 332.67. Seats at the business price (end of the month): 15 ×
			// 6.00 = 90.00. 20,000 credits < 25,000. Total 489.00.
			name: "upgrade mid-month",
			subs: []rating.SubscriptionChange{start("2026-11-01", "team", monthly), chg("2026-11-11", "business", monthly)},
			usage: rating.Usage{
				Seats:   seats("2026-11-02", learner, "l", 15),
				Credits: []rating.CreditUsage{credits("2026-11-05", "20000")},
			},
			period: "2026-11", total: "489.00",
			lines: []wantLine{
				{"base:team", "0.333333333", "199.00", "66.33", ""},
				{"base:business", "0.666666667", "499.00", "332.67", ""},
				{"seats:learner", "15", "6.00", "90.00", ""},
			},
		},
		{
			// Business 20 of 30 days: 332.67; team 10 of 30: 66.33. Usage
			// rated on team (end of month): 6,000 − 5,000 = 1,000 × 0.018 =
			// 18.00. Total 417.00.
			name:   "downgrade mid-month",
			subs:   []rating.SubscriptionChange{start("2026-11-01", "business", monthly), chg("2026-11-21", "team", monthly)},
			usage:  rating.Usage{Credits: []rating.CreditUsage{credits("2026-11-05", "6000")}},
			period: "2026-11", total: "417.00",
			lines: []wantLine{
				{"base:business", "0.666666667", "499.00", "332.67", ""},
				{"base:team", "0.333333333", "199.00", "66.33", ""},
				{"ai_overage", "1000", "0.018", "18.00", ""},
			},
		},
		{
			// Canceled Nov 16 12:00: 15.5 of 30 days = 1,339,200 s of
			// 2,592,000 s; 199 × 15.5/30 = 102.8166… → 102.82. Seats: 10
			// before, 20 more after the cancellation (not counted): 10 ×
			// 4 = 40.00. Credits: 6,000 before → 1,000 × 0.018 = 18.00;
			// 3,000 after: unbilled. Total 160.82.
			name: "cancel mid-month",
			subs: []rating.SubscriptionChange{start("2026-11-01", "team", monthly), cancel("2026-11-16T12:00:00Z")},
			usage: rating.Usage{
				Seats:   join(seats("2026-11-02", learner, "l", 10), seats("2026-11-20", learner, "m", 20)),
				Credits: []rating.CreditUsage{credits("2026-11-10", "6000"), credits("2026-11-25", "3000")},
			},
			period: "2026-11", total: "160.82", unbilled: "3000",
			lines: []wantLine{
				{"base:team", "0.516666667", "199.00", "102.82", ""},
				{"seats:learner", "10", "4.00", "40.00", ""},
				{"ai_overage", "1000", "0.018", "18.00", ""},
			},
		},
		{
			// Started Nov 21: 10 of 30 days, 66.33. Credits of Nov 5 are
			// before the subscription: unbilled; the allowance is whole
			// (never prorated): 4,000 < 5,000.
			name:   "start mid-month",
			subs:   []rating.SubscriptionChange{start("2026-11-21", "team", monthly)},
			usage:  rating.Usage{Credits: []rating.CreditUsage{credits("2026-11-05", "2500"), credits("2026-11-22", "4000")}},
			period: "2026-11", total: "66.33", unbilled: "2500",
			lines: []wantLine{{"base:team", "0.333333333", "199.00", "66.33", ""}},
		},
		{
			// Canceled Nov 6, restarted Nov 26 on the same plan: 5 + 5 of
			// 30 days on one line: 199 × 1/3 = 66.33. Seats: 8 before the
			// gap, 20 during it (not counted), 5 after → peak 8 × 4 = 32.00.
			name: "cancel and restart in one month",
			subs: []rating.SubscriptionChange{start("2026-11-01", "team", monthly), cancel("2026-11-06"), start("2026-11-26", "team", monthly)},
			usage: rating.Usage{Seats: join(seats("2026-11-02", learner, "l", 8), release("2026-11-10", learner, "l", 8),
				seats("2026-11-12", learner, "m", 20), release("2026-11-20", learner, "m", 15))},
			period: "2026-11", total: "98.33",
			lines: []wantLine{{"base:team", "0.333333333", "199.00", "66.33", ""}, {"seats:learner", "8", "4.00", "32.00", ""}},
		},
		{
			// Starter canceled Nov 4 18:00 = 3.75 of 30 days = 1/8: 49/8 =
			// 6.125 → 6.12 (half to even).
			name:   "proration tie rounds half to even",
			subs:   []rating.SubscriptionChange{start("2026-11-01", "starter", monthly), cancel("2026-11-04T18:00:00Z")},
			period: "2026-11", total: "6.12",
			lines: []wantLine{{"base:starter", "0.125", "49.00", "6.12", ""}},
		},
		{
			// Team Nov 1 → 4 18:00 (1/8): 199/8 = 24.875 → 24.88; business
			// for 7/8: 499 × 7/8 = 436.625 → 436.62 (half to even).
			name:   "proration ties, both ways",
			subs:   []rating.SubscriptionChange{start("2026-11-01", "team", monthly), chg("2026-11-04T18:00:00Z", "business", monthly)},
			period: "2026-11", total: "461.50",
			lines: []wantLine{
				{"base:team", "0.125", "199.00", "24.88", ""},
				{"base:business", "0.875", "499.00", "436.62", ""},
			},
		},

		// Add-ons.
		{
			// 1,999 + hipaa_baa 1,000 + white_label 500 = 3,499.00.
			name:   "enterprise add-ons",
			subs:   []rating.SubscriptionChange{start("2026-11-01", "enterprise", monthly, addons("white_label", "hipaa_baa"))},
			period: "2026-11", total: "3499.00",
			lines: []wantLine{
				{"base:enterprise", "1", "1999.00", "1999.00", ""},
				{"addon:hipaa_baa", "1", "1000.00", "1000.00", ""},
				{"addon:white_label", "1", "500.00", "500.00", ""},
			},
		},
		{
			// data_residency from Nov 16 (15 of 30 days): 750/2 = 375.00.
			name:   "add-on added mid-month",
			subs:   []rating.SubscriptionChange{start("2026-11-01", "business", monthly), chg("2026-11-16", "business", monthly, addons("data_residency"))},
			period: "2026-11", total: "874.00",
			lines: []wantLine{
				{"base:business", "1", "499.00", "499.00", ""},
				{"addon:data_residency", "0.5", "750.00", "375.00", ""},
			},
		},

		// AI credits, packs and rounding.
		{
			// Business: 25,003 − 25,000 = 3 × 0.015 = 0.045 → 0.04 (even).
			name:   "overage tie rounds to even down",
			subs:   []rating.SubscriptionChange{start("2026-11-01", "business", monthly)},
			usage:  rating.Usage{Credits: []rating.CreditUsage{credits("2026-11-02", "25003")}},
			period: "2026-11", total: "499.04",
			lines: []wantLine{{"base:business", "1", "499.00", "499.00", ""}, {"ai_overage", "3", "0.015", "0.04", ""}},
		},
		{
			// 1 × 0.015 = 0.015 → 0.02 (even).
			name:   "overage tie rounds to even up",
			subs:   []rating.SubscriptionChange{start("2026-11-01", "business", monthly)},
			usage:  rating.Usage{Credits: []rating.CreditUsage{credits("2026-11-02", "24000"), credits("2026-11-03", "1001")}},
			period: "2026-11", total: "499.02",
			lines: []wantLine{{"base:business", "1", "499.00", "499.00", ""}, {"ai_overage", "1", "0.015", "0.02", ""}},
		},
		{
			// Packs oldest first: need 6,500 − 5,000 = 1,500; pack a (1,000,
			// older) is used up, b (1,000) gives 500. No overage. Pack b
			// bought in November: its own line 12.00.
			name: "packs before overage, oldest first",
			subs: []rating.SubscriptionChange{start("2026-10-01", "team", monthly)},
			usage: rating.Usage{
				Packs: []rating.PackPurchase{
					{At: ts("2026-11-03"), PackID: "b", Credits: d("1000"), Price: d("12.00"), Currency: cur("USD")},
					{At: ts("2026-10-20"), PackID: "a", Credits: d("1000"), Price: d("12.00"), Currency: cur("USD")},
				},
				Credits: []rating.CreditUsage{credits("2026-11-10", "6500")},
			},
			period: "2026-11", total: "211.00",
			lines: []wantLine{
				{"base:team", "1", "199.00", "199.00", ""},
				{"pack:b@2026-11-03T00:00:00Z", "1", "12.00", "12.00", ""},
			},
		},
		{
			// A pack bought at the end of the month covers the month (usage
			// is rated once per period): 7,000 − 5,000 = 2,000 − 1,500
			// pack = 500 × 0.018 = 9.00. 199 + 9 + 20 = 228.00.
			name: "pack bought late in the month covers the month",
			subs: []rating.SubscriptionChange{start("2026-11-01", "team", monthly)},
			usage: rating.Usage{
				Packs:   []rating.PackPurchase{{At: ts("2026-11-30T23:00:00Z"), PackID: "p", Credits: d("1500"), Price: d("20.00"), Currency: cur("USD")}},
				Credits: []rating.CreditUsage{credits("2026-11-10", "7000")},
			},
			period: "2026-11", total: "228.00",
			lines: []wantLine{
				{"base:team", "1", "199.00", "199.00", ""},
				{"ai_overage", "500", "0.018", "9.00", ""},
				{"pack:p@2026-11-30T23:00:00Z", "1", "20.00", "20.00", ""},
			},
		},

		// Currencies.
		{
			// The team example in EUR: same numbers, 311.51 EUR.
			name: "EUR",
			subs: []rating.SubscriptionChange{start("2026-11-01", "team", monthly, in("EUR"))},
			usage: rating.Usage{
				Seats:   join(seats("2026-11-02", learner, "l", 15), seats("2026-11-02", author, "a", 2)),
				Credits: []rating.CreditUsage{credits("2026-11-05", "6250.5")},
			},
			period: "2026-11", total: "311.51",
			lines: []wantLine{
				{"base:team", "1", "199.00", "199.00", ""},
				{"seats:learner", "15", "4.00", "60.00", ""},
				{"seats:author", "2", "15.00", "30.00", ""},
				{"ai_overage", "1250.5", "0.018", "22.51", ""},
			},
		},
		{
			// The team example in JPY: 19,900; 15 × 400 = 6,000; 2 × 1,500
			// = 3,000; 1,250.5 × 1.8 = 2,250.9 → 2,251. Total 31,151.
			name: "JPY",
			subs: []rating.SubscriptionChange{start("2026-11-01", "team", monthly, in("JPY"))},
			usage: rating.Usage{
				Seats:   join(seats("2026-11-02", learner, "l", 15), seats("2026-11-02", author, "a", 2)),
				Credits: []rating.CreditUsage{credits("2026-11-05", "6250.5")},
			},
			period: "2026-11", total: "31151",
			lines: []wantLine{
				{"base:team", "1", "19900", "19900", ""},
				{"seats:learner", "15", "400", "6000", ""},
				{"seats:author", "2", "1500", "3000", ""},
				{"ai_overage", "1250.5", "1.8", "2251", ""},
			},
		},
		{
			// Business JPY: 3 × 1.5 = 4.5 → 4 and proration 49,900 × 1/3 =
			// 16,633.33… → 16,633 (from Nov 21).
			name:   "JPY half to even and proration",
			subs:   []rating.SubscriptionChange{start("2026-11-21", "business", monthly, in("JPY"))},
			usage:  rating.Usage{Credits: []rating.CreditUsage{credits("2026-11-22", "25003")}},
			period: "2026-11", total: "16637",
			lines: []wantLine{{"base:business", "0.333333333", "49900", "16633", ""}, {"ai_overage", "3", "1.5", "4", ""}},
		},

		// Prepaid terms: monthly invoices carry usage only.
		{
			// Business annual, 100 learners committed, 120 peak: 20 ×
			// 6.00; 10 authors committed, 12 peak: 2 × 20.00. No base.
			name:   "annual: usage above committed only",
			subs:   []rating.SubscriptionChange{start("2026-11-01", "business", annual, committed(100, 10))},
			usage:  rating.Usage{Seats: join(seats("2026-11-02", learner, "l", 120), seats("2026-11-02", author, "a", 12))},
			period: "2026-11", total: "160.00",
			lines: []wantLine{{"seats:learner", "20", "6.00", "120.00", ""}, {"seats:author", "2", "20.00", "40.00", ""}},
		},
		{
			// Starter multi-year: 10 included + 5 committed; limit 10 → 18
			// peak: 3 × 5.00 = 15.00 flagged over_limit.
			name:   "multi-year: included and committed both subtracted",
			subs:   []rating.SubscriptionChange{start("2026-11-01", "starter", multi, committed(5, 0), years(3))},
			usage:  rating.Usage{Seats: seats("2026-11-02", learner, "l", 18)},
			period: "2026-11", total: "15.00",
			lines: []wantLine{{"seats:learner", "3", "5.00", "15.00", "over_limit"}},
		},
		{
			// Downgrade to 50 committed on Feb 1 waits for Nov 2027: in Feb
			// 120 peak − 100 committed = 20 × 6 = 120.00.
			name:   "annual downgrade waits for the next contract year",
			subs:   []rating.SubscriptionChange{start("2026-11-01", "business", annual, committed(100, 10)), chg("2027-02-01", "business", annual, committed(50, 10))},
			usage:  rating.Usage{Seats: seats("2027-02-02", learner, "l", 120)},
			period: "2027-02", total: "120.00",
			lines: []wantLine{{"seats:learner", "20", "6.00", "120.00", ""}},
		},
		{
			// … and applies from 2027-11-01: 120 − 50 = 70 × 6 = 420.00.
			name:   "annual downgrade applies at the next contract year",
			subs:   []rating.SubscriptionChange{start("2026-11-01", "business", annual, committed(100, 10)), chg("2027-02-01", "business", annual, committed(50, 10))},
			usage:  rating.Usage{Seats: seats("2027-02-02", learner, "l", 120)},
			period: "2027-11", total: "420.00",
			lines: []wantLine{{"seats:learner", "70", "6.00", "420.00", ""}},
		},
		{
			// A move from annual to monthly waits for the contract year
			// end; from then on the monthly base is billed.
			name:   "annual to monthly at the next contract year",
			subs:   []rating.SubscriptionChange{start("2026-11-01", "business", annual, committed(10, 0)), chg("2027-03-10", "team", monthly)},
			period: "2027-11", total: "199.00",
			lines: []wantLine{{"base:team", "1", "199.00", "199.00", ""}},
		},
		{
			// Team monthly until Nov 16, then business annual (20
			// committed): team 15 of 30 days = 99.50; usage against the
			// annual subscription: 30 − 20 = 10 × 6 = 60.00.
			name:   "monthly to annual mid-month",
			subs:   []rating.SubscriptionChange{start("2026-11-01", "team", monthly), chg("2026-11-16", "business", annual, committed(20, 0))},
			usage:  rating.Usage{Seats: seats("2026-11-02", learner, "l", 30)},
			period: "2026-11", total: "159.50",
			lines: []wantLine{{"base:team", "0.5", "199.00", "99.50", ""}, {"seats:learner", "10", "6.00", "60.00", ""}},
		},
		{
			// A prepaid tenant with no usage: an empty invoice, total 0.
			name:   "annual without usage",
			subs:   []rating.SubscriptionChange{start("2026-11-01", "business", annual, committed(100, 10))},
			period: "2026-12", total: "0.00",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := rating.RateMonth(book, "tenant", tt.subs, tt.usage, per(tt.period))
			if err != nil {
				t.Fatal(err)
			}
			checkInvoice(t, res.Invoice, tt.total, tt.lines...)
			unbilled := tt.unbilled
			if unbilled == "" {
				unbilled = "0"
			}
			if !res.UnbilledCredits.Equal(d(unbilled)) {
				t.Errorf("unbilled credits %s; want %s", res.UnbilledCredits, unbilled)
			}
		})
	}
}

// Packs span months: used after the allowance, oldest first, never
// expire; each is billed once, in its month.
func TestPacksAcrossMonths(t *testing.T) {
	subs := []rating.SubscriptionChange{start("2026-10-01", "team", monthly)}
	usd := cur("USD")
	u := rating.Usage{
		Packs: []rating.PackPurchase{
			{At: ts("2026-10-05"), PackID: "A", Credits: d("2000"), Price: d("30.00"), Currency: usd},
			{At: ts("2026-11-03"), PackID: "B", Credits: d("500"), Price: d("25.00"), Currency: usd},
			{At: ts("2026-12-20"), PackID: "C", Credits: d("1000"), Price: d("20.00"), Currency: usd},
		},
		Credits: []rating.CreditUsage{
			credits("2026-10-10", "6000"), // 1,000 over: A 2,000 → 1,000 left
			credits("2026-11-10", "7000"), // 2,000 over: A 1,000 → 0, B 500 → 0, 500 overage
			credits("2026-12-10", "5400"), // 400 over: C 1,000 → 600
		},
	}
	tests := []struct {
		period   string
		total    string
		lines    []wantLine
		balances string
	}{
		{"2026-10", "229.00", []wantLine{
			{"base:team", "1", "199.00", "199.00", ""},
			{"pack:A@2026-10-05T00:00:00Z", "1", "30.00", "30.00", ""},
		}, "A 1000"},
		{"2026-11", "233.00", []wantLine{
			{"base:team", "1", "199.00", "199.00", ""},
			{"ai_overage", "500", "0.018", "9.00", ""}, // 500 × 0.018
			{"pack:B@2026-11-03T00:00:00Z", "1", "25.00", "25.00", ""},
		}, "A 0 B 0"},
		{"2026-12", "219.00", []wantLine{
			{"base:team", "1", "199.00", "199.00", ""},
			{"pack:C@2026-12-20T00:00:00Z", "1", "20.00", "20.00", ""},
		}, "A 0 B 0 C 600"},
	}
	for _, tt := range tests {
		t.Run(tt.period, func(t *testing.T) {
			res, err := rating.RateMonth(book, "tenant", subs, u, per(tt.period))
			if err != nil {
				t.Fatal(err)
			}
			checkInvoice(t, res.Invoice, tt.total, tt.lines...)
			var got string
			for _, b := range res.Packs {
				if got != "" {
					got += " "
				}
				got += b.PackID + " " + money.FormatDecimal(b.Remaining)
				if !b.Used.Add(b.Remaining).Equal(b.Credits) {
					t.Errorf("pack %s: used %s + remaining %s ≠ %s", b.PackID, b.Used, b.Remaining, b.Credits)
				}
			}
			if got != tt.balances {
				t.Errorf("balances %q; want %q", got, tt.balances)
			}
		})
	}
}

func TestRateMonthErrors(t *testing.T) {
	usd := cur("USD")
	tests := []struct {
		name  string
		subs  []rating.SubscriptionChange
		usage rating.Usage
		want  error
	}{
		{"no subscription", nil, rating.Usage{}, rating.ErrNotSubscribed},
		{"canceled before the period", []rating.SubscriptionChange{start("2026-09-01", "team", monthly), cancel("2026-10-15")}, rating.Usage{}, rating.ErrNotSubscribed},
		{"started after the period", []rating.SubscriptionChange{start("2026-12-01", "team", monthly)}, rating.Usage{}, rating.ErrNotSubscribed},
		{"unknown plan", []rating.SubscriptionChange{start("2026-11-01", "gold", monthly)}, rating.Usage{}, rating.ErrInvalidSubscription},
		{"unknown add-on", []rating.SubscriptionChange{start("2026-11-01", "team", monthly, addons("gold_support"))}, rating.Usage{}, pricebook.ErrUnknownAddon},
		{"unpriced currency", []rating.SubscriptionChange{start("2026-11-01", "team", monthly, in("GBP"))}, rating.Usage{}, pricebook.ErrUnpricedCurrency},
		{"start and cancel at one instant", []rating.SubscriptionChange{start("2026-11-01", "team", monthly), cancel("2026-11-01")}, rating.Usage{}, rating.ErrAmbiguousChanges},
		{"two plans at one instant", []rating.SubscriptionChange{start("2026-11-01", "team", monthly), chg("2026-11-01", "business", monthly)}, rating.Usage{}, rating.ErrAmbiguousChanges},
		{"currency change while subscribed", []rating.SubscriptionChange{start("2026-11-01", "team", monthly), chg("2026-11-10", "team", monthly, in("EUR"))}, rating.Usage{}, rating.ErrCurrencyChange},
		{"two currencies in one period", []rating.SubscriptionChange{start("2026-11-01", "team", monthly), cancel("2026-11-10"), start("2026-11-20", "team", monthly, in("EUR"))}, rating.Usage{}, rating.ErrCurrencyChange},
		{"pack in another currency", []rating.SubscriptionChange{start("2026-11-01", "team", monthly)},
			rating.Usage{Packs: []rating.PackPurchase{{At: ts("2026-11-02"), PackID: "p", Credits: d("10"), Price: d("1"), Currency: cur("EUR")}}}, rating.ErrCurrencyMismatch},
		{"pack without credits", []rating.SubscriptionChange{start("2026-11-01", "team", monthly)},
			rating.Usage{Packs: []rating.PackPurchase{{At: ts("2026-11-02"), PackID: "p", Credits: d("0"), Price: d("1"), Currency: usd}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rating.RateMonth(book, "tenant", tt.subs, tt.usage, per("2026-11"))
			if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v; want %v", err, tt.want)
			}
		})
	}
}

// The same change sent as started and changed at one instant is one change.
func TestDuplicateChangeAtOneInstant(t *testing.T) {
	subs := []rating.SubscriptionChange{start("2026-11-01", "enterprise", monthly, addons("white_label", "data_residency")), chg("2026-11-01", "enterprise", monthly, addons("data_residency", "white_label"))}
	res, err := rating.RateMonth(book, "tenant", subs, rating.Usage{}, per("2026-11"))
	if err != nil {
		t.Fatal(err)
	}
	// 1,999 + 750 + 500 = 3,249.00.
	checkInvoice(t, res.Invoice, "3249.00",
		wantLine{"base:enterprise", "1", "1999.00", "1999.00", ""},
		wantLine{"addon:data_residency", "1", "750.00", "750.00", ""},
		wantLine{"addon:white_label", "1", "500.00", "500.00", ""})
}
