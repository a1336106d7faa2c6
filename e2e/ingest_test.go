package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tally-billing/tally/pipeline"
)

// TestBadEventsAreRejectedWithTheirField sends each kind of bad event in a
// batch next to a valid one: the answer is 400 naming the event and field,
// and nothing of the batch is stored.
func TestBadEventsAreRejectedWithTheirField(t *testing.T) {
	tl := startTally(t)
	now := time.Now().UTC().Truncate(time.Second)
	good := credits("good-1", "tenant-bad", now, "1", "tutor")
	cases := []struct {
		name  string
		event string
		field string
	}{
		{"JSON number for credits", ev("s", "b1", "ai.credits.consumed", "tenant-bad", now, `{"credits":12.5,"feature":"tutor"}`), "data.credits"},
		{"negative credits", ev("s", "b2", "ai.credits.consumed", "tenant-bad", now, `{"credits":"-1","feature":"tutor"}`), "data.credits"},
		{"exponent", ev("s", "b3", "ai.credits.consumed", "tenant-bad", now, `{"credits":"1e3","feature":"tutor"}`), "data.credits"},
		{"unknown type", ev("s", "b4", "ai.credits.stolen", "tenant-bad", now, `{}`), "type"},
		{"missing feature", ev("s", "b5", "ai.credits.consumed", "tenant-bad", now, `{"credits":"1"}`), "data.feature"},
		{"unknown currency", ev("s", "b6", "marketplace.sale.completed", "prov-1", now,
			`{"order_id":"o","buyer_id":"b","course_id":"c","gross":"10.00","tax":"0","currency":"XYZ"}`), "data.currency"},
		{"too many money digits", ev("s", "b7", "marketplace.sale.completed", "prov-1", now,
			`{"order_id":"o","buyer_id":"b","course_id":"c","gross":"10.001","tax":"0","currency":"USD"}`), "data.gross"},
		{"time too far ahead", credits("b8", "tenant-bad", now.Add(10*time.Minute), "1", "tutor"), "time"},
		{"missing subject", `{"specversion":"1.0","id":"b9","source":"s","type":"seat.assigned","time":"` +
			now.Format(time.RFC3339) + `","data":{"user_id":"u","seat_type":"learner"}}`, "subject"},
		{"bad seat type", ev("s", "b10", "seat.assigned", "tenant-bad", now, `{"user_id":"u","seat_type":"admin"}`), "data.seat_type"},
		{"plan not in the price book", ev("s", "b11", "subscription.started", "tenant-bad", now,
			`{"plan":"platinum","term":"monthly","currency":"USD"}`), "data.plan"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := tl.sendBatch(good, tc.event)
			if status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", status, body)
			}
			var eb pipeline.ErrorBody
			if err := json.Unmarshal(body, &eb); err != nil {
				t.Fatal(err)
			}
			if len(eb.Events) != 1 {
				t.Fatalf("want one per-event error, got %+v", eb.Events)
			}
			e := eb.Events[0]
			if e.Index != 1 || e.Field != tc.field || e.Message == "" {
				t.Fatalf("got error %+v, want index 1 field %q with a message", e, tc.field)
			}
		})
	}
	// A sentinel sent after all the bad batches: once it is stored, the
	// sink has passed every message published before it.
	tl.mustAccept(1, 0, credits("sentinel", "tenant-sentinel", now, "1", "tutor"))
	tl.waitRows("tenant-sentinel", 1)
	if n := tl.rows("tenant-bad"); n != 0 {
		t.Fatalf("%d events of rejected batches were stored", n)
	}
}

func TestRequestLimitsAndMediaTypes(t *testing.T) {
	tl := startTally(t)
	now := time.Now().UTC()

	events := make([]string, pipeline.MaxBatchEvents+1)
	for i := range events {
		events[i] = credits(fmt.Sprintf("lim-%d", i), "tenant-lim", now, "1", "tutor")
	}
	if status, body := tl.sendBatch(events...); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("1,001 events: status %d, want 413: %s", status, body)
	}
	big := credits("big", "tenant-lim", now, "1", "tutor")
	big = strings.Replace(big, `"feature":"tutor"`, `"feature":"tutor","user_id":"`+strings.Repeat("x", pipeline.MaxBodyBytes)+`"`, 1)
	if status, body := tl.sendBatch(big); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("body over 1 MiB: status %d, want 413: %s", status, body)
	}
	status, _, body := tl.do(http.MethodPost, "/v1/events", tl.ingest, "text/plain", []byte(events[0]))
	if status != http.StatusUnsupportedMediaType {
		t.Fatalf("text/plain: status %d, want 415: %s", status, body)
	}
	status, _, body = tl.do(http.MethodPost, "/v1/events", tl.ingest, pipeline.ContentTypeEvent, []byte(events[0]))
	if status != http.StatusAccepted {
		t.Fatalf("single event: status %d: %s", status, body)
	}
	if status, body := tl.sendBatch(); status != http.StatusBadRequest {
		t.Fatalf("empty batch: status %d, want 400: %s", status, body)
	}
	// Exactly 1,000 events is allowed.
	tl.mustAccept(pipeline.MaxBatchEvents-1, 1, events[:pipeline.MaxBatchEvents]...)
	tl.waitRows("tenant-lim", pipeline.MaxBatchEvents)
}

func TestAuth(t *testing.T) {
	tl := startTally(t)
	event := []byte(credits("auth-1", "tenant-auth", time.Now(), "1", "tutor"))
	cases := []struct {
		name, method, path, key string
		want                    int
	}{
		{"no key", http.MethodPost, "/v1/events", "", http.StatusUnauthorized},
		{"wrong key", http.MethodPost, "/v1/events", "not-a-key-of-this-tally-at-all", http.StatusUnauthorized},
		{"ingest key reads usage", http.MethodGet, "/v1/tenants/tenant-auth/usage", tl.ingest, http.StatusForbidden},
		{"finance key sends events", http.MethodPost, "/v1/events", tl.finance, http.StatusForbidden},
		{"usage without key", http.MethodGet, "/v1/tenants/tenant-auth/usage", "", http.StatusUnauthorized},
		{"finance key reads usage", http.MethodGet, "/v1/tenants/tenant-auth/usage", tl.finance, http.StatusOK},
		{"ingest key sends events", http.MethodPost, "/v1/events", tl.ingest, http.StatusAccepted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := tl.do(tc.method, tc.path, tc.key, pipeline.ContentTypeEvent, event)
			if status != tc.want {
				t.Fatalf("status %d, want %d: %s", status, tc.want, body)
			}
		})
	}
}
