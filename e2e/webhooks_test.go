package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tally-billing/tally/daemon"
)

// receiver is a webhook endpoint under test: it records every request and
// answers 503 while failing says so.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []received
	failing func(n int) bool // n: the request's 1-based number
}

type received struct {
	id, ts, sig string
	body        []byte
	status      int
}

func newReceiver(t *testing.T, failing func(n int) bool) *receiver {
	r := &receiver{failing: failing}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		status := http.StatusOK
		if r.failing(len(r.got) + 1) {
			status = http.StatusServiceUnavailable
		}
		r.got = append(r.got, received{req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"),
			req.Header.Get("webhook-signature"), body, status})
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"seen":true}`))
	}))
	t.Cleanup(r.Close)
	return r
}

// ofType returns the requests whose body's type is typ.
func (r *receiver) ofType(typ string) []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []received
	for _, g := range r.got {
		var b struct{ Type string }
		if json.Unmarshal(g.body, &b) == nil && b.Type == typ {
			out = append(out, g)
		}
	}
	return out
}

func (r *receiver) succeeded(typ string) bool {
	for _, g := range r.ofType(typ) {
		if g.status == http.StatusOK {
			return true
		}
	}
	return false
}

// validUnder checks a received request's signatures against secret with
// an implementation of the Standard Webhooks scheme written here: HMAC-
// SHA256 keyed by the base64 after whsec_, over "id.timestamp.body".
func validUnder(t *testing.T, g received, secret string) bool {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(g.id + "." + g.ts + "."))
	mac.Write(g.body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, s := range strings.Fields(g.sig) {
		if s == want {
			return true
		}
	}
	return false
}

// messageID is the id SPEC's deterministic rule gives a fact, computed
// here: msg_ and 32 hex digits of SHA-256(type 0 key 0).
func messageID(typ, key string) string {
	h := sha256.Sum256([]byte(typ + "\x00" + key + "\x00"))
	return "msg_" + hex.EncodeToString(h[:16])
}

func withWebhooks(backoff ...time.Duration) option {
	return func(c *daemon.Config) { c.WebhooksAllowLocal, c.WebhooksBackoff = true, backoff }
}

type endpointAnswer struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

func (tl *tally) register(url string, types ...string) endpointAnswer {
	tl.t.Helper()
	body, _ := json.Marshal(map[string]any{"url": url, "event_types": types})
	status, _, out := tl.do(http.MethodPost, "/v1/webhooks/endpoints", tl.finance, "application/json", body)
	if status != http.StatusCreated {
		tl.t.Fatalf("registering %s: %d %s", url, status, out)
	}
	var e endpointAnswer
	if err := json.Unmarshal(out, &e); err != nil || !strings.HasPrefix(e.Secret, "whsec_") {
		tl.t.Fatalf("registration answer %s: %v", out, err)
	}
	return e
}

type deliveryAnswer struct {
	ID        string `json:"id"`
	MessageID string `json:"message_id"`
	Type      string `json:"type"`
	Status    string `json:"status"`
	Attempts  []struct {
		Attempt    int    `json:"attempt"`
		Outcome    string `json:"outcome"`
		HTTPStatus int    `json:"http_status"`
		Response   string `json:"response"`
	} `json:"attempts"`
}

func (tl *tally) deliveries(query string) []deliveryAnswer {
	tl.t.Helper()
	status, _, out := tl.do(http.MethodGet, "/v1/webhooks/deliveries?"+query, tl.finance, "", nil)
	if status != http.StatusOK {
		tl.t.Fatalf("deliveries: %d %s", status, out)
	}
	var res struct{ Deliveries []deliveryAnswer }
	if err := json.Unmarshal(out, &res); err != nil {
		tl.t.Fatal(err)
	}
	return res.Deliveries
}

// TestWebhookPayoutPaid: a payout run's payout.paid reaches a receiver
// that fails its first two requests: three requests under one id, each
// with a valid signature; the delivery log shows the three attempts; a
// provider without KYC gets payout.held; a manual retry after a
// rotation is signed with both secrets; bad registrations are 400s.
func TestWebhookPayoutPaid(t *testing.T) {
	stripe := newStripeRecorder(t)
	rcv := newReceiver(t, func(n int) bool { return n <= 2 })
	tl := startTally(t, withClock(december2), withStripe(stripe.URL), withWebhooks(500*time.Millisecond))

	for _, bad := range []string{
		`{"url":"` + rcv.URL + `","event_types":["payout.exploded"]}`,
		`{"url":"http://169.254.169.254/latest","event_types":["payout.paid"]}`,
		`{"url":"","event_types":["payout.paid"]}`,
	} {
		if status, _, out := tl.do(http.MethodPost, "/v1/webhooks/endpoints", tl.finance, "application/json", []byte(bad)); status != http.StatusBadRequest {
			t.Errorf("registering %s: %d %s, want 400", bad, status, out)
		} else if strings.Contains(bad, "exploded") && !strings.Contains(string(out), "payout.held") {
			t.Errorf("an unknown type's 400 should list the catalogue: %s", out)
		}
	}
	ep := tl.register(rcv.URL, "payout.paid")
	rcvHeld := newReceiver(t, func(int) bool { return false })
	tl.register(rcvHeld.URL, "payout.held")

	tl.mustAccept(3, 0, kyc("wh-kyc", "prov-wh", nov(1, 0), "acct_wh1"), sale("wh-o", "prov-wh", nov(2, 0), "80.00", "0"),
		sale("wh-o2", "prov-nokyc", nov(2, 0), "80.00", "0"))
	tl.waitRows("prov-wh", 2)
	tl.waitRows("prov-nokyc", 1)
	run := tl.runPayouts("2026-11-30T00:00:00Z")
	if len(run.Payouts) != 1 || run.Payouts[0].Provider != "prov-wh" {
		t.Fatalf("payout run: %+v", run.Payouts)
	}
	paidID := messageID("payout.paid", run.Payouts[0].ID)

	waitFor(t, 60*time.Second, "payout.paid delivered", func() bool { return rcv.succeeded("payout.paid") })
	got := rcv.ofType("payout.paid")
	if len(got) != 3 {
		t.Fatalf("payout.paid requests: %d, want 3 (two 503s, then 200)", len(got))
	}
	for i, g := range got {
		if g.id != paidID {
			t.Errorf("request %d: webhook-id %s, want %s", i+1, g.id, paidID)
		}
		if !validUnder(t, g, ep.Secret) {
			t.Errorf("request %d: signature %q not valid under the endpoint's secret", i+1, g.sig)
		}
		if g.ts != "1796176800" { // 2026-12-02T02:00:00Z, the daemon's clock (date -d @1796176800 -u)
			t.Errorf("request %d: webhook-timestamp %s", i+1, g.ts)
		}
	}
	var body struct {
		Type string
		Data struct {
			PayoutID string `json:"payout_id"`
			Amount   string
			Provider string
		}
	}
	if err := json.Unmarshal(got[2].body, &body); err != nil || body.Data.Amount != "68.00" || body.Data.Provider != "prov-wh" {
		t.Errorf("payout.paid body %s: %v", got[2].body, err)
	}

	// payout.held: prov-nokyc has 68.00 available (80 − 15 %), no KYC.
	waitFor(t, 30*time.Second, "payout.held delivered", func() bool { return rcvHeld.succeeded("payout.held") })
	if h := rcvHeld.ofType("payout.held"); len(h) != 1 || !strings.Contains(string(h[0].body), `"available":"68.00"`) {
		t.Errorf("payout.held: %d requests, first %s", len(h), h[0].body)
	}

	var paid deliveryAnswer
	waitFor(t, 30*time.Second, "the delivery log", func() bool {
		for _, d := range tl.deliveries("endpoint=" + ep.ID) {
			if d.MessageID == paidID && d.Status == "succeeded" {
				paid = d
				return true
			}
		}
		return false
	})
	if len(paid.Attempts) != 3 || paid.Attempts[0].HTTPStatus != 200 || paid.Attempts[1].HTTPStatus != 503 ||
		paid.Attempts[2].HTTPStatus != 503 || paid.Attempts[0].Response != `{"seen":true}` {
		t.Errorf("delivery log: %+v", paid)
	}
	if ds := tl.deliveries("endpoint=" + ep.ID + "&status=failed"); len(ds) != 0 {
		t.Errorf("failed deliveries: %+v", ds)
	}

	// A rotation, then a manual retry: signed with the new and the old.
	status, _, out := tl.do(http.MethodPost, "/v1/webhooks/endpoints/"+ep.ID+"/rotate-secret", tl.finance, "", nil)
	var rotated endpointAnswer
	if status != http.StatusOK || json.Unmarshal(out, &rotated) != nil || rotated.Secret == ep.Secret {
		t.Fatalf("rotating: %d %s", status, out)
	}
	if status, _, out := tl.do(http.MethodPost, "/v1/webhooks/deliveries/"+paid.ID+"/retry", tl.finance, "", nil); status != http.StatusAccepted {
		t.Fatalf("retrying: %d %s", status, out)
	}
	waitFor(t, 30*time.Second, "the manual retry", func() bool { return len(rcv.ofType("payout.paid")) == 4 })
	again := rcv.ofType("payout.paid")[3]
	if again.id != paidID || !validUnder(t, again, rotated.Secret) || !validUnder(t, again, ep.Secret) || len(strings.Fields(again.sig)) != 2 {
		t.Errorf("after rotation: id %s, signatures %q", again.id, again.sig)
	}
}

// TestWebhookRestartMidRetry: tally stops while a delivery waits for its
// retry; once started again it delivers the message, under the same id.
func TestWebhookRestartMidRetry(t *testing.T) {
	stripe := newStripeRecorder(t)
	var mu sync.Mutex
	up := false
	rcv := newReceiver(t, func(int) bool { mu.Lock(); defer mu.Unlock(); return !up })
	tl := startTally(t, withClock(december2), withStripe(stripe.URL), withWebhooks(3*time.Second))
	tl.register(rcv.URL, "payout.paid")
	tl.mustAccept(2, 0, kyc("wr-kyc", "prov-wr", nov(1, 0), "acct_wr1"), sale("wr-o", "prov-wr", nov(2, 0), "80.00", "0"))
	tl.waitRows("prov-wr", 2)
	run := tl.runPayouts("2026-11-30T00:00:00Z")
	if len(run.Payouts) != 1 {
		t.Fatalf("payout run: %+v", run.Payouts)
	}
	want := messageID("payout.paid", run.Payouts[0].ID)
	waitFor(t, 30*time.Second, "a failed attempt", func() bool { return len(rcv.ofType("payout.paid")) >= 1 })
	cfg := tl.cfg
	tl.stop()
	mu.Lock()
	up = true
	mu.Unlock()
	tl = restartTally(t, cfg)
	waitFor(t, 90*time.Second, "delivery after the restart", func() bool { return rcv.succeeded("payout.paid") })
	for i, g := range rcv.ofType("payout.paid") {
		if g.id != want {
			t.Errorf("request %d: id %s, want %s", i+1, g.id, want)
		}
	}
	if n := tl.count(`SELECT count() FROM webhook_messages FINAL WHERE type = 'payout.paid'`); n != 1 {
		t.Errorf("payout.paid messages logged: %d, want 1", n)
	}
}

// TestWebhookTenantScope: tenant keys register endpoints for their own
// tenant where the plan has api_keys_webhooks (team: webhooks_only,
// business: included; starter: not_available → 403); a period close's
// invoice.finalized reaches the finance endpoint for every tenant and
// each tenant's endpoint for its own invoice only.
func TestWebhookTenantScope(t *testing.T) {
	keysOpt, keys := withTenantKeys(t, "t-team", "t-starter", "t-biz")
	tl := startTally(t, withClock(december2), keysOpt, withWebhooks(500*time.Millisecond))
	tl.mustAccept(3, 0, subStart("wt-1", "t-team", "team", nov(1, 0), ""), subStart("wt-2", "t-starter", "starter", nov(1, 0), ""),
		subStart("wt-3", "t-biz", "business", nov(1, 0), ""))
	for _, tenant := range []string{"t-team", "t-starter", "t-biz"} {
		tl.waitRows(tenant, 1)
	}
	all := newReceiver(t, func(int) bool { return false })
	team := newReceiver(t, func(int) bool { return false })
	biz := newReceiver(t, func(int) bool { return false })
	tl.register(all.URL, "invoice.finalized")
	reg := func(key, url, tenant string) (int, []byte) {
		body, _ := json.Marshal(map[string]any{"url": url, "event_types": []string{"invoice.finalized"}, "tenant": tenant})
		status, _, out := tl.do(http.MethodPost, "/v1/webhooks/endpoints", key, "application/json", body)
		return status, out
	}
	// The live state folds the subscriptions shortly after they are stored.
	var teamEP endpointAnswer
	waitFor(t, 30*time.Second, "t-team's registration", func() bool {
		status, out := reg(keys["t-team"], team.URL, "")
		return status == http.StatusCreated && json.Unmarshal(out, &teamEP) == nil
	})
	if status, out := reg(keys["t-biz"], biz.URL, ""); status != http.StatusCreated {
		t.Fatalf("t-biz: %d %s", status, out)
	}
	if status, out := reg(keys["t-starter"], all.URL, ""); status != http.StatusForbidden || !strings.Contains(string(out), "not_available") {
		t.Errorf("t-starter (api_keys_webhooks not_available): %d %s, want 403", status, out)
	}
	if status, out := reg(keys["t-team"], team.URL, "t-biz"); status != http.StatusBadRequest {
		t.Errorf("t-team registering for t-biz: %d %s, want 400", status, out)
	}
	if status, _, out := tl.do(http.MethodGet, "/v1/webhooks/endpoints/"+teamEP.ID, keys["t-biz"], "", nil); status != http.StatusNotFound {
		t.Errorf("t-biz reading t-team's endpoint: %d %s, want 404", status, out)
	}

	tl.closePeriod("2026-11")
	waitFor(t, 60*time.Second, "every invoice.finalized", func() bool {
		return len(all.ofType("invoice.finalized")) == 3 && len(team.ofType("invoice.finalized")) >= 1 && len(biz.ofType("invoice.finalized")) >= 1
	})
	for name, r := range map[string]*receiver{"t-team": team, "t-biz": biz} {
		for _, g := range r.ofType("invoice.finalized") {
			var b struct{ Data struct{ Tenant string } }
			if err := json.Unmarshal(g.body, &b); err != nil || b.Data.Tenant != name {
				t.Errorf("%s's endpoint received %s", name, g.body)
			}
		}
	}
	status, _, out := tl.do(http.MethodGet, "/v1/webhooks/deliveries", keys["t-team"], "", nil)
	var res struct{ Deliveries []deliveryAnswer }
	if status != http.StatusOK || json.Unmarshal(out, &res) != nil || len(res.Deliveries) != 1 {
		t.Errorf("t-team's delivery log: %d %s", status, out)
	}
}
