package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
)

// maxUsageRange bounds one usage query.
const maxUsageRange = 5 * 366 * 24 * time.Hour

// usageHandler serves GET /v1/tenants/{tenant}/usage?from=&to=. from and to
// are RFC 3339 times or YYYY-MM-DD dates (midnight UTC); the window is
// [from, to). Without them it is the current calendar month (UTC).
func usageHandler(cfg Config) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tenant := chi.URLParam(r, "tenant")
		now := cfg.Now().UTC()
		monthStart := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
		from, err := parseTimeParam(r, "from", monthStart)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		to, err := parseTimeParam(r, "to", monthStart.AddDate(0, 1, 0))
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if !from.Before(to) {
			writeError(w, http.StatusBadRequest, "from must be before to")
			return
		}
		if to.Sub(from) > maxUsageRange {
			writeError(w, http.StatusBadRequest, "range longer than 5 years")
			return
		}
		u, err := cfg.Usage.Usage(r.Context(), tenant, from, to)
		if err != nil {
			cfg.Logger.Error().Err(err).Str("tenant", tenant).Msg("querying usage")
			writeError(w, http.StatusServiceUnavailable, "usage store unavailable")
			return
		}
		writeJSON(w, http.StatusOK, u)
	}
}

func parseTimeParam(r *http.Request, name string, def time.Time) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%s: want an RFC 3339 time or YYYY-MM-DD, got %q", name, v)
}
