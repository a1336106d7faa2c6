package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/tally-billing/tally/pipeline"
)

// Barrier is the read-your-writes barrier of SPEC §5.
type Barrier interface {
	// Barrier returns once every event acknowledged before the call is
	// stored, or a *pipeline.Behind error after its timeout.
	Barrier(ctx context.Context) (pipeline.Progress, error)
	// Progress reads the pipeline's high-water marks now, without waiting.
	Progress(ctx context.Context) (pipeline.Progress, error)
}

// behindRetryAfter is the Retry-After of a barrier that timed out: the
// barrier itself already waited, so a short pause is enough to try again.
const behindRetryAfter = 5

// behindBody is the answer of a barrier that timed out.
type behindBody struct {
	Error  string `json:"error"`
	Behind struct {
		Unstored    uint64 `json:"unstored"`
		Unvalidated uint64 `json:"unvalidated"`
		WaitedMS    int64  `json:"waited_ms"`
	} `json:"behind"`
}

// consistent runs next only once every event acknowledged before the
// request arrived is stored, so that a close, a payout run or a read never
// answers from a partial picture; otherwise it answers 503 with
// Retry-After and how far behind the pipeline is.
func consistent(b Barrier) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := b.Barrier(r.Context()); err != nil {
				writeBehind(w, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func writeBehind(w http.ResponseWriter, err error) {
	w.Header().Set("Retry-After", strconv.Itoa(behindRetryAfter))
	var behind *pipeline.Behind
	if !errors.As(err, &behind) {
		writeError(w, http.StatusServiceUnavailable, "reading the pipeline's progress: "+err.Error())
		return
	}
	var body behindBody
	body.Error = "waiting for acknowledged events to be stored: " + err.Error()
	body.Behind.Unstored, body.Behind.Unvalidated = behind.Unstored, behind.Unvalidated
	body.Behind.WaitedMS = behind.Waited.Milliseconds()
	writeJSON(w, http.StatusServiceUnavailable, body)
}

// watermarkHandler answers the pipeline's high-water marks
// (GET /v1/pipeline/watermark).
func watermarkHandler(b Barrier) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := b.Progress(r.Context())
		if err != nil {
			writeBehind(w, err)
			return
		}
		writeJSON(w, http.StatusOK, p)
	}
}

// barrierHandler waits until every event acknowledged before the request
// is stored (POST /v1/pipeline/barrier): what an emitter or a test calls
// to read its own writes through another path, such as ClickHouse itself.
func barrierHandler(b Barrier) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := b.Barrier(r.Context())
		if err != nil {
			writeBehind(w, err)
			return
		}
		writeJSON(w, http.StatusOK, p)
	}
}
