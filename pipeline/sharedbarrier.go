package pipeline

import (
	"context"
	"sync"
	"time"
)

// SharedBarrier is the read-your-writes barrier of a Watermark shared by
// concurrent readers: at 2,000 reads a second, each reading the streams'
// marks and polling the sink's consumer on its own would cost JetStream
// thousands of API requests a second. The contract is Watermark.Barrier's:
// it returns once every event acknowledged before the call is stored.
//
// How it shares, without weakening that contract:
//
//   - Marks. A caller joins the next round of mark reads. A round starts
//     when the one before it has read its marks, so every mark a caller
//     gets was read after it arrived (a round already reading when it
//     arrived may have missed its event's ack). One round serves every
//     caller that arrived while the previous one was reading.
//   - Waiting. One follower reads how far the sink has stored, every
//     Poll, only while someone waits, and wakes every waiter whose mark it
//     passed.
type SharedBarrier struct {
	w    *Watermark
	poll time.Duration

	mu      sync.Mutex
	next    *markRound // joined by the callers arriving now
	reading bool       // a round is reading its marks
	// Stored progress, as the follower last read it; moved is closed and
	// replaced when it changes.
	stored    StreamProgress
	moved     chan struct{}
	waiters   int
	following bool
}

// markRound is one read of the marks, shared by the callers that joined it.
type markRound struct {
	done   chan struct{}
	ingest StreamProgress
	last   uint64 // the events stream's last sequence: the mark
	err    error
}

// NewSharedBarrier shares w's barrier; poll is how often the follower
// reads the sink's progress while someone waits (default 2ms).
func NewSharedBarrier(w *Watermark, poll time.Duration) *SharedBarrier {
	if poll <= 0 {
		poll = 2 * time.Millisecond
	}
	return &SharedBarrier{w: w, poll: poll, moved: make(chan struct{})}
}

// Progress reads the pipeline's progress now (Watermark.Progress).
func (s *SharedBarrier) Progress(ctx context.Context) (Progress, error) { return s.w.Progress(ctx) }

// Timeout is the longest a barrier waits.
func (s *SharedBarrier) Timeout() time.Duration { return s.w.Timeout() }

// Barrier returns once every event acknowledged before it was called is
// stored, or a *Behind error after the watermark's timeout.
func (s *SharedBarrier) Barrier(ctx context.Context) (Progress, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, s.w.cfg.Timeout)
	defer cancel()
	r := s.join()
	select {
	case <-r.done:
	case <-ctx.Done():
		return Progress{}, s.w.behind(ctx.Err(), start, 0, 0)
	}
	if r.err != nil {
		return Progress{}, s.w.behind(r.err, start, r.ingest.Pending, 0)
	}
	stored, err := s.waitStored(ctx, r.last)
	if err != nil {
		return Progress{}, s.w.behind(err, start, 0, stored.Pending)
	}
	return Progress{Ingest: r.ingest, Events: stored}, nil
}

// join returns the round the caller is served by, starting the reader if
// no round is reading.
func (s *SharedBarrier) join() *markRound {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next == nil {
		s.next = &markRound{done: make(chan struct{})}
	}
	r := s.next
	if !s.reading {
		s.reading = true
		go s.readMarks()
	}
	return r
}

// readMarks runs the rounds one after the other until none is waiting.
// A round reads the marks as Watermark.Barrier does: the legacy ingest
// stream's mark, waiting for its drain if it holds events, then the
// events stream's last sequence.
func (s *SharedBarrier) readMarks() {
	for {
		s.mu.Lock()
		r := s.next
		s.next = nil
		if r == nil {
			s.reading = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), s.w.cfg.Timeout)
		r.ingest, r.err = s.w.ingest(ctx)
		if r.err == nil && r.ingest.Pending > 0 {
			r.ingest, r.err = s.w.waitIngest(ctx, r.ingest.Last)
		}
		if r.err == nil {
			r.last, r.err = s.w.eventsLast(ctx)
		}
		cancel()
		close(r.done)
	}
}

// waitStored returns once the sink has stored through last, or ctx's
// error with the progress last seen.
func (s *SharedBarrier) waitStored(ctx context.Context, last uint64) (StreamProgress, error) {
	s.mu.Lock()
	s.waiters++
	if !s.following {
		s.following = true
		go s.follow()
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.waiters--
		s.mu.Unlock()
	}()
	for {
		s.mu.Lock()
		p, moved := s.stored, s.moved
		s.mu.Unlock()
		p.Last, p.Pending = last, 0
		if p.Through >= last {
			return p, nil
		}
		p.Pending = last - p.Through
		select {
		case <-ctx.Done():
			return p, ctx.Err()
		case <-moved:
		}
	}
}

// follow reads the sink's progress every poll while anyone waits, and
// wakes the waiters each time it moves.
func (s *SharedBarrier) follow() {
	t := time.NewTicker(s.poll)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), s.w.cfg.Timeout)
		p, err := s.w.stored(ctx, 0)
		cancel()
		s.mu.Lock()
		if err == nil && p.Through != s.stored.Through {
			s.stored = p
			close(s.moved)
			s.moved = make(chan struct{})
		}
		if s.waiters == 0 {
			s.following = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		<-t.C
	}
}
