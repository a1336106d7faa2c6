package stripesync_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/stripesync"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ok := stripesync.Config{Key: testKey}
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	cases := map[string]stripesync.Config{
		"no key":            {},
		"key with space":    {Key: testKey + " "},
		"bad base":          {Key: testKey, APIBase: "api.stripe.com"},
		"negative attempts": {Key: testKey, MaxAttempts: -1},
		"backoff inverted":  {Key: testKey, InitialBackoff: time.Second, MaxBackoff: time.Millisecond},
		"negative timeout":  {Key: testKey, AttemptTimeout: -time.Second},
	}
	for name, cfg := range cases {
		err := cfg.Validate()
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if _, nerr := stripesync.New(cfg); nerr == nil {
			t.Errorf("%s: New accepted it", name)
		}
		if strings.Contains(err.Error(), testKey) {
			t.Errorf("%s: error leaks the key: %v", name, err)
		}
	}
}

func TestConfigStringRedactsKey(t *testing.T) {
	t.Parallel()
	cfg := stripesync.Config{Key: testKey, APIBase: "http://x"}
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%v", &cfg)} {
		if strings.Contains(s, testKey) {
			t.Errorf("formatted config leaks the key: %s", s)
		}
	}
}

// stripe-mock, like Stripe, quotes the Authorization header back in an
// authentication error. Neither the returned error nor the logs may carry
// the key.
func TestSecretKeyNeverLoggedOrReturned(t *testing.T) {
	t.Parallel()
	const badKey = "sk_test_not_valid_looking" // stripe-mock rejects keys with extra underscores
	p := newStripeProxy(t)
	var logs bytes.Buffer
	c, err := stripesync.New(stripesync.Config{
		Key: badKey, APIBase: p.URL(), InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
		Logger: zerolog.New(&logs).Level(zerolog.DebugLevel),
	})
	if err != nil {
		t.Fatal(err)
	}
	p.inject(rCustomerSearch, serverError) // a retry, to log a warning too

	_, err = c.PushInvoice(context.Background(), testInvoice(t))
	var pe *stripesync.PermanentError
	if !errors.As(err, &pe) || pe.Status != 401 {
		t.Fatalf("err %v, want a 401 PermanentError", err)
	}
	if !strings.Contains(pe.Message, "[redacted]") {
		t.Errorf("message %q: want stripe-mock's echo of the key, redacted", pe.Message)
	}
	if strings.Contains(err.Error(), badKey) {
		t.Errorf("error leaks the key: %v", err)
	}
	if logs.Len() == 0 || strings.Contains(logs.String(), badKey) {
		t.Errorf("logs leak the key (or are empty):\n%s", logs.String())
	}
}
