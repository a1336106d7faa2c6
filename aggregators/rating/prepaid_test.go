package rating_test

import (
	"testing"

	"github.com/tally-billing/tally/aggregators/rating"
)

func TestRatePrepaid(t *testing.T) {
	type inv struct {
		kind   rating.InvoiceKind
		period string
		total  string
		lines  []wantLine
	}
	cases := []struct {
		name     string
		subs     []rating.SubscriptionChange
		from, to string
		want     []inv
	}{
		{
			// Enterprise+ multi-year, 50 learners, 5 authors, hipaa_baa (sold:
			// 1,000) and data_residency (multi-region included on
			// enterprise_plus, SPEC §2: no line):
			// 12 × (4,999 + 1,000 + 50 × 9 + 5 × 30) = 12 × 6,599 = 79,188.00:
			// base 59,988.00, add-on 12,000.00, learners 600 × 9 = 5,400.00,
			// authors 60 × 30 = 1,800.00. 30 % = −23,756.40. Total 55,431.60.
			name: "multi-year upfront",
			subs: []rating.SubscriptionChange{start("2026-11-01", "enterprise_plus", multi, committed(50, 5), years(3), addons("data_residency", "hipaa_baa"))},
			from: "2026-11-01", to: "2026-12-01",
			want: []inv{{rating.KindUpfront, "2026-11", "55431.60", []wantLine{
				{"base:enterprise_plus", "12", "4999.00", "59988.00", ""},
				{"addon:hipaa_baa", "12", "1000.00", "12000.00", ""},
				{"committed_seats:learner", "600", "9.00", "5400.00", ""},
				{"committed_seats:author", "60", "30.00", "1800.00", ""},
				{"discount:multi_year", "79188.00", "-0.30", "-23756.40", ""},
			}}},
		},
		{
			// JPY annual team, 10 learners: 12 × (19,900 + 10 × 400) =
			// 286,800; 20 % = −57,360; total 229,440.
			name: "JPY upfront",
			subs: []rating.SubscriptionChange{start("2026-11-01", "team", annual, committed(10, 0), in("JPY"))},
			from: "2026-11-01", to: "2026-12-01",
			want: []inv{{rating.KindUpfront, "2026-11", "229440", []wantLine{
				{"base:team", "12", "19900", "238800", ""},
				{"committed_seats:learner", "120", "400", "48000", ""},
				{"discount:annual", "286800", "-0.20", "-57360", ""},
			}}},
		},
		{
			// Business annual 100/10 from 2026-11-01; on 2027-05-01 150/10
			// (worth (499 + 900 + 200) × 0.8 = 1,279.20 > 1,039.20 a month):
			// an upgrade for the 184 days left of 365 (12 × 184/365 =
			// 6.0493150684… months).
			// New: 5,988 × 184/365 = 3,018.608… → 3,018.61; 10,800 ×
			// 184/365 = 5,444.383… → 5,444.38; 2,400 × 184/365 = 1,209.863…
			// → 1,209.86; sum 9,672.85; 20 % = −1,934.57.
			// Old: −3,018.61; 7,200 × 184/365 = 3,629.589… → −3,629.59;
			// −1,209.86; sum −7,858.06; 20 % back = 1,571.612 → 1,571.61.
			// Total 9,672.85 − 1,934.57 − 7,858.06 + 1,571.61 = 1,451.83.
			name: "annual upgrade inside the contract year",
			subs: []rating.SubscriptionChange{start("2026-11-01", "business", annual, committed(100, 10)), chg("2027-05-01", "business", annual, committed(150, 10))},
			from: "2027-01-01", to: "2027-12-01",
			want: []inv{
				{rating.KindUpgrade, "2027-05", "1451.83", []wantLine{
					{"base:business", "6.049315068", "499.00", "3018.61", ""},
					{"committed_seats:learner", "907.397260274", "6.00", "5444.38", ""},
					{"committed_seats:author", "60.493150685", "20.00", "1209.86", ""},
					{"discount:annual", "9672.85", "-0.20", "-1934.57", ""},
					{"credit:base:business", "-6.049315068", "499.00", "-3018.61", "credit"},
					{"credit:committed_seats:learner", "-604.931506849", "6.00", "-3629.59", "credit"},
					{"credit:committed_seats:author", "-60.493150685", "20.00", "-1209.86", "credit"},
					{"credit:discount:annual", "-7858.06", "-0.20", "1571.61", "credit"},
				}},
				// Next year at the new commitment: 12 × (499 + 900 + 200) =
				// 19,188; 20 % = −3,837.60; 15,350.40.
				{rating.KindUpfront, "2027-11", "15350.40", []wantLine{
					{"base:business", "12", "499.00", "5988.00", ""},
					{"committed_seats:learner", "1800", "6.00", "10800.00", ""},
					{"committed_seats:author", "120", "20.00", "2400.00", ""},
					{"discount:annual", "19188.00", "-0.20", "-3837.60", ""},
				}},
			},
		},
		{
			// Downgrade: nothing now; next year 12 × (499 + 300 + 200) =
			// 11,988; −2,397.60; 9,590.40.
			name: "annual downgrade at the next contract year",
			subs: []rating.SubscriptionChange{start("2026-11-01", "business", annual, committed(100, 10)), chg("2027-02-01", "business", annual, committed(50, 10))},
			from: "2026-12-01", to: "2027-12-01",
			want: []inv{{rating.KindUpfront, "2027-11", "9590.40", []wantLine{
				{"base:business", "12", "499.00", "5988.00", ""},
				{"committed_seats:learner", "600", "6.00", "3600.00", ""},
				{"committed_seats:author", "120", "20.00", "2400.00", ""},
				{"discount:annual", "11988.00", "-0.20", "-2397.60", ""},
			}}},
		},
		{
			// Annual → multi-year on the same plan is worth less a month
			// (30 % off): a downgrade, from the next contract year:
			// 12 × 499 = 5,988; 30 % = −1,796.40; 4,191.60.
			name: "annual to multi-year is a downgrade",
			subs: []rating.SubscriptionChange{start("2026-11-01", "business", annual), chg("2027-01-10", "business", multi, years(2))},
			from: "2026-12-01", to: "2027-12-01",
			want: []inv{{rating.KindUpfront, "2027-11", "4191.60", []wantLine{
				{"base:business", "12", "499.00", "5988.00", ""},
				{"discount:multi_year", "5988.00", "-0.30", "-1796.40", ""},
			}}},
		},
		{
			// Canceled: no refund, no renewal.
			name: "canceled prepaid term does not renew",
			subs: []rating.SubscriptionChange{start("2026-11-01", "business", annual), cancel("2027-03-15")},
			from: "2026-12-01", to: "2028-12-01",
		},
		{
			// Monthly → annual on Nov 16: the contract year starts then.
			// 12 × (499 + 20 × 6) = 7,428; −1,485.60; 5,942.40.
			name: "contract year starts at the switch to a prepaid term",
			subs: []rating.SubscriptionChange{start("2026-11-01", "team", monthly), chg("2026-11-16", "business", annual, committed(20, 0))},
			from: "2026-11-01", to: "2026-12-01",
			want: []inv{{rating.KindUpfront, "2026-11", "5942.40", []wantLine{
				{"base:business", "12", "499.00", "5988.00", ""},
				{"committed_seats:learner", "240", "6.00", "1440.00", ""},
				{"discount:annual", "7428.00", "-0.20", "-1485.60", ""},
			}}},
		},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rating.RatePrepaid(book, "tenant", tt.subs, ts(tt.from), ts(tt.to))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d invoices; want %d: %+v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				if got[i].Kind != w.kind || got[i].Period != w.period {
					t.Errorf("invoice %d: %s %s; want %s %s", i, got[i].Kind, got[i].Period, w.kind, w.period)
				}
				checkInvoice(t, got[i], w.total, w.lines...)
			}
		})
	}
}
