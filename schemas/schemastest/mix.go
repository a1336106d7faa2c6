package schemastest

import (
	"fmt"
	"time"
)

// MixEventJSON is the i-th event, dated at, of a mix like tally-bench's,
// as an emitter sends it: mostly AI credits (with a user and a model),
// then seat assignments and, one in twenty, marketplace sales. The
// benchmarks of the sink and of the events insert share it.
func MixEventJSON(i int, at time.Time) string {
	head := fmt.Sprintf(`"specversion":"1.0","id":"evt-%08d","source":"bench/app-%d","subject":"tenant-%04d","time":%q`,
		i, i%3, i%1000, at.Format(time.RFC3339Nano))
	switch {
	case i%20 == 0:
		return fmt.Sprintf(`{%s,"type":"marketplace.sale.completed","data":{"order_id":"ord-%d","buyer_id":"buyer-%d","course_id":"course-%d","gross":"59.00","tax":"9.00","currency":"USD"}}`,
			head, i, i%5000, i%300)
	case i%8 == 1:
		return fmt.Sprintf(`{%s,"type":"seat.assigned","data":{"user_id":"user-%d","seat_type":"learner"}}`, head, i%20000)
	default:
		return fmt.Sprintf(`{%s,"type":"ai.credits.consumed","data":{"credits":"%d.25","feature":"tutor","user_id":"user-%d","model":"tutor-large-2026-10"}}`,
			head, i%40, i%20000)
	}
}
