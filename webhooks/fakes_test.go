package webhooks

import (
	"context"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

type fakeEndpoints struct {
	mu sync.Mutex
	m  map[string]Endpoint
}

func (f *fakeEndpoints) SaveEndpoint(_ context.Context, e Endpoint) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]Endpoint{}
	}
	if old, ok := f.m[e.ID]; !ok || e.Version > old.Version {
		f.m[e.ID] = e
	}
	return nil
}

func (f *fakeEndpoints) Endpoints(context.Context) ([]Endpoint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Endpoint
	for _, e := range f.m {
		if !e.Deleted {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeEndpoints) Endpoint(_ context.Context, id string) (Endpoint, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.m[id]
	return e, ok && !e.Deleted, nil
}

type fakeMessages struct{ m map[string]Message }

func (f *fakeMessages) KnownMessages(_ context.Context, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, id := range ids {
		if _, ok := f.m[id]; ok {
			out[id] = true
		}
	}
	return out, nil
}

func (f *fakeMessages) SaveMessages(_ context.Context, ms []Message) error {
	if f.m == nil {
		f.m = map[string]Message{}
	}
	for _, m := range ms {
		f.m[m.ID] = m
	}
	return nil
}

func (f *fakeMessages) Message(_ context.Context, id string) (Message, bool, error) {
	m, ok := f.m[id]
	return m, ok, nil
}

type fakeLog struct{ attempts []Attempt }

func (f *fakeLog) RecordAttempt(_ context.Context, a Attempt) error {
	f.attempts = append(f.attempts, a)
	return nil
}

func (f *fakeLog) Attempts(_ context.Context, af AttemptFilter) ([]Attempt, error) {
	var out []Attempt
	for _, a := range f.attempts {
		if (af.EndpointID == "" || a.EndpointID == af.EndpointID) && (af.DeliveryID == "" || a.DeliveryID == af.DeliveryID) &&
			(af.EndpointIDs == nil || slices.Contains(af.EndpointIDs, a.EndpointID)) {
			out = append(out, a)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
	return out, nil
}

// FailingSince is worked from the attempts the way the ClickHouse query
// does: the first non-success after the last success.
func (f *fakeLog) FailingSince(_ context.Context, endpointID string) (time.Time, error) {
	var lastOK, since time.Time
	for _, a := range f.attempts {
		if a.EndpointID == endpointID && a.Outcome == OutcomeSucceeded && a.At.After(lastOK) {
			lastOK = a.At
		}
	}
	for _, a := range f.attempts {
		if a.EndpointID == endpointID && a.Outcome != OutcomeSucceeded && a.At.After(lastOK) && (since.IsZero() || a.At.Before(since)) {
			since = a.At
		}
	}
	return since, nil
}

type fakeQueue struct {
	messages []Message
	tasks    []Task
	dedups   []string
}

func (f *fakeQueue) PublishMessages(_ context.Context, ms []Message) error {
	f.messages = append(f.messages, ms...)
	return nil
}

func (f *fakeQueue) EnqueueDeliveries(_ context.Context, ts []Task, dedup func(Task) string) error {
	for _, t := range ts {
		f.tasks = append(f.tasks, t)
		f.dedups = append(f.dedups, dedup(t))
	}
	return nil
}

// doerFunc answers requests with a function.
type doerFunc func(*http.Request) (*http.Response, error)

func (d doerFunc) Do(r *http.Request) (*http.Response, error) { return d(r) }

// clock is a settable fake time.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time              { return c.now }
func (c *clock) advance(d time.Duration)     { c.now = c.now.Add(d) }
func noJitter(d time.Duration) time.Duration { return d }

type world struct {
	svc       *Service
	clock     *clock
	endpoints *fakeEndpoints
	messages  *fakeMessages
	log       *fakeLog
	queue     *fakeQueue
	requests  []*http.Request
	// answer gives the status and body of a request's answer, or the
	// error of a request that got none.
	answer func(*http.Request) (int, string, error)
}

func newWorld(t interface{ Fatal(...any) }) *world {
	w := &world{clock: &clock{now: time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC)}, endpoints: &fakeEndpoints{},
		messages: &fakeMessages{}, log: &fakeLog{}, queue: &fakeQueue{}}
	doer := doerFunc(func(r *http.Request) (*http.Response, error) {
		w.requests = append(w.requests, r)
		status, body, err := w.answer(r)
		if err != nil {
			return nil, err
		}
		return &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader(body))}, nil
	})
	svc, err := New(Config{Endpoints: w.endpoints, Messages: w.messages, Deliveries: w.log, Queue: w.queue, Doer: doer,
		Resolver: fakeResolver{"hooks.example.com": {"93.184.215.14"}}, Now: w.clock.Now, Jitter: noJitter})
	if err != nil {
		t.Fatal(err)
	}
	w.svc = svc
	return w
}
