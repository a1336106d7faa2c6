package webhooks

import "errors"

var (
	// ErrInvalid wraps a request the API answers with 400: a bad URL, an
	// unknown event type, a refused target.
	ErrInvalid = errors.New("invalid webhook request")
	// ErrNotFound is an endpoint or delivery that does not exist (or that
	// the caller may not see).
	ErrNotFound = errors.New("not found")
	// ErrNotEntitled is a tenant whose plan does not include webhooks
	// (api_keys_webhooks is not_available).
	ErrNotEntitled = errors.New("not entitled to webhooks")
	// ErrTargetRefused is a URL or an address Tally will not deliver to:
	// loopback, private or link-local.
	ErrTargetRefused = errors.New("webhook target refused")
)
