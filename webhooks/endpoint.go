package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// SecretOverlap is how long a rotated-out secret keeps signing.
const SecretOverlap = 24 * time.Hour

// Endpoint is a registered receiver.
type Endpoint struct {
	ID         string    `json:"id"`
	URL        string    `json:"url"`
	EventTypes []string  `json:"event_types"`
	Tenant     string    `json:"tenant,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	// Secret signs deliveries; shown once, when the endpoint is
	// registered or its secret rotated, never in a list.
	Secret string `json:"-"`
	// PrevSecret signs too until PrevUntil (a rotation's overlap).
	PrevSecret string    `json:"-"`
	PrevUntil  time.Time `json:"previous_secret_until,omitzero"`
	// DisabledAt is when the endpoint was disabled after failing for
	// DisableAfter; zero while it is enabled.
	DisabledAt     time.Time `json:"disabled_at,omitzero"`
	DisabledReason string    `json:"disabled_reason,omitempty"`
	Deleted        bool      `json:"-"`
	Version        uint64    `json:"-"`
}

// Secrets returns the secrets that sign a delivery at now.
func (e Endpoint) Secrets(now time.Time) []string {
	out := []string{e.Secret}
	if e.PrevSecret != "" && now.Before(e.PrevUntil) {
		out = append(out, e.PrevSecret)
	}
	return out
}

// NewEndpoint is a registration request.
type NewEndpoint struct {
	URL        string   `json:"url"`
	EventTypes []string `json:"event_types"`
	Tenant     string   `json:"tenant,omitempty"`
}

// Scope is what a caller may see: every endpoint (finance), or one
// tenant's (a tenant key; Tenant set).
type Scope struct {
	Tenant string
}

func (s Scope) sees(e Endpoint) bool { return s.Tenant == "" || e.Tenant == s.Tenant }

// Register validates and stores a new endpoint and returns it with its
// secret, the only time the secret is shown.
func (s *Service) Register(ctx context.Context, sc Scope, req NewEndpoint) (Endpoint, error) {
	if sc.Tenant != "" {
		if req.Tenant != "" && req.Tenant != sc.Tenant {
			return Endpoint{}, fmt.Errorf("tenant %q: a tenant key registers endpoints of its own tenant only: %w", req.Tenant, ErrInvalid)
		}
		req.Tenant = sc.Tenant
	}
	if err := s.entitled(ctx, sc); err != nil {
		return Endpoint{}, err
	}
	if err := s.validate(ctx, req); err != nil {
		return Endpoint{}, err
	}
	id, err := newID("ep_")
	if err != nil {
		return Endpoint{}, err
	}
	secret, err := NewSecret()
	if err != nil {
		return Endpoint{}, err
	}
	now := s.cfg.Now().UTC()
	types := slices.Clone(req.EventTypes)
	sort.Strings(types)
	e := Endpoint{ID: id, URL: req.URL, EventTypes: slices.Compact(types), Tenant: req.Tenant, CreatedAt: now,
		Secret: secret, Version: uint64(now.UnixNano())}
	if err := s.cfg.Endpoints.SaveEndpoint(ctx, e); err != nil {
		return Endpoint{}, fmt.Errorf("saving endpoint: %w", err)
	}
	s.log.Info().Str("endpoint", e.ID).Str("tenant", e.Tenant).Strs("event_types", e.EventTypes).Msg("webhook endpoint registered")
	return e, nil
}

func (s *Service) validate(ctx context.Context, req NewEndpoint) error {
	if strings.TrimSpace(req.URL) == "" {
		return fmt.Errorf("url is required: %w", ErrInvalid)
	}
	if len(req.EventTypes) == 0 {
		return fmt.Errorf("event_types is required, one or more of: %s: %w", strings.Join(typeNames(), ", "), ErrInvalid)
	}
	for _, t := range req.EventTypes {
		if !KnownType(t) {
			return fmt.Errorf("unknown event type %q; the catalogue: %s: %w", t, strings.Join(typeNames(), ", "), ErrInvalid)
		}
	}
	if err := s.cfg.Policy.CheckURL(ctx, s.cfg.Resolver, req.URL); err != nil {
		return fmt.Errorf("%w: %w", err, ErrInvalid)
	}
	return nil
}

// Endpoints lists the endpoints the scope sees, oldest first.
func (s *Service) Endpoints(ctx context.Context, sc Scope) ([]Endpoint, error) {
	all, err := s.cfg.Endpoints.Endpoints(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading endpoints: %w", err)
	}
	out := slices.DeleteFunc(all, func(e Endpoint) bool { return !sc.sees(e) })
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// Endpoint returns one endpoint the scope sees.
func (s *Service) Endpoint(ctx context.Context, sc Scope, id string) (Endpoint, error) {
	e, ok, err := s.cfg.Endpoints.Endpoint(ctx, id)
	if err != nil {
		return Endpoint{}, fmt.Errorf("reading endpoint: %w", err)
	}
	if !ok || !sc.sees(e) {
		return Endpoint{}, fmt.Errorf("endpoint %q: %w", id, ErrNotFound)
	}
	return e, nil
}

// DeleteEndpoint deletes an endpoint: nothing more is delivered to it.
func (s *Service) DeleteEndpoint(ctx context.Context, sc Scope, id string) error {
	e, err := s.Endpoint(ctx, sc, id)
	if err != nil {
		return err
	}
	e.Deleted = true
	return s.saveVersion(ctx, e)
}

// RotateSecret gives an endpoint a new secret and returns the endpoint
// with it; the old one keeps signing for SecretOverlap.
func (s *Service) RotateSecret(ctx context.Context, sc Scope, id string) (Endpoint, error) {
	if err := s.entitled(ctx, sc); err != nil {
		return Endpoint{}, err
	}
	e, err := s.Endpoint(ctx, sc, id)
	if err != nil {
		return Endpoint{}, err
	}
	secret, err := NewSecret()
	if err != nil {
		return Endpoint{}, err
	}
	e.PrevSecret, e.PrevUntil, e.Secret = e.Secret, s.cfg.Now().UTC().Add(SecretOverlap), secret
	if err := s.saveVersion(ctx, e); err != nil {
		return Endpoint{}, err
	}
	s.log.Info().Str("endpoint", e.ID).Time("previous_secret_until", e.PrevUntil).Msg("webhook secret rotated")
	return e, nil
}

// saveVersion saves e as its next version.
func (s *Service) saveVersion(ctx context.Context, e Endpoint) error {
	e.Version = max(e.Version+1, uint64(s.cfg.Now().UnixNano()))
	if err := s.cfg.Endpoints.SaveEndpoint(ctx, e); err != nil {
		return fmt.Errorf("saving endpoint %s: %w", e.ID, err)
	}
	return nil
}

// newID is prefix and 24 random hex digits.
func newID(prefix string) (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", errors.Join(errors.New("reading random bytes"), err)
	}
	return prefix + hex.EncodeToString(b[:]), nil
}
