package stripesync

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
)

// call runs one Stripe request, fn, until it succeeds, fails permanently, or
// Config.MaxAttempts attempts have failed with retryable errors. fn must
// send the same request each time (same idempotency key and parameters);
// it receives a context bounded by Config.AttemptTimeout that it must put on
// the stripe-go params.
//
// Outcomes: nil; a *PermanentError (any 4xx but 409 and 429, or a response
// with Stripe-Should-Retry: false); an error wrapping ErrUnavailable after
// the last attempt; or the ctx error if ctx ends first.
func (c *Client) call(ctx context.Context, op, idemKey string, fn func(ctx context.Context) error) error {
	log := c.log.With().Str("op", op).Logger()
	if idemKey != "" {
		log = log.With().Str("idempotency_key", idemKey).Logger()
	}
	var last error
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			if last != nil {
				return fmt.Errorf("%s: %w (after %d attempts, last error: %s)", op, err, n-1, c.redact(last.Error()))
			}
			return fmt.Errorf("%s: %w", op, err)
		}
		obs := &observed{}
		actx, cancel := context.WithTimeout(context.WithValue(ctx, observedKey{}, obs), c.cfg.AttemptTimeout)
		err := fn(actx)
		cancel()
		if err == nil {
			if n > 1 {
				log.Info().Int("attempt", n).Msg("stripe request succeeded after retries")
			}
			return nil
		}
		if errors.Is(err, ErrConflict) {
			return fmt.Errorf("%s: %w", op, err) // Stripe's data, not the network: retrying cannot help
		}
		last = err
		v := classify(err, obs)
		if v.permanent != nil {
			v.permanent.Op = op
			v.permanent.Message = c.redact(v.permanent.Message)
			log.Error().Int("attempt", n).Int("status", v.permanent.Status).
				Str("stripe_code", v.permanent.Code).Str("stripe_message", v.permanent.Message).
				Str("request_id", v.permanent.RequestID).Msg("stripe rejected request")
			return v.permanent
		}
		if ctx.Err() != nil {
			continue // reported at the top of the loop
		}
		if n >= c.cfg.MaxAttempts {
			log.Error().Str("error", c.redact(err.Error())).Int("attempts", n).Msg("stripe request failed, giving up")
			return fmt.Errorf("%s: %w after %d attempts: %s", op, ErrUnavailable, n, c.redact(err.Error()))
		}
		d := c.backoff(n, v.retryAfter)
		log.Warn().Str("error", c.redact(err.Error())).Int("attempt", n).Int("status", v.status).Dur("retry_in", d).Msg("stripe request failed, retrying")
		if err := c.sleep(ctx, d); err != nil {
			continue // ctx ended; reported at the top of the loop
		}
	}
}

// redact removes the secret key from text bound for an error or a log:
// Stripe (and stripe-mock) may quote the Authorization header back in an
// authentication error's message.
func (c *Client) redact(s string) string {
	return strings.ReplaceAll(s, c.cfg.Key, "[redacted]")
}

// backoff is the wait after the n-th failed attempt: Retry-After when Stripe
// sent one, else InitialBackoff·2^(n-1) with "equal jitter" (uniform in
// [d/2, d]); both capped at MaxBackoff.
func (c *Client) backoff(n int, retryAfter time.Duration) time.Duration {
	if retryAfter >= 0 {
		return min(retryAfter, c.cfg.MaxBackoff)
	}
	d := c.cfg.InitialBackoff
	for i := 1; i < n && d < c.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.cfg.MaxBackoff)
	if half := d / 2; half > 0 {
		d = half + rand.N(d-half+1)
	}
	return d
}

// verdict is what classify makes of a failed attempt.
type verdict struct {
	permanent  *PermanentError // non-nil: do not retry
	status     int             // HTTP status if a response arrived, else 0
	retryAfter time.Duration   // from Retry-After; -1 when absent
}

// classify decides whether a failed attempt is worth retrying:
//   - no response at all (connection refused or reset, timeout, response
//     lost): retry — the idempotency key makes it safe;
//   - Stripe-Should-Retry: true/false on an error response: obey it;
//   - 409 (idempotency key in use by a concurrent request), 429, 5xx: retry;
//   - any other 4xx: permanent;
//   - a 2xx whose body could not be decoded: retry (the replay answers the
//     same object).
func classify(err error, obs *observed) verdict {
	v := verdict{retryAfter: -1}
	var header http.Header
	var se *stripe.Error
	if errors.As(err, &se) && se.HTTPStatusCode != 0 {
		v.status = se.HTTPStatusCode
		if se.LastResponse != nil {
			header = se.LastResponse.Header
		}
	} else if obs.status != 0 {
		// A response arrived but stripe-go could not decode it (a proxy's
		// HTML 502, say), or the body was cut short.
		v.status, header = obs.status, obs.header
	}
	if v.status == 0 || v.status < 400 {
		return v
	}
	v.retryAfter = parseRetryAfter(header.Get("Retry-After"))

	retry := v.status == http.StatusConflict || v.status == http.StatusTooManyRequests || v.status >= 500
	switch strings.ToLower(header.Get("Stripe-Should-Retry")) {
	case "true":
		retry = true
	case "false":
		retry = false
	}
	if retry {
		return v
	}

	pe := &PermanentError{Status: v.status}
	if se != nil {
		pe.Type = string(se.Type)
		pe.Code = string(se.Code)
		pe.DeclineCode = string(se.DeclineCode)
		pe.Param = se.Param
		pe.Message = se.Msg
		pe.RequestID = se.RequestID
	} else {
		pe.Message = truncate(err.Error(), 300)
		pe.RequestID = header.Get("Request-Id")
	}
	v.permanent = pe
	return v
}

// parseRetryAfter reads a Retry-After value in seconds or as an HTTP date;
// -1 when absent or unreadable.
func parseRetryAfter(s string) time.Duration {
	s = strings.TrimSpace(s)
	if s == "" {
		return -1
	}
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
		if secs < 0 {
			return -1
		}
		if secs > int64(time.Hour/time.Second) {
			return time.Hour
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(s); err == nil {
		return max(time.Until(t), 0)
	}
	return -1
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// observed is what observingTransport saw of the last response of one
// attempt. stripe-go turns an error response whose body is not Stripe's
// JSON into a plain error without the status; this keeps the status so that
// such a response is still classified by it.
type observed struct {
	status int
	header http.Header
}

type observedKey struct{}

// observingTransport records the status and headers of each response into
// the *observed carried by the request's context (set by call). RoundTrip
// runs on the goroutine that called http.Client.Do, so no locking is needed.
//
// It also clears GetBody on the request it passes on: net/http silently
// resends a request carrying an Idempotency-Key when a reused connection
// dies before the answer, which would make one attempt of call two requests.
// Without GetBody a request with a body is not resent, so every attempt is
// exactly one request and MaxAttempts means what it says.
type observingTransport struct{ base http.RoundTripper }

func (t observingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.GetBody != nil {
		r2 := *r // shallow copy: a RoundTripper must not modify its request
		r2.GetBody = nil
		r = &r2
	}
	resp, err := t.base.RoundTrip(r)
	if obs, ok := r.Context().Value(observedKey{}).(*observed); ok && err == nil {
		obs.status = resp.StatusCode
		obs.header = resp.Header.Clone()
	}
	return resp, err
}
