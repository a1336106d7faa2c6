package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tally-billing/tally/entitlements"
)

// Entitlements answers what a tenant may do now (SPEC §6) from the live
// tenant state (entitlements.State).
type Entitlements interface {
	// Entitlements returns the tenant's view once every event stored at
	// or below seq is in the state.
	Entitlements(ctx context.Context, tenant string, seq uint64) (*entitlements.View, error)
	// Check answers one capability likewise; an unknown one is an
	// *entitlements.UnknownCapabilityError.
	Check(ctx context.Context, tenant, capability string, seq uint64) (entitlements.CheckResult, error)
}

// stateWait bounds the wait for the tenant state to fold what the
// barrier found stored.
const stateWait = 30 * time.Second

// unknownCapabilityBody is the 404 of a check of an unknown capability.
type unknownCapabilityBody struct {
	Error        string   `json:"error"`
	Capabilities []string `json:"capabilities"`
}

// entitlementRoutes serves the entitlement reads. They pass the
// read-your-writes barrier themselves (not through consistent): they need
// the position it found stored.
func entitlementRoutes(ents Entitlements, b Barrier) http.Handler {
	r := chi.NewRouter()
	r.Get("/", entitlementsHandler(ents, b, false))
	r.Get("/{capability}", entitlementsHandler(ents, b, true))
	return r
}

// entitlementsHandler serves GET /v1/tenants/{tenant}/entitlements and,
// with a capability, GET /v1/tenants/{tenant}/entitlements/{capability}.
// It passes the read-your-writes barrier itself, for the position the
// barrier found stored, and waits for the tenant state to fold up to it:
// the answer includes every event acknowledged before the request.
func entitlementsHandler(ents Entitlements, b Barrier, check bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tenant := chi.URLParam(r, "tenant")
		p, err := b.Barrier(r.Context())
		if err != nil {
			writeBehind(w, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), stateWait)
		defer cancel()
		seq := p.Events.Through
		if !check {
			v, err := ents.Entitlements(ctx, tenant, seq)
			if err != nil {
				writeStateError(w, err, seq)
				return
			}
			writeJSON(w, http.StatusOK, v)
			return
		}
		c, err := ents.Check(ctx, tenant, chi.URLParam(r, "capability"), seq)
		var unknown *entitlements.UnknownCapabilityError
		switch {
		case errors.As(err, &unknown):
			writeJSON(w, http.StatusNotFound, unknownCapabilityBody{Error: err.Error(), Capabilities: unknown.Known})
		case err != nil:
			writeStateError(w, err, seq)
		default:
			writeJSON(w, http.StatusOK, c)
		}
	}
}

// writeStateError answers a tenant state that did not reach the stored
// position in time: 503 with Retry-After, never a partial picture.
func writeStateError(w http.ResponseWriter, err error, seq uint64) {
	w.Header().Set("Retry-After", strconv.Itoa(behindRetryAfter))
	writeError(w, http.StatusServiceUnavailable, "the tenant state has not folded the events stored through "+
		strconv.FormatUint(seq, 10)+" yet: "+err.Error())
}
