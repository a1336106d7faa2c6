package webhooks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func answer(status int, body string) func(*http.Request) (int, string, error) {
	return func(*http.Request) (int, string, error) { return status, body, nil }
}

func (w *world) register(t *testing.T, sc Scope, types ...string) Endpoint {
	t.Helper()
	e, err := w.svc.Register(context.Background(), sc, NewEndpoint{URL: "https://hooks.example.com/tally", EventTypes: types})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func testTask(e Endpoint, createdAt time.Time) Task {
	m := Message{ID: "msg_test", Type: TypeInvoiceFinalized, Timestamp: time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC), Data: []byte(`{"x":1}`)}
	return Task{DeliveryID: DeliveryID(m.ID, e.ID), EndpointID: e.ID, Message: m, CreatedAt: createdAt}
}

// TestRetrySchedule: an endpoint that always answers 503. Worked by hand
// from the schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, then 10 h
// repeating) and the 72 h limit: attempts at 0, 5 s, 5 min 5 s,
// 35 min 5 s, 2 h 35 min 5 s, 7 h 35 min 5 s, 17 h 35 min 5 s, then every
// 10 h up to 67 h 35 min 5 s (the 12th); a 13th would start at
// 77 h 35 min 5 s, past 72 h, so the 12th fails the delivery.
func TestRetrySchedule(t *testing.T) {
	w := newWorld(t)
	w.answer = answer(503, "down")
	e := w.register(t, Scope{}, TypeInvoiceFinalized)
	start := w.clock.now
	task := testTask(e, start)
	want := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
		10 * time.Hour, 10 * time.Hour, 10 * time.Hour, 10 * time.Hour, 10 * time.Hour, 10 * time.Hour}
	for n := 1; ; n++ {
		d, err := w.svc.Deliver(context.Background(), task, n)
		if err != nil {
			t.Fatal(err)
		}
		if d.Done {
			if n != 12 {
				t.Fatalf("gave up after attempt %d, want 12", n)
			}
			break
		}
		if n > len(want) || d.RetryIn != want[n-1] {
			t.Fatalf("after attempt %d: retry in %v", n, d.RetryIn)
		}
		w.clock.advance(d.RetryIn)
	}
	if got := w.clock.now.Sub(start); got != 67*time.Hour+35*time.Minute+5*time.Second {
		t.Errorf("last attempt at +%v", got)
	}
	last := w.log.attempts[len(w.log.attempts)-1]
	if len(w.log.attempts) != 12 || last.Outcome != OutcomeFailed || last.HTTPStatus != 503 || last.Error != "status 503" ||
		w.log.attempts[0].Outcome != OutcomeRetrying || !w.log.attempts[0].NextAt.Equal(start.Add(5*time.Second)) {
		t.Errorf("log: %d attempts, last %+v, first %+v", len(w.log.attempts), last, w.log.attempts[0])
	}
	if got, _, _ := w.endpoints.Endpoint(context.Background(), e.ID); !got.DisabledAt.IsZero() {
		t.Error("disabled after 68 h of failure; the limit is 5 days")
	}
}

func TestJitterStaysWithinTenPercent(t *testing.T) {
	for range 1000 {
		d := DefaultJitter(10 * time.Hour)
		if d < 9*time.Hour || d > 11*time.Hour {
			t.Fatalf("jittered 10 h to %v", d)
		}
	}
}

// TestEndpointDisabledAfterFiveDays: one new message a day to an endpoint
// that answers 500; a success on day 2 restarts the count, so the
// endpoint is disabled by the first failure 5 days after day 3's.
func TestEndpointDisabledAfterFiveDays(t *testing.T) {
	w := newWorld(t)
	e := w.register(t, Scope{}, TypeInvoiceFinalized)
	day0 := w.clock.now
	for day := 0; day <= 9; day++ {
		w.clock.now = day0.Add(time.Duration(day) * 24 * time.Hour)
		w.answer = answer(500, "")
		if day == 2 {
			w.answer = answer(204, "")
		}
		task := testTask(e, w.clock.now)
		task.DeliveryID += string(rune('a' + day))
		before := len(w.requests)
		d, err := w.svc.Deliver(context.Background(), task, 1)
		if err != nil {
			t.Fatal(err)
		}
		got, _, _ := w.endpoints.Endpoint(context.Background(), e.ID)
		switch {
		case day < 8 && !got.DisabledAt.IsZero():
			t.Fatalf("day %d: disabled (failing since day 3)", day)
		case day == 8 && !got.DisabledAt.Equal(w.clock.now):
			t.Fatalf("day 8: not disabled, though failing since day 3: %+v", got)
		case day == 9:
			if len(w.requests) != before || !d.Done || !strings.HasPrefix(w.log.attempts[len(w.log.attempts)-1].Error, "endpoint disabled") {
				t.Errorf("day 9: a disabled endpoint was called or not logged: %+v", w.log.attempts[len(w.log.attempts)-1])
			}
		}
	}
}

func TestDeliveryRequest(t *testing.T) {
	w := newWorld(t)
	long := strings.Repeat("é", 6000) // 12,000 bytes; the excerpt cuts inside a rune
	w.answer = answer(200, long)
	e := w.register(t, Scope{}, TypeInvoiceFinalized)
	d, err := w.svc.Deliver(context.Background(), testTask(e, w.clock.now), 1)
	if err != nil || !d.Done {
		t.Fatalf("%+v %v", d, err)
	}
	r := w.requests[0]
	body, _ := io.ReadAll(r.Body)
	if string(body) != `{"type":"invoice.finalized","timestamp":"2026-12-02T02:00:00Z","data":{"x":1}}` {
		t.Errorf("body %s", body)
	}
	// 2026-12-02T02:00:00Z is 1796176800 (date -u -d @1796176800).
	if r.Header.Get("webhook-id") != "msg_test" || r.Header.Get("webhook-timestamp") != "1796176800" || r.Method != http.MethodPost ||
		r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", r.Header)
	}
	if sig := r.Header.Get("webhook-signature"); sig != hmacOracle(t, e.Secret, "msg_test", "1796176800", string(body)) {
		t.Errorf("signature %s", sig)
	}
	a := w.log.attempts[0]
	if a.Outcome != OutcomeSucceeded || a.HTTPStatus != 200 || len(a.Response) > ResponseExcerpt+2 || len(a.Response) < ResponseExcerpt-2 {
		t.Errorf("attempt: %s, %d, excerpt %d bytes", a.Outcome, a.HTTPStatus, len(a.Response))
	}
}

func TestTimeoutIsRetried(t *testing.T) {
	w := newWorld(t)
	w.answer = func(*http.Request) (int, string, error) { return 0, "", context.DeadlineExceeded }
	e := w.register(t, Scope{}, TypeInvoiceFinalized)
	d, err := w.svc.Deliver(context.Background(), testTask(e, w.clock.now), 1)
	if err != nil || d.Done || d.RetryIn != 5*time.Second || !strings.Contains(w.log.attempts[0].Error, "deadline") {
		t.Errorf("%+v %v %+v", d, err, w.log.attempts)
	}
	if dl, ok := w.requests[0].Context().Deadline(); !ok || time.Until(dl) > AttemptTimeout {
		t.Errorf("the attempt is not bounded by %v", AttemptTimeout)
	}
}

// TestRotationSignsWithBoth: for 24 h after a rotation both secrets
// sign; after, only the new one.
func TestRotationSignsWithBoth(t *testing.T) {
	w := newWorld(t)
	w.answer = answer(200, "")
	e := w.register(t, Scope{}, TypeInvoiceFinalized)
	rotated, err := w.svc.RotateSecret(context.Background(), Scope{}, e.ID)
	if err != nil || rotated.Secret == e.Secret {
		t.Fatal(err)
	}
	for _, c := range []struct {
		after time.Duration
		sigs  int
	}{{0, 2}, {SecretOverlap - time.Second, 2}, {SecretOverlap, 1}} {
		w.clock.now = rotated.PrevUntil.Add(-SecretOverlap).Add(c.after)
		if _, err := w.svc.Deliver(context.Background(), testTask(e, w.clock.now), 1); err != nil {
			t.Fatal(err)
		}
		r := w.requests[len(w.requests)-1]
		body, _ := io.ReadAll(r.Body)
		ts := r.Header.Get("webhook-timestamp")
		sigs := strings.Fields(r.Header.Get("webhook-signature"))
		if len(sigs) != c.sigs || sigs[0] != hmacOracle(t, rotated.Secret, "msg_test", ts, string(body)) ||
			(c.sigs == 2 && sigs[1] != hmacOracle(t, e.Secret, "msg_test", ts, string(body))) {
			t.Errorf("+%v after rotation: %d signatures %v", c.after, len(sigs), sigs)
		}
	}
}

func TestRegisterValidation(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for _, req := range []NewEndpoint{
		{URL: "https://hooks.example.com/", EventTypes: []string{"invoice.exploded"}},
		{URL: "https://hooks.example.com/"},
		{URL: "http://hooks.example.com/", EventTypes: []string{TypePayoutPaid}},
		{URL: "https://169.254.169.254/", EventTypes: []string{TypePayoutPaid}},
	} {
		_, err := w.svc.Register(ctx, Scope{}, req)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want invalid", req, err)
		}
		if len(req.EventTypes) > 0 && req.EventTypes[0] == "invoice.exploded" && !strings.Contains(err.Error(), TypeDisputeOverdue) {
			t.Errorf("an unknown type's error should list the catalogue: %v", err)
		}
	}
	// A tenant scope registers for its tenant only, and sees only its own.
	if _, err := w.svc.Register(ctx, Scope{Tenant: "t-a"}, NewEndpoint{URL: "https://hooks.example.com/", EventTypes: []string{TypeInvoiceSent}, Tenant: "t-b"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("tenant a registered for b: %v", err)
	}
	a := w.register(t, Scope{Tenant: "t-a"}, TypeInvoiceSent)
	fin := w.register(t, Scope{}, TypeInvoiceSent)
	if a.Tenant != "t-a" {
		t.Errorf("tenant scope's endpoint has tenant %q", a.Tenant)
	}
	if _, err := w.svc.Endpoint(ctx, Scope{Tenant: "t-b"}, a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("tenant b read a's endpoint: %v", err)
	}
	if es, _ := w.svc.Endpoints(ctx, Scope{Tenant: "t-a"}); len(es) != 1 || es[0].ID != a.ID {
		t.Errorf("tenant a lists %+v", es)
	}
	if es, _ := w.svc.Endpoints(ctx, Scope{}); len(es) != 2 {
		t.Errorf("finance lists %d endpoints, want 2", len(es))
	}
	if err := w.svc.DeleteEndpoint(ctx, Scope{}, fin.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.Endpoint(ctx, Scope{}, fin.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("a deleted endpoint reads: %v", err)
	}
}

// TestFanOutScopesTenants: a tenant's message goes to the finance
// endpoints of its type and to that tenant's, never to another tenant's.
func TestFanOutScopesTenants(t *testing.T) {
	w := newWorld(t)
	fin := w.register(t, Scope{}, TypeInvoiceFinalized)
	a := w.register(t, Scope{Tenant: "t-a"}, TypeInvoiceFinalized)
	w.register(t, Scope{Tenant: "t-b"}, TypeInvoiceFinalized)
	w.register(t, Scope{}, TypePayoutPaid)
	m := Message{ID: "msg_x", Type: TypeInvoiceFinalized, Tenant: "t-a", Data: []byte(`{}`)}
	if err := w.svc.FanOut(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for i, task := range w.queue.tasks {
		got[task.EndpointID] = w.queue.dedups[i]
	}
	dlv := func(ep string) string {
		h := sha256.Sum256([]byte("msg_x\x00" + ep))
		return "dlv_" + hex.EncodeToString(h[:16])
	}
	if len(got) != 2 || got[fin.ID] != dlv(fin.ID) || got[a.ID] != dlv(a.ID) {
		t.Errorf("fan-out: %v", got)
	}
}

// TestTenantNotEntitled: a tenant whose plan has no webhooks may neither
// register nor rotate; finance may.
func TestTenantNotEntitled(t *testing.T) {
	w := newWorld(t)
	w.svc.cfg.Entitled = func(_ context.Context, tenant string) (bool, string, error) {
		return tenant != "t-starter", "plan starter: api_keys_webhooks is not_available", nil
	}
	req := NewEndpoint{URL: "https://hooks.example.com/", EventTypes: []string{TypeInvoiceSent}}
	if _, err := w.svc.Register(context.Background(), Scope{Tenant: "t-starter"}, req); !errors.Is(err, ErrNotEntitled) {
		t.Errorf("starter registered: %v", err)
	}
	req.Tenant = "t-starter"
	e, err := w.svc.Register(context.Background(), Scope{}, req)
	if err != nil {
		t.Fatalf("finance for a starter tenant: %v", err)
	}
	if _, err := w.svc.RotateSecret(context.Background(), Scope{Tenant: "t-starter"}, e.ID); !errors.Is(err, ErrNotEntitled) {
		t.Errorf("starter rotated: %v", err)
	}
	if _, err := w.svc.Register(context.Background(), Scope{Tenant: "t-team"}, NewEndpoint{URL: "https://hooks.example.com/", EventTypes: []string{TypeInvoiceSent}}); err != nil {
		t.Errorf("team: %v", err)
	}
}
