package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/schemas"
)

// Limits of one ingest request (SPEC §4).
const (
	MaxBatchEvents = 1000
	MaxBodyBytes   = 1 << 20
)

// Media types of the ingest endpoint.
const (
	ContentTypeEvent = "application/cloudevents+json"
	ContentTypeBatch = "application/cloudevents-batch+json"
)

// IngestConfig configures the HTTP ingest handler.
type IngestConfig struct {
	Publisher *Publisher
	// Now is the clock for the future-time check. Default time.Now.
	Now func() time.Time
	// Check is an extra rule every event must pass (the price book's:
	// known plans, add-ons and currencies). Optional.
	Check Check
	// Admit, when set, is asked before valid events are published; an
	// error refuses them with 503 and Retry-After (e.g. the disk guard
	// while the data dir is nearly full: see [DiskGuard]).
	Admit func() error
	// RetryAfter is sent with 503 answers. Default 2s.
	RetryAfter time.Duration
	Logger     zerolog.Logger
	Metrics    *IngestMetrics
}

// IngestMetrics counts what the ingest endpoint did.
type IngestMetrics struct {
	Accepted    *prometheus.CounterVec
	Duplicates  *prometheus.CounterVec
	Rejected    *prometheus.CounterVec
	Unavailable prometheus.Counter
}

// NewIngestMetrics registers the ingest metrics with reg.
func NewIngestMetrics(reg prometheus.Registerer) *IngestMetrics {
	m := &IngestMetrics{
		Accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tally_ingest_accepted_total", Help: "Events stored in JetStream by ingest, by path.",
		}, []string{"path"}),
		Duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tally_ingest_duplicates_total", Help: "Events JetStream reported as duplicates at ingest, by path.",
		}, []string{"path"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tally_ingest_rejected_total", Help: "Invalid events rejected at ingest, by path.",
		}, []string{"path"}),
		Unavailable: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tally_ingest_unavailable_total", Help: "Ingest requests answered 503 because JetStream could not take them or the disk guard refused them.",
		}),
	}
	reg.MustRegister(m.Accepted, m.Duplicates, m.Rejected, m.Unavailable)
	return m
}

// EventError is one per-event error of a rejected request.
type EventError struct {
	Index   int    `json:"index"`
	ID      string `json:"id,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// IngestResult is the body of a 202 answer. Accepted counts the events
// stored by this request; Duplicates those JetStream already held (inside
// its duplicate window). Accepted + Duplicates = events in the request.
type IngestResult struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
}

// ErrorBody is the body of every 4xx/5xx answer of the ingest endpoint.
type ErrorBody struct {
	Error  string       `json:"error"`
	Events []EventError `json:"events,omitempty"`
}

// IngestHandler serves POST /v1/events.
type IngestHandler struct {
	cfg IngestConfig
}

// NewIngestHandler returns the handler or an error for a missing dependency.
func NewIngestHandler(cfg IngestConfig) (*IngestHandler, error) {
	if cfg.Publisher == nil {
		return nil, errors.New("pipeline: ingest handler needs a publisher")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 2 * time.Second
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewIngestMetrics(prometheus.NewRegistry())
	}
	return &IngestHandler{cfg: cfg}, nil
}

func (h *IngestHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	batch, err := batchMode(r.Header.Get("Content-Type"))
	if err != nil {
		writeJSON(w, http.StatusUnsupportedMediaType, ErrorBody{Error: err.Error()})
		return
	}
	buf := bodies.Get().(*bytes.Buffer)
	defer recycleBody(buf)
	buf.Reset()
	_, err = buf.ReadFrom(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	body := buf.Bytes()
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, ErrorBody{Error: fmt.Sprintf("body larger than %d bytes", MaxBodyBytes)})
			return
		}
		writeJSON(w, http.StatusBadRequest, ErrorBody{Error: "reading body: " + err.Error()})
		return
	}
	raws, status, msg := splitBody(body, batch)
	if status != 0 {
		writeJSON(w, status, ErrorBody{Error: msg})
		return
	}

	events, errs := ValidateBatch(raws, h.cfg.Now(), h.cfg.Check)
	if len(errs) > 0 {
		h.cfg.Metrics.Rejected.WithLabelValues("http").Add(float64(len(errs)))
		writeJSON(w, http.StatusBadRequest, ErrorBody{Error: "invalid events; nothing was accepted", Events: errs})
		return
	}

	if h.cfg.Admit != nil {
		if err := h.cfg.Admit(); err != nil {
			h.cfg.Metrics.Unavailable.Inc()
			h.cfg.Logger.Debug().Err(err).Int("events", len(events)).Msg("ingest refused")
			w.Header().Set("Retry-After", strconv.Itoa(int(h.cfg.RetryAfter.Round(time.Second)/time.Second)))
			writeJSON(w, http.StatusServiceUnavailable, ErrorBody{Error: "not taking events: " + err.Error() + "; retry later (resending is safe)"})
			return
		}
	}
	msgs := make([]*nats.Msg, len(events))
	for i, e := range events {
		msgs[i] = EventMsg(e)
	}
	dups, err := h.cfg.Publisher.Publish(r.Context(), msgs)
	if err != nil {
		h.cfg.Metrics.Unavailable.Inc()
		h.cfg.Logger.Warn().Err(err).Int("events", len(msgs)).Msg("ingest unavailable")
		w.Header().Set("Retry-After", strconv.Itoa(int(h.cfg.RetryAfter.Round(time.Second)/time.Second)))
		writeJSON(w, http.StatusServiceUnavailable, ErrorBody{Error: "events could not be stored durably; retry later (resending is safe)"})
		return
	}
	res := IngestResult{Accepted: len(msgs) - dups, Duplicates: dups}
	h.cfg.Metrics.Accepted.WithLabelValues("http").Add(float64(res.Accepted))
	h.cfg.Metrics.Duplicates.WithLabelValues("http").Add(float64(res.Duplicates))
	writeJSON(w, http.StatusAccepted, res)
}

// bodies keeps request body buffers between requests: a batch body is up
// to 1 MiB, read in growing steps by io.ReadAll. Nothing outlives the
// request in a body: schemas.Decode copies each event's bytes (Event.Raw),
// and those are what is published.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func recycleBody(b *bytes.Buffer) {
	if b.Cap() <= 2*MaxBodyBytes {
		bodies.Put(b)
	}
}

// batchMode tells from the Content-Type whether the body is a batch.
// application/json is accepted too, and then the body's shape decides.
func batchMode(contentType string) (mode int, err error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return 0, fmt.Errorf("content type %q: want %s or %s", contentType, ContentTypeEvent, ContentTypeBatch)
	}
	switch mt {
	case ContentTypeEvent:
		return modeSingle, nil
	case ContentTypeBatch:
		return modeBatch, nil
	case "application/json":
		return modeSniff, nil
	}
	return 0, fmt.Errorf("content type %q: want %s or %s", mt, ContentTypeEvent, ContentTypeBatch)
}

const (
	modeSingle = iota + 1
	modeBatch
	modeSniff
)

func splitBody(body []byte, mode int) (raws []json.RawMessage, status int, msg string) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if mode == modeSniff {
		mode = modeSingle
		if len(trimmed) > 0 && trimmed[0] == '[' {
			mode = modeBatch
		}
	}
	if mode == modeSingle {
		return []json.RawMessage{body}, 0, ""
	}
	raws, err := schemas.SplitBatch(body)
	if err != nil {
		return nil, http.StatusBadRequest, "batch: " + err.Error()
	}
	if len(raws) == 0 {
		return nil, http.StatusBadRequest, "batch: no events"
	}
	if len(raws) > MaxBatchEvents {
		return nil, http.StatusRequestEntityTooLarge, fmt.Sprintf("batch of %d events; at most %d", len(raws), MaxBatchEvents)
	}
	return raws, 0, ""
}

// Check is a rule beyond the event schemas; it returns a
// *schemas.FieldError (or any error) for an event it refuses.
type Check func(*schemas.Event) error

// ValidateEvent decodes one event and applies every rule: the schemas, the
// future-time limit against now, and check when not nil.
func ValidateEvent(raw []byte, now time.Time, check Check) (*schemas.Event, error) {
	e, err := schemas.Decode(raw)
	if err != nil {
		return nil, err
	}
	if err := e.CheckTime(now, schemas.MaxFutureSkew); err != nil {
		return e, err
	}
	if check != nil {
		if err := check(e); err != nil {
			return e, err
		}
	}
	return e, nil
}

// ValidateBatch decodes and checks every event of a request. An identity
// repeated inside one request with other content is an error of the later
// event; a repeat with the same content is kept (JetStream counts it as a
// duplicate).
func ValidateBatch(raws []json.RawMessage, now time.Time, check Check) ([]*schemas.Event, []EventError) {
	events := make([]*schemas.Event, 0, len(raws))
	var errs []EventError
	seen := make(map[schemas.Identity]int, len(raws))
	for i, raw := range raws {
		e, err := ValidateEvent(raw, now, check)
		if err != nil {
			errs = append(errs, eventError(i, e, raw, err))
			continue
		}
		if j, ok := seen[e.Identity()]; ok && events[j].ContentHash() != e.ContentHash() {
			errs = append(errs, EventError{Index: i, ID: e.ID, Field: "id",
				Message: fmt.Sprintf("same (source, id) as event %d with different content", j)})
			continue
		}
		seen[e.Identity()] = len(events)
		events = append(events, e)
	}
	return events, errs
}

func eventError(i int, e *schemas.Event, raw []byte, err error) EventError {
	out := EventError{Index: i, Message: err.Error()}
	if e != nil {
		out.ID = e.ID
	} else {
		out.ID = peekID(raw)
	}
	var fe *schemas.FieldError
	if errors.As(err, &fe) {
		out.Field = fe.Field
		out.Message = fe.Message
	}
	return out
}

// peekID extracts the id of an event that failed to decode, to help the
// emitter find it; it returns "" when there is none.
func peekID(raw []byte) string {
	var probe struct {
		ID any `json:"id"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return ""
	}
	s, _ := probe.ID.(string)
	if len(s) > 256 {
		return ""
	}
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
