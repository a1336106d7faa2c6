package webhookstest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/tally-billing/tally/chlocal"
	"github.com/tally-billing/tally/chlocal/chlocaltest"
	"github.com/tally-billing/tally/chstore/chstoretest"
	"github.com/tally-billing/tally/webhooks"
)

var chServer *chlocal.Server

func TestMain(m *testing.M) { chlocaltest.Main(m, "webhookstest", &chServer) }

var t0 = time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC)

func TestEndpointVersions(t *testing.T) {
	w := chstoretest.Migrated(t, chServer, "webhooks").Webhooks()
	ctx := context.Background()
	e := webhooks.Endpoint{ID: "ep_1", URL: "https://hooks.example.com/", EventTypes: []string{"payout.paid"}, Tenant: "t1",
		CreatedAt: t0, Secret: "whsec_a", Version: 1}
	for _, v := range []webhooks.Endpoint{e, func() webhooks.Endpoint {
		r := e
		r.Secret, r.PrevSecret, r.PrevUntil, r.Version = "whsec_b", "whsec_a", t0.Add(24*time.Hour), 2
		return r
	}()} {
		if err := w.SaveEndpoint(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	got, ok, err := w.Endpoint(ctx, "ep_1")
	if err != nil || !ok || got.Secret != "whsec_b" || got.PrevSecret != "whsec_a" || !got.PrevUntil.Equal(t0.Add(24*time.Hour)) ||
		!got.DisabledAt.IsZero() || got.Tenant != "t1" || got.Version != 2 || !got.CreatedAt.Equal(t0) {
		t.Fatalf("latest version: %+v %v %v", got, ok, err)
	}
	gone := got
	gone.Deleted, gone.Version = true, 3
	if err := w.SaveEndpoint(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := w.Endpoint(ctx, "ep_1"); ok {
		t.Error("a deleted endpoint reads")
	}
	if all, _ := w.Endpoints(ctx); len(all) != 0 {
		t.Errorf("endpoints after delete: %+v", all)
	}
}

func TestMessagesAndAttempts(t *testing.T) {
	w := chstoretest.Migrated(t, chServer, "webhooks").Webhooks()
	ctx := context.Background()
	m := webhooks.Message{ID: "msg_1", Type: "payout.paid", Timestamp: t0, Data: json.RawMessage(`{"amount":"68.00"}`)}
	for range 2 {
		if err := w.SaveMessages(ctx, []webhooks.Message{m}); err != nil {
			t.Fatal(err)
		}
	}
	known, err := w.KnownMessages(ctx, []string{"msg_1", "msg_2"})
	if err != nil || !known["msg_1"] || known["msg_2"] {
		t.Errorf("known %v %v", known, err)
	}
	back, ok, err := w.Message(ctx, "msg_1")
	if err != nil || !ok || string(back.Data) != `{"amount":"68.00"}` || !back.Timestamp.Equal(t0) {
		t.Errorf("message back: %+v %v %v", back, ok, err)
	}
	// ep_a: fails at 0 and 1 h, succeeds at 2 h, fails at 3 h and 4 h:
	// failing since 3 h. ep_b: only failures, since 1 h. ep_c: none.
	attempt := func(ep string, h int, outcome string) webhooks.Attempt {
		return webhooks.Attempt{DeliveryID: "dlv_" + ep, MessageID: "msg_1", EndpointID: ep, Type: "payout.paid", N: h + 1,
			At: t0.Add(time.Duration(h) * time.Hour), Outcome: outcome, HTTPStatus: 503, LatencyMS: 12, Response: "down", Error: "status 503"}
	}
	for _, a := range []webhooks.Attempt{
		attempt("ep_a", 0, webhooks.OutcomeRetrying), attempt("ep_a", 1, webhooks.OutcomeRetrying),
		attempt("ep_a", 2, webhooks.OutcomeSucceeded), attempt("ep_a", 3, webhooks.OutcomeRetrying),
		attempt("ep_a", 4, webhooks.OutcomeFailed), attempt("ep_b", 1, webhooks.OutcomeRetrying),
	} {
		if err := w.RecordAttempt(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	for ep, want := range map[string]time.Time{"ep_a": t0.Add(3 * time.Hour), "ep_b": t0.Add(time.Hour), "ep_c": {}} {
		if got, err := w.FailingSince(ctx, ep); err != nil || !got.Equal(want) {
			t.Errorf("%s failing since %v (%v), want %v", ep, got, err, want)
		}
	}
	as, err := w.Attempts(ctx, webhooks.AttemptFilter{EndpointID: "ep_a"})
	if err != nil || len(as) != 5 || as[0].N != 5 || as[0].Outcome != webhooks.OutcomeFailed || as[0].LatencyMS != 12 || as[0].Response != "down" {
		t.Errorf("ep_a attempts: %d, newest %+v, %v", len(as), as[0], err)
	}
	if as, _ := w.Attempts(ctx, webhooks.AttemptFilter{EndpointIDs: []string{"ep_b", "ep_c"}}); len(as) != 1 || as[0].EndpointID != "ep_b" {
		t.Errorf("scoped attempts: %+v", as)
	}
	if as, _ := w.Attempts(ctx, webhooks.AttemptFilter{EndpointIDs: []string{}}); len(as) != 0 {
		t.Errorf("an empty scope reads %d attempts", len(as))
	}
}
