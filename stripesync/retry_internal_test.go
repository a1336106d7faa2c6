package stripesync

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	c := &Client{cfg: Config{InitialBackoff: 200 * time.Millisecond, MaxBackoff: 10 * time.Second}}
	for n := 1; n <= 12; n++ {
		full := min(200*time.Millisecond<<(n-1), 10*time.Second)
		for range 200 {
			d := c.backoff(n, -1)
			if d < full/2 || d > full {
				t.Fatalf("attempt %d: wait %v outside [%v, %v]", n, d, full/2, full)
			}
		}
	}
	if d := c.backoff(1, 3*time.Second); d != 3*time.Second {
		t.Errorf("Retry-After 3s: wait %v", d)
	}
	if d := c.backoff(1, 0); d != 0 {
		t.Errorf("Retry-After 0: wait %v", d)
	}
	if d := c.backoff(1, time.Hour); d != 10*time.Second {
		t.Errorf("Retry-After 1h: wait %v, want capped at MaxBackoff", d)
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		"": -1, "0": 0, "2": 2 * time.Second, " 5 ": 5 * time.Second, "-3": -1, "soon": -1, "999999": time.Hour,
		"Mon, 02 Jan 2006 15:04:05 GMT": 0, // in the past
	} {
		if got := parseRetryAfter(in); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	stripeErr := func(status int, header ...string) error {
		h := http.Header{}
		for i := 0; i+1 < len(header); i += 2 {
			h.Set(header[i], header[i+1])
		}
		e := &stripe.Error{HTTPStatusCode: status, Code: "some_code", Msg: "m", Type: stripe.ErrorTypeInvalidRequest}
		e.SetLastResponse(&stripe.APIResponse{Header: h, StatusCode: status})
		return e
	}
	cases := []struct {
		name      string
		err       error
		obs       observed
		permanent bool
		after     time.Duration
	}{
		{"connection error", errors.New("connection reset by peer"), observed{}, false, -1},
		{"429 with Retry-After", stripeErr(429, "Retry-After", "7"), observed{}, false, 7 * time.Second},
		{"500", stripeErr(500), observed{}, false, -1},
		{"409", stripeErr(409), observed{}, false, -1},
		{"400", stripeErr(400), observed{}, true, -1},
		{"402", stripeErr(402), observed{}, true, -1},
		{"404", stripeErr(404), observed{}, true, -1},
		{"400 should retry", stripeErr(400, "Stripe-Should-Retry", "true"), observed{}, false, -1},
		{"500 should not retry", stripeErr(500, "Stripe-Should-Retry", "false"), observed{}, true, -1},
		{"undecodable 502", errors.New("Couldn't deserialize JSON"), observed{status: 502}, false, -1},
		{"undecodable 403", errors.New("Couldn't deserialize JSON"), observed{status: 403}, true, -1},
		{"undecodable 200", errors.New("Couldn't deserialize JSON"), observed{status: 200}, false, -1},
	}
	for _, tc := range cases {
		v := classify(tc.err, &tc.obs)
		if (v.permanent != nil) != tc.permanent {
			t.Errorf("%s: permanent = %v, want %v", tc.name, v.permanent != nil, tc.permanent)
		}
		if v.retryAfter != tc.after {
			t.Errorf("%s: retryAfter %v, want %v", tc.name, v.retryAfter, tc.after)
		}
		if v.permanent != nil && !errors.Is(v.permanent, ErrRejected) {
			t.Errorf("%s: not ErrRejected", tc.name)
		}
	}
}
