package billing

import (
	"context"

	"github.com/tally-billing/tally/aggregators"
)

// Every close dead-letters, before rating, the stored events rating
// leaves out, each with its reason: the rejecter makes a second rejection
// of the same stored event a no-op, so re-closes change nothing.

// rejectUnmatchedReleases dead-letters the releases in p of seats that
// were not held: they change no seat count (a seat never goes negative).
func (s *Service) rejectUnmatchedReleases(ctx context.Context, in *inputs, p Period) error {
	if s.cfg.Rejecter == nil {
		return nil
	}
	var seqs []uint64
	for _, t := range in.tenants {
		for _, e := range aggregators.UnmatchedReleases(in.byTenant[t].usage.Seats, p.Start(), p.End()) {
			if e.Seq != 0 {
				seqs = append(seqs, e.Seq)
			}
		}
	}
	if len(seqs) == 0 {
		return nil
	}
	s.log.Warn().Int("events", len(seqs)).Str("period", p.String()).Msg("dead-lettering seat releases without an assignment")
	return s.cfg.Rejecter.RejectStored(ctx, seqs,
		"seat released without an assignment: the seat was not held at that time, so no seat is released")
}

// rejectRefusedChanges dead-letters the refused subscription changes of
// every tenant. It runs at every close; the rejecter makes a second
// rejection of the same stored event a no-op.
func (s *Service) rejectRefusedChanges(ctx context.Context, in *inputs) error {
	if s.cfg.Rejecter == nil {
		return nil
	}
	for _, r := range in.refused {
		if r.seq == 0 {
			continue
		}
		s.log.Warn().Str("tenant", r.tenant).Uint64("seq", r.seq).Str("reason", r.reason).Msg("dead-lettering a subscription change left out of rating")
		if err := s.cfg.Rejecter.RejectStored(ctx, []uint64{r.seq}, r.reason); err != nil {
			return err
		}
	}
	return nil
}
