// Package api is Tally's HTTP surface: routing, authentication and the
// read endpoints. The ingest endpoint itself lives in pipeline.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/aggregators"
	"github.com/tally-billing/tally/auth"
)

// UsageReader answers usage queries.
type UsageReader interface {
	Usage(ctx context.Context, tenant string, from, to time.Time) (aggregators.Usage, error)
}

// Config wires the router.
type Config struct {
	Keys   *auth.Keyring
	Ingest http.Handler
	Usage  UsageReader
	// Billing serves period close, invoices and the unbilled report.
	Billing Billing
	// Marketplace serves balances and payouts.
	Marketplace Marketplace
	// Reports serves the monthly finance report.
	Reports Reports
	// Trends serves the dashboard's range of months (GET /v1/reports/trend).
	Trends Trends
	// Webhooks serves /v1/webhooks (SPEC §7); nil leaves it out.
	Webhooks Webhooks
	// Entitlements serves the live tenant state (SPEC §6).
	Entitlements Entitlements
	// Barrier holds closes, payout runs and reads until every event
	// acknowledged before the request is stored (SPEC §5).
	Barrier Barrier
	// Ready reports whether the process can take and store events.
	Ready   func(ctx context.Context) error
	Metrics http.Handler
	// Now is the clock for default query ranges. Default time.Now.
	Now    func() time.Time
	Logger zerolog.Logger
}

// Validate reports a missing dependency.
func (c Config) Validate() error {
	if c.Keys == nil || c.Ingest == nil || c.Usage == nil || c.Billing == nil || c.Marketplace == nil || c.Reports == nil || c.Trends == nil || c.Entitlements == nil || c.Barrier == nil || c.Ready == nil || c.Metrics == nil {
		return errors.New("api: keys, ingest, usage, billing, marketplace, reports, trends, entitlements, barrier, ready and metrics are required")
	}
	return nil
}

// NewRouter returns the HTTP handler of the whole API.
func NewRouter(cfg Config) (http.Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Use(accessLog(cfg.Logger))

	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), 2*time.Second)
		defer cancel()
		if err := cfg.Ready(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	r.Handle("/metrics", cfg.Metrics)
	mountDashboard(r, cfg.Logger)

	r.Route("/v1", func(r chi.Router) {
		r.Use(authenticate(cfg.Keys))
		r.With(require(auth.RoleIngest)).Post("/events", cfg.Ingest.ServeHTTP)
		r.With(require(auth.RoleIngest, auth.RoleFinance)).Get("/pipeline/watermark", watermarkHandler(cfg.Barrier))
		r.With(require(auth.RoleIngest, auth.RoleFinance)).Post("/pipeline/barrier", barrierHandler(cfg.Barrier))
		// Everything below reads or acts on stored events: each waits
		// until what was acknowledged before it is stored.
		finance := r.With(require(auth.RoleFinance), consistent(cfg.Barrier))
		finance.With(longRunning).Post("/periods/{period}/close", closeHandler(cfg.Billing))
		finance.Get("/unbilled", unbilledHandler(cfg.Billing))
		// One tenant's data: finance, or that tenant's own key (another
		// tenant's is 404). Routes with {tenant} go on tenantReads.
		tenantReads := r.With(require(auth.RoleFinance, auth.RoleTenant), ownTenant, consistent(cfg.Barrier))
		tenantReads.Get("/tenants/{tenant}/usage", usageHandler(cfg))
		r.With(require(auth.RoleFinance, auth.RoleTenant), ownTenantQuery, consistent(cfg.Barrier)).Get("/invoices", invoicesHandler(cfg.Billing))
		finance.Get("/reports", reportHandler(cfg.Reports))
		finance.Get("/reports/trend", trendHandler(cfg.Trends))
		finance.With(longRunning).Post("/payouts/run", runPayoutsHandler(cfg.Marketplace, cfg.Now))
		// The entitlement reads pass the barrier themselves (they need
		// the position it found stored).
		r.With(require(auth.RoleFinance, auth.RoleTenant), ownTenant).Mount("/tenants/{tenant}/entitlements", entitlementRoutes(cfg.Entitlements, cfg.Barrier))
		provider := r.With(require(auth.RoleFinance, auth.RoleProvider), consistent(cfg.Barrier))
		provider.Get("/payouts", payoutsHandler(cfg.Marketplace))
		provider.Get("/providers/{provider}/balance", balanceHandler(cfg.Marketplace, cfg.Now))
		if cfg.Webhooks != nil {
			mountWebhooks(r, cfg.Webhooks)
		}
	})
	return r, nil
}

type principalKey struct{}

// PrincipalFrom returns the authenticated caller of a request.
func PrincipalFrom(ctx context.Context) (auth.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(auth.Principal)
	return p, ok
}

// authenticate answers 401 unless the request carries a known key as
// "Authorization: Bearer <key>".
func authenticate(keys *auth.Keyring) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			scheme, secret, _ := strings.Cut(r.Header.Get("Authorization"), " ")
			if !strings.EqualFold(scheme, "Bearer") || secret == "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="tally"`)
				writeError(w, http.StatusUnauthorized, "missing API key: send Authorization: Bearer <key>")
				return
			}
			p, ok := keys.Authenticate(strings.TrimSpace(secret))
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="tally", error="invalid_token"`)
				writeError(w, http.StatusUnauthorized, "unknown API key")
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
		})
	}
}

// LongRunningWrite is how long a period close or a payout run may take
// before its answer is cut off. The server's own write timeout is short;
// these two work through a whole month or ledger, and their result is
// what the caller waits for.
const LongRunningWrite = 30 * time.Minute

// longRunning lifts the server's write timeout for one request.
func longRunning(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// An error means the writer cannot change deadlines (a test
		// recorder): then there is no server timeout to lift either.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(LongRunningWrite))
		next.ServeHTTP(w, r)
	})
}

// require answers 403 unless the caller has one of roles.
func require(roles ...auth.Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, _ := PrincipalFrom(r.Context())
			for _, role := range roles {
				if p.Role == role {
					next.ServeHTTP(w, r)
					return
				}
			}
			writeError(w, http.StatusForbidden, "this key may not do that")
		})
	}
}

func accessLog(log zerolog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r)
			log.Debug().Str("method", r.Method).Str("path", r.URL.Path).Int("status", ww.Status()).
				Int("bytes", ww.BytesWritten()).Dur("took", time.Since(start)).Msg("http request")
		})
	}
}

type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
