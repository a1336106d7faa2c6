package stripesync

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Defaults applied by [New] to zero fields of [Config].
const (
	DefaultAPIBase        = "https://api.stripe.com"
	DefaultMaxAttempts    = 6
	DefaultInitialBackoff = 200 * time.Millisecond
	DefaultMaxBackoff     = 10 * time.Second
	DefaultAttemptTimeout = 30 * time.Second
	DefaultDaysUntilDue   = 30
)

// Config configures a [Client]. Zero fields take the defaults above.
type Config struct {
	// Key is the Stripe secret key. Required: whether to run dry (no key)
	// is the caller's decision, not this package's. Never logged.
	Key string

	// APIBase is the Stripe API endpoint, default https://api.stripe.com.
	// Tests point it at stripe-mock (through a proxy).
	APIBase string

	// MaxAttempts is the number of attempts per request, first one
	// included, before a retryable failure is returned as ErrUnavailable.
	MaxAttempts int

	// InitialBackoff is the wait before the second attempt; it doubles
	// with each attempt up to MaxBackoff, with jitter (the wait is drawn
	// in [d/2, d]). A Retry-After header from Stripe replaces it, capped
	// at MaxBackoff.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration

	// AttemptTimeout bounds one HTTP attempt; a timed-out attempt is
	// retried under the same idempotency key.
	AttemptTimeout time.Duration

	// DaysUntilDue is set on every invoice (collection method
	// send_invoice).
	DaysUntilDue int

	// HTTPClient is the client used for requests; default a new
	// http.Client. Its Transport is wrapped, not modified.
	HTTPClient *http.Client

	// Logger receives retries and rejections; the zero value logs nothing.
	Logger zerolog.Logger
}

func (c Config) withDefaults() Config {
	if c.APIBase == "" {
		c.APIBase = DefaultAPIBase
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.InitialBackoff == 0 {
		c.InitialBackoff = DefaultInitialBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.DaysUntilDue == 0 {
		c.DaysUntilDue = DefaultDaysUntilDue
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	return c
}

// Validate reports what is wrong with c once defaults are applied. The
// secret key never appears in the error.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Key == "" {
		errs = append(errs, errors.New("key is required"))
	} else if strings.TrimSpace(c.Key) != c.Key || strings.ContainsAny(c.Key, " \t\r\n") {
		errs = append(errs, errors.New("key contains whitespace"))
	}
	if u, err := url.Parse(c.APIBase); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("api base %q must be an http(s) URL with a host", c.APIBase))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("max attempts %d must be at least 1", c.MaxAttempts))
	}
	if c.InitialBackoff < 0 || c.MaxBackoff < 0 || c.InitialBackoff > c.MaxBackoff {
		errs = append(errs, fmt.Errorf("backoff %v..%v must satisfy 0 <= initial <= max", c.InitialBackoff, c.MaxBackoff))
	}
	if c.AttemptTimeout < 0 {
		errs = append(errs, fmt.Errorf("attempt timeout %v must not be negative", c.AttemptTimeout))
	}
	if c.DaysUntilDue < 1 {
		errs = append(errs, fmt.Errorf("days until due %d must be at least 1", c.DaysUntilDue))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("validating stripe config: %w", err)
	}
	return nil
}

// String describes c with the key redacted, so that printing a Config by
// mistake does not leak it.
func (c Config) String() string {
	key := "(none)"
	if c.Key != "" {
		key = "(redacted)"
	}
	return fmt.Sprintf("stripesync.Config{Key:%s APIBase:%q MaxAttempts:%d InitialBackoff:%v MaxBackoff:%v AttemptTimeout:%v DaysUntilDue:%d}",
		key, c.APIBase, c.MaxAttempts, c.InitialBackoff, c.MaxBackoff, c.AttemptTimeout, c.DaysUntilDue)
}

// GoString is String, for %#v.
func (c Config) GoString() string { return c.String() }
