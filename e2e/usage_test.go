package e2e

import (
	"fmt"
	"testing"
	"time"
)

// TestUsageOfAMonth sends the usage of SPEC's Team example (peak 15
// learners and 2 authors, 6,250.5 AI credits) plus marketplace activity
// and reads it back over the API; every figure is worked by hand.
func TestUsageOfAMonth(t *testing.T) {
	tl := startTally(t)
	const tenant = "tenant-team"
	nov := func(day, hour int) time.Time { return time.Date(2026, 11, day, hour, 0, 0, 0, time.UTC) }
	var events []string
	// 20 learners assigned over the month, 5 released before the last 5
	// come: peak 15. 1 author carried from October, 1 more in November.
	for i := 0; i < 15; i++ {
		events = append(events, ev("licences", fmt.Sprintf("l-a-%d", i), "seat.assigned", tenant, nov(2, i),
			fmt.Sprintf(`{"user_id":"u%d","seat_type":"learner"}`, i)))
	}
	for i := 0; i < 5; i++ {
		events = append(events, ev("licences", fmt.Sprintf("l-r-%d", i), "seat.released", tenant, nov(10, i),
			fmt.Sprintf(`{"user_id":"u%d","seat_type":"learner"}`, i)))
	}
	for i := 15; i < 20; i++ {
		events = append(events, ev("licences", fmt.Sprintf("l-a-%d", i), "seat.assigned", tenant, nov(20, i),
			fmt.Sprintf(`{"user_id":"u%d","seat_type":"learner"}`, i)))
	}
	events = append(events,
		ev("licences", "au-1", "seat.assigned", tenant, time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC), `{"user_id":"a1","seat_type":"author"}`),
		ev("licences", "au-2", "seat.assigned", tenant, nov(3, 0), `{"user_id":"a2","seat_type":"author"}`),
		// 6,000 + 250.5 credits in November; October's 99 do not count.
		credits("c-1", tenant, nov(5, 0), "6000", "tutor"),
		credits("c-2", tenant, nov(6, 0), "250.5", "translate"),
		credits("c-oct", tenant, time.Date(2026, 10, 31, 23, 59, 59, 0, time.UTC), "99", "tutor"),
	)
	tl.mustAccept(len(events), 0, events...)
	tl.waitRows(tenant, uint64(len(events)))

	u := tl.usage(tenant, "2026-11-01", "2026-12-01")
	ai := u["ai_credits"].(map[string]any)
	if ai["total"] != "6250.5" {
		t.Errorf("AI credits total %v, want 6250.5", ai["total"])
	}
	byFeature := ai["by_feature"].(map[string]any)
	if byFeature["tutor"] != "6000" || byFeature["translate"] != "250.5" {
		t.Errorf("AI credits by feature %v, want tutor 6000 and translate 250.5", byFeature)
	}
	seats := u["seats"].(map[string]any)
	learner := seats["learner"].(map[string]any)
	author := seats["author"].(map[string]any)
	if learner["peak"] != float64(15) || learner["at_end"] != float64(15) {
		t.Errorf("learners %v, want peak 15 and 15 at the end", learner)
	}
	if author["peak"] != float64(2) {
		t.Errorf("authors %v, want peak 2", author)
	}

	// Marketplace: SPEC's sale (gross 59.00, tax 9.00) and a refund of
	// 29.50, under the provider's id.
	const prov = "prov-1"
	tl.mustAccept(2, 0,
		ev("checkout", "sale-1", "marketplace.sale.completed", prov, nov(7, 0),
			`{"order_id":"o-1","buyer_id":"b-1","course_id":"course-1","gross":"59.00","tax":"9.00","currency":"USD"}`),
		ev("checkout", "ref-1", "marketplace.refund.issued", prov, nov(8, 0),
			`{"order_id":"o-1","refund_id":"r-1","amount":"29.50","currency":"USD"}`),
	)
	tl.waitRows(prov, 2)
	m := tl.usage(prov, "2026-11-01", "2026-12-01")["marketplace"].(map[string]any)["USD"].(map[string]any)
	if m["sales"] != float64(1) || m["gross"] != "59" || m["tax"] != "9" || m["refunds"] != float64(1) || m["refunded"] != "29.5" {
		t.Errorf("marketplace USD %v, want 1 sale gross 59 tax 9, 1 refund 29.5", m)
	}
}
