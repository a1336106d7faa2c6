// Package webhttp is the HTTP side of webhook delivery: a client whose
// dialer applies the target policy to every resolved address it
// connects to (so a name that resolves to an internal address at
// delivery time is refused, whatever it resolved to at registration),
// that follows no redirect and uses no proxy.
package webhttp

import (
	"net"
	"net/http"
	"time"

	"github.com/tally-billing/tally/webhooks"
)

// New returns a client for webhook deliveries under policy. The caller
// bounds each request with its context (webhooks.AttemptTimeout).
func New(policy webhooks.TargetPolicy) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: policy.DialControl}
	transport := &http.Transport{
		Proxy:                  nil, // a proxy would connect for us, past the dialer's check
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  webhooks.AttemptTimeout,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport: transport,
		// A redirect is the receiver's answer, logged as a failure: it is
		// never followed (it could point anywhere).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
