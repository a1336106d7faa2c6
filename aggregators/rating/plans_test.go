package rating_test

import (
	"errors"
	"testing"

	"github.com/tally-billing/tally/aggregators/rating"
)

// The plans and add-on rules of SPEC §2 that came with the entitlement
// matrix: marketplace_provider is rated like every plan; an add-on the
// plan includes costs nothing and bills no line; one it sells bills its
// price. Every figure is worked by hand from SPEC §2 and §3.
func TestMarketplaceProviderAndIncludedAddons(t *testing.T) {
	tests := []struct {
		name   string
		subs   []rating.SubscriptionChange
		usage  rating.Usage
		period string
		total  string
		lines  []wantLine
	}{
		{
			// Base 0.00; white_label 500.00; data_residency 750.00; learners
			// 12 × 4.00 = 48.00 (none included, no limit); authors 3 ×
			// 15.00 = 45.00; AI (1,500 − 1,000) × 0.020 = 10.00.
			// 0 + 500 + 750 + 48 + 45 + 10 = 1,353.00.
			name: "marketplace_provider USD with add-ons",
			subs: []rating.SubscriptionChange{start("2026-11-01", "marketplace_provider", monthly, addons("white_label", "data_residency"))},
			usage: rating.Usage{
				Seats:   join(seats("2026-11-02", learner, "l", 12), seats("2026-11-02", author, "a", 3)),
				Credits: []rating.CreditUsage{credits("2026-11-05", "1500")},
			},
			period: "2026-11", total: "1353.00",
			lines: []wantLine{
				{"base:marketplace_provider", "1", "0.00", "0.00", ""},
				{"addon:data_residency", "1", "750.00", "750.00", ""},
				{"addon:white_label", "1", "500.00", "500.00", ""},
				{"seats:learner", "12", "4.00", "48.00", ""},
				{"seats:author", "3", "15.00", "45.00", ""},
				{"ai_overage", "500", "0.020", "10.00", ""},
			},
		},
		{
			// JPY: learners 300 × 400 = 120,000 (no limit: not flagged);
			// AI (1,000.5 − 1,000) × 2 = 1 exactly. Total 120,001.
			name: "marketplace_provider JPY, many learners",
			subs: []rating.SubscriptionChange{start("2026-11-01", "marketplace_provider", monthly, in("JPY"))},
			usage: rating.Usage{
				Seats:   seats("2026-11-02", learner, "l", 300),
				Credits: []rating.CreditUsage{credits("2026-11-05", "1000.5")},
			},
			period: "2026-11", total: "120001",
			lines: []wantLine{
				{"base:marketplace_provider", "1", "0", "0", ""},
				{"seats:learner", "300", "400", "120000", ""},
				{"ai_overage", "0.5", "2", "1", ""},
			},
		},
		{
			// Healthcare includes hipaa_baa (SPEC §2): no 1,000.00 line, and
			// white_label and data_residency (multi-region) likewise.
			// Total: the base, 5,999.00.
			name:   "healthcare with hipaa_baa",
			subs:   []rating.SubscriptionChange{start("2026-11-01", "healthcare", monthly, addons("hipaa_baa", "white_label", "data_residency"))},
			period: "2026-11", total: "5999.00",
			lines: []wantLine{{"base:healthcare", "1", "5999.00", "5999.00", ""}},
		},
		{
			// Enterprise sells white_label: 1,999.00 + 500.00 = 2,499.00.
			name:   "enterprise with white_label",
			subs:   []rating.SubscriptionChange{start("2026-11-01", "enterprise", monthly, addons("white_label"))},
			period: "2026-11", total: "2499.00",
			lines: []wantLine{{"base:enterprise", "1", "1999.00", "1999.00", ""}, {"addon:white_label", "1", "500.00", "500.00", ""}},
		},
		{
			// Enterprise+ includes white_label and data_residency, sells
			// hipaa_baa: 4,999.00 + 1,000.00 = 5,999.00.
			name:   "enterprise_plus with every add-on",
			subs:   []rating.SubscriptionChange{start("2026-11-01", "enterprise_plus", monthly, addons("white_label", "hipaa_baa", "data_residency"))},
			period: "2026-11", total: "5999.00",
			lines: []wantLine{{"base:enterprise_plus", "1", "4999.00", "4999.00", ""}, {"addon:hipaa_baa", "1", "1000.00", "1000.00", ""}},
		},
		{
			// Enterprise with white_label until Nov 16, then enterprise_plus
			// (which includes it) from Nov 16: enterprise 15/30 × 1,999 =
			// 999.50; white_label 15/30 × 500 = 250.00 (only while sold);
			// enterprise_plus 15/30 × 4,999 = 2,499.50. Total 3,749.00.
			name: "upgrade to a plan that includes the add-on",
			subs: []rating.SubscriptionChange{
				start("2026-11-01", "enterprise", monthly, addons("white_label")),
				chg("2026-11-16", "enterprise_plus", monthly, addons("white_label")),
			},
			period: "2026-11", total: "3749.00",
			lines: []wantLine{
				{"base:enterprise", "0.5", "1999.00", "999.50", ""},
				{"addon:white_label", "0.5", "500.00", "250.00", ""},
				{"base:enterprise_plus", "0.5", "4999.00", "2499.50", ""},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := rating.RateMonth(book, "tenant", tt.subs, tt.usage, per(tt.period))
			if err != nil {
				t.Fatal(err)
			}
			checkInvoice(t, res.Invoice, tt.total, tt.lines...)
		})
	}
}

// An included add-on bills nothing on a prepaid contract year either;
// marketplace_provider annual: 12 × (0 + 10 × 4.00) = 480.00, 20 % =
// −96.00, total 384.00 (the base line is 12 × 0.00).
func TestPrepaidNewPlansAndIncludedAddons(t *testing.T) {
	up, err := rating.RatePrepaid(book, "t", []rating.SubscriptionChange{
		start("2026-11-01", "marketplace_provider", annual, committed(10, 0)),
	}, ts("2026-11-01"), ts("2026-12-01"))
	if err != nil || len(up) != 1 {
		t.Fatalf("%d invoices, %v", len(up), err)
	}
	checkInvoice(t, up[0], "384.00",
		wantLine{"base:marketplace_provider", "12", "0.00", "0.00", ""},
		wantLine{"committed_seats:learner", "120", "4.00", "480.00", ""},
		wantLine{"discount:annual", "480.00", "-0.20", "-96.00", ""},
	)
	// Healthcare annual with hipaa_baa: 12 × 5,999 = 71,988.00, 20 % =
	// −14,397.60, total 57,590.40; no add-on line.
	up, err = rating.RatePrepaid(book, "t", []rating.SubscriptionChange{
		start("2026-11-01", "healthcare", annual, addons("hipaa_baa")),
	}, ts("2026-11-01"), ts("2026-12-01"))
	if err != nil || len(up) != 1 {
		t.Fatalf("%d invoices, %v", len(up), err)
	}
	checkInvoice(t, up[0], "57590.40",
		wantLine{"base:healthcare", "12", "5999.00", "71988.00", ""},
		wantLine{"discount:annual", "71988.00", "-0.20", "-14397.60", ""},
	)
}

// The pilot plan is in the book, but its lifecycle (issue 15) is not
// rated: ingest refuses it, and rating refuses it too rather than bill it
// as a monthly plan.
func TestPilotIsNotRatedYet(t *testing.T) {
	_, err := rating.RateMonth(book, "t", []rating.SubscriptionChange{start("2026-11-01", "pilot", monthly)}, rating.Usage{}, per("2026-11"))
	if !errors.Is(err, rating.ErrInvalidSubscription) {
		t.Fatalf("err = %v; want ErrInvalidSubscription", err)
	}
}

// Ingest refuses an add-on the matrix does not sell on the plan; one
// stored before the book stopped selling it there is rated without it
// (neither billed nor entitled) rather than leaving the tenant unrated
// (SPEC §5). The bases alone, worked from SPEC §2: starter 49.00 (no
// seats used), team 199.00, business 499.00, marketplace_provider 0.00.
func TestUnsoldAddonIsNotBilled(t *testing.T) {
	for plan, total := range map[string]string{"starter": "49.00", "team": "199.00", "business": "499.00", "marketplace_provider": "0.00"} {
		res, err := rating.RateMonth(book, "t", []rating.SubscriptionChange{start("2026-11-01", plan, monthly, addons("hipaa_baa"))}, rating.Usage{}, per("2026-11"))
		if err != nil {
			t.Fatalf("hipaa_baa on %s: %v", plan, err)
		}
		checkInvoice(t, res.Invoice, total, wantLine{"base:" + plan, "1", total, total, ""})
	}
}
