package entitlements

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

// Config configures a [State].
type Config struct {
	Book     *pricebook.Book
	Matrix   Matrix
	Store    Store
	Position Position
	// Rejecter dead-letters the events a stateful rule refuses (optional:
	// without it they are only left out of the state).
	Rejecter Rejecter
	// Poll is how often the state looks for newly stored events when
	// nobody waits for it (default 100ms); a read that waits looks at once.
	Poll time.Duration
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger zerolog.Logger
}

// Validate reports a missing dependency.
func (c Config) Validate() error {
	if c.Book == nil || c.Matrix == nil || c.Store == nil || c.Position == nil {
		return errors.New("entitlements: book, matrix, store and position are required")
	}
	return nil
}

// State is the live state of every tenant, kept by one replica: booted
// from the store, then following what the sink stores (see [State.Run]).
// Safe for concurrent use.
type State struct {
	cfg Config
	log zerolog.Logger

	mu     sync.RWMutex
	f      *fold
	booted bool
	cache  map[string]*View
	// moved is closed and replaced each time pos moves; kick asks Run to
	// look now.
	moved   chan struct{}
	kick    chan struct{}
	pending []Refusal // refusals not recorded yet
	lastErr error
}

// New returns a State; [State.Run] boots and follows it.
func New(cfg Config) (*State, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 100 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &State{cfg: cfg, log: cfg.Logger.With().Str("component", "entitlements").Logger(),
		f: newFold(cfg.Book, cfg.Matrix), cache: map[string]*View{},
		moved: make(chan struct{}), kick: make(chan struct{}, 1)}, nil
}

// Run boots the state and follows the store until ctx ends: at every
// poll (or at once when a read waits) it reads how far the sink has
// stored, folds the events stored since, in stream order, and records
// the refusals. A failed step is logged and tried again at the next poll;
// the state never skips an event.
func (s *State) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		if err := s.step(ctx); err != nil && ctx.Err() == nil {
			s.mu.Lock()
			s.lastErr = err
			s.mu.Unlock()
			s.log.Warn().Err(err).Msg("following the stored events")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.kick:
		}
	}
}

// step boots the state if it is not, or folds what was stored since.
func (s *State) step(ctx context.Context) error {
	through, err := s.cfg.Position.StoredThrough(ctx)
	if err != nil {
		return fmt.Errorf("reading the stored position: %w", err)
	}
	s.mu.RLock()
	booted, pos := s.booted, s.f.pos
	s.mu.RUnlock()
	if !booted {
		return s.boot(ctx, through)
	}
	if through > pos {
		if err := s.follow(ctx, pos, through); err != nil {
			return err
		}
	}
	return s.recordRefusals(ctx)
}

// boot builds the state of everything stored at or below through: every
// event the state folds but AI credits, in stream order, then the credit
// sums of every tenant between its cuts.
func (s *State) boot(ctx context.Context, through uint64) error {
	start := time.Now()
	events, err := s.cfg.Store.StateEvents(ctx, 0, through, false)
	if err != nil {
		return fmt.Errorf("booting the tenant state: %w", err)
	}
	f := newFold(s.cfg.Book, s.cfg.Matrix)
	var refusals []Refusal
	for _, se := range events {
		if _, r := f.apply(se); r != nil {
			refusals = append(refusals, *r)
		}
	}
	months, err := s.cfg.Store.CreditMonths(ctx, through)
	if err != nil {
		return fmt.Errorf("booting the tenant state: %w", err)
	}
	cuts := map[string][]time.Time{}
	for id, ps := range months {
		t := f.tenant(id)
		for _, p := range ps {
			cuts[id] = append(cuts[id], t.credits.cutsOf(f.book, t.admitted, p)...)
		}
	}
	sums, err := s.cfg.Store.CreditSums(ctx, through, cuts)
	if err != nil {
		return fmt.Errorf("booting the tenant state: %w", err)
	}
	for id, rows := range sums {
		f.tenant(id).credits.replace(rows)
	}
	f.pos = through
	s.mu.Lock()
	s.f, s.booted, s.pending = f, true, append(s.pending, refusals...)
	clear(s.cache)
	s.advanced()
	s.mu.Unlock()
	s.log.Info().Int("tenants", len(f.tenants)).Int("events", len(events)).Uint64("position", through).
		Dur("took", time.Since(start)).Msg("tenant state booted")
	return nil
}

// follow folds the events stored in (pos, through]. The tenants whose
// subscription changed get their credit sums read again, at through,
// with their new cuts. Readers wait meanwhile (the lock is held across
// that read, which only a subscription event needs), so none sees a
// batch half applied.
func (s *State) follow(ctx context.Context, pos, through uint64) error {
	events, err := s.cfg.Store.StateEvents(ctx, pos, through, true)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	reload := map[string]bool{}
	for _, se := range events {
		r, refusal := s.f.apply(se)
		if r {
			reload[se.Event.Subject] = true
		}
		if refusal != nil {
			s.pending = append(s.pending, *refusal)
		}
	}
	if len(reload) > 0 {
		cuts := map[string][]time.Time{}
		for id := range reload {
			t := s.f.tenants[id]
			cuts[id] = t.credits.cutsFor(s.f.book, t.admitted)
		}
		sums, err := s.cfg.Store.CreditSums(ctx, through, cuts)
		if err != nil {
			// The fold has the batch with sums cut the old way: boot again.
			s.booted, s.f = false, newFold(s.cfg.Book, s.cfg.Matrix)
			clear(s.cache)
			return fmt.Errorf("reloading credit sums: %w", err)
		}
		for id := range cuts {
			s.f.tenants[id].credits.replace(sums[id])
		}
	}
	s.f.pos = through
	clear(s.cache)
	s.advanced()
	return nil
}

// advanced wakes the readers waiting for a position. Callers hold mu.
func (s *State) advanced() {
	close(s.moved)
	s.moved = make(chan struct{})
}

// recordRefusals dead-letters the refused events not recorded yet.
func (s *State) recordRefusals(ctx context.Context) error {
	if s.cfg.Rejecter == nil {
		return nil
	}
	s.mu.Lock()
	todo := s.pending
	s.pending = nil
	s.mu.Unlock()
	for i, r := range todo {
		if err := s.cfg.Rejecter.RejectStored(ctx, []uint64{r.Seq}, r.Reason); err != nil {
			s.mu.Lock()
			s.pending = append(todo[i:], s.pending...)
			s.mu.Unlock()
			return fmt.Errorf("dead-lettering a refused event: %w", err)
		}
	}
	return nil
}

// WaitFor returns once the state has folded every event stored at or
// below seq, or ctx's error.
func (s *State) WaitFor(ctx context.Context, seq uint64) error {
	for {
		s.mu.RLock()
		ok, moved := s.booted && s.f.pos >= seq, s.moved
		s.mu.RUnlock()
		if ok {
			return nil
		}
		select {
		case s.kick <- struct{}{}:
		default:
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the tenant state to reach %d: %w", seq, ctx.Err())
		case <-moved:
		}
	}
}

// Entitlements returns the tenant's view now, once every event stored at
// or below seq is folded.
func (s *State) Entitlements(ctx context.Context, tenant string, seq uint64) (*View, error) {
	if err := s.WaitFor(ctx, seq); err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	s.mu.RLock()
	t := s.f.tenants[tenant]
	if v, ok := s.cache[tenant]; ok && v.cachedFor(t, now) {
		s.mu.RUnlock()
		return v, nil
	}
	v := s.f.view(tenant, t, now)
	if t != nil {
		v.version = t.version
	}
	s.mu.RUnlock()
	s.mu.Lock()
	s.cache[tenant] = &v
	s.mu.Unlock()
	return &v, nil
}

// Check answers one capability of the tenant, once every event stored at
// or below seq is folded. An unknown capability is an
// *UnknownCapabilityError.
func (s *State) Check(ctx context.Context, tenant, capability string, seq uint64) (CheckResult, error) {
	v, err := s.Entitlements(ctx, tenant, seq)
	if err != nil {
		return CheckResult{}, err
	}
	c, ok := v.Check(capability)
	if !ok {
		return CheckResult{}, &UnknownCapabilityError{Capability: capability, Known: s.Capabilities()}
	}
	return c, nil
}

// Capabilities lists every capability a check answers: the matrix's, then
// seats.learner, seats.author and ai_credits.
func (s *State) Capabilities() []string {
	return append(s.cfg.Matrix.Capabilities(), CapSeatsLearner, CapSeatsAuthor, CapAICredits)
}

// SaleVerdicts judges sales (stored events of marketplace.sale.completed)
// once every event stored at or below seq is folded: the reason each
// refused sale is refused with, by stream sequence (see fold.saleVerdict).
func (s *State) SaleVerdicts(ctx context.Context, sales []schemas.StoredEvent, seq uint64) (map[uint64]string, error) {
	if err := s.WaitFor(ctx, seq); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[uint64]string{}
	for _, se := range sales {
		if se.Event.Type != schemas.TypeSaleCompleted {
			continue
		}
		if why := s.f.saleVerdict(se.Seq, se.Event.Subject, se.Event.Time); why != "" {
			out[se.Seq] = why
		}
	}
	return out, nil
}

// Status says whether the state is booted, its position and the last
// error of a step, for readiness and logs.
func (s *State) Status() (booted bool, position uint64, lastErr error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.booted, s.f.pos, s.lastErr
}
