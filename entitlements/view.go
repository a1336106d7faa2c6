package entitlements

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/aggregators"
	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/schemas"
)

// View is what a tenant may do now: GET /v1/tenants/{t}/entitlements.
type View struct {
	Tenant string `json:"tenant"`
	// AsOf is the instant answered for; Position the stream sequence the
	// state had folded (every event stored at or below it is in).
	AsOf       time.Time `json:"as_of"`
	Position   uint64    `json:"position"`
	Subscribed bool      `json:"subscribed"`
	Plan       string    `json:"plan,omitempty"`
	Term       string    `json:"term,omitempty"`
	Currency   string    `json:"currency,omitempty"`
	// Addons are the add-ons of the subscription in effect, sorted.
	Addons       []string               `json:"addons"`
	Capabilities []Capability           `json:"capabilities"`
	Flags        map[string]bool        `json:"flags"`
	Seats        map[string]SeatState   `json:"seats"`
	AICredits    AICredits              `json:"ai_credits"`
	Sellers      []string               `json:"seller_providers"`
	checks       map[string]CheckResult // by capability, for Check
	validUntil   time.Time              // the view holds until then (the segment's end)
	version      uint64                 // the tenant's version it was computed at
}

// Capability is one row of the matrix for the tenant's plan.
type Capability struct {
	Capability string `json:"capability"`
	Value      string `json:"value"`
	// AddonActive is true when the value is addon and the subscription
	// has the add-on.
	AddonActive bool   `json:"addon_active"`
	Allowed     bool   `json:"allowed"`
	Reason      string `json:"reason"`
}

// SeatState is one seat type now. Limit and Remaining are nil when the
// plan sets no limit; a limit shared by several seat types (business:
// learners and authors together) lists them in SharedWith, and Assigned
// counts the seats of the group against it.
type SeatState struct {
	Included   int64    `json:"included"`
	Committed  int64    `json:"committed"`
	Limit      *int64   `json:"limit"`
	SharedWith []string `json:"shared_with,omitempty"`
	// AssignedOfType is the seats of this type held now; Assigned the
	// seats counted against the limit (the group's for a shared limit).
	AssignedOfType int64  `json:"assigned_of_type"`
	Assigned       int64  `json:"assigned"`
	Remaining      *int64 `json:"remaining"`
}

// AICredits is the AI credits of the current month, as the close will
// rate them: consumed counts the credits consumed during subscribed time
// (those while not subscribed are unbilled and count toward nothing).
type AICredits struct {
	Period                 string           `json:"period"`
	Allowance              decimal.Decimal  `json:"allowance"`
	PackCreditsLeft        decimal.Decimal  `json:"pack_credits_left"`
	Consumed               decimal.Decimal  `json:"consumed"`
	RemainingBeforeOverage decimal.Decimal  `json:"remaining_before_overage"`
	Overage                decimal.Decimal  `json:"overage"`
	Cap                    *decimal.Decimal `json:"cap"`
	RemainingBeforeCap     *decimal.Decimal `json:"remaining_before_cap"`
}

// CheckResult answers GET /v1/tenants/{t}/entitlements/{capability}.
// Limit, Used and Remaining are set for seats.learner, seats.author and
// ai_credits (nil when there is no limit).
type CheckResult struct {
	Capability string           `json:"capability"`
	Allowed    bool             `json:"allowed"`
	Value      string           `json:"value"`
	Reason     string           `json:"reason"`
	Limit      *decimal.Decimal `json:"limit,omitempty"`
	Used       *decimal.Decimal `json:"used,omitempty"`
	Remaining  *decimal.Decimal `json:"remaining,omitempty"`
}

// ErrUnknownCapability is the error of a check of a capability that is
// neither in the matrix nor one of the seat and AI checks.
var ErrUnknownCapability = errors.New("unknown capability")

// UnknownCapabilityError names the capability asked and every one known.
type UnknownCapabilityError struct {
	Capability string
	Known      []string
}

func (e *UnknownCapabilityError) Error() string {
	return fmt.Sprintf("%v %q", ErrUnknownCapability, e.Capability)
}

func (e *UnknownCapabilityError) Unwrap() error { return ErrUnknownCapability }

// cachedFor reports whether the view still answers for t at now: nothing
// was folded into t since, and now is in the same month and subscription
// segment.
func (v *View) cachedFor(t *tenant, now time.Time) bool {
	if t == nil {
		return v.version == 0 && now.Before(v.validUntil) && !now.Before(v.AsOf)
	}
	return v.version == t.version && now.Before(v.validUntil) && !now.Before(v.AsOf)
}

// Check returns the answer for one capability of the view.
func (v *View) Check(capability string) (CheckResult, bool) {
	c, ok := v.checks[capability]
	return c, ok
}

// view computes the tenant's view at now from the fold. t may be nil (a
// tenant never seen).
func (f *fold) view(id string, t *tenant, now time.Time) View {
	now = now.UTC()
	p := rating.PeriodOf(now)
	v := View{Tenant: id, AsOf: now, Position: f.pos, Addons: []string{}, Flags: map[string]bool{},
		Seats: map[string]SeatState{}, Sellers: []string{}, checks: map[string]CheckResult{}, validUntil: p.End()}
	v.AICredits = AICredits{Period: p.String(), Allowance: decimal.Zero, PackCreditsLeft: decimal.Zero,
		Consumed: decimal.Zero, RemainingBeforeOverage: decimal.Zero, Overage: decimal.Zero}
	if t != nil {
		for name, fl := range t.flags {
			v.Flags[name] = fl.enabled
		}
		v.Sellers = append(v.Sellers, t.enrolledAt(now.Add(schemas.MaxFutureSkew))...)
	}
	var seg rating.Segment
	var subscribed bool
	if t != nil {
		segs, err := rating.Segments(f.book, t.admitted, p.Start(), p.End())
		if err == nil {
			for _, s := range segs {
				if !now.Before(s.From) && now.Before(s.To) {
					seg, subscribed = s, true
				}
				if s.From.After(now) && s.From.Before(v.validUntil) {
					v.validUntil = s.From // a change later this month
				}
			}
		}
	}
	if subscribed {
		v.validUntil = minTime(v.validUntil, seg.To)
		v.fill(f, t, seg, p)
	} else {
		v.refuseAll(f.matrix, ReasonNoSubscription)
	}
	return v
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// refuseAll answers every check with allowed false and why.
func (v *View) refuseAll(m Matrix, why string) {
	for _, c := range m.Capabilities() {
		v.Capabilities = append(v.Capabilities, Capability{Capability: c, Reason: why})
		v.checks[c] = CheckResult{Capability: c, Reason: why}
	}
	for _, c := range []string{CapSeatsLearner, CapSeatsAuthor, CapAICredits} {
		v.checks[c] = CheckResult{Capability: c, Reason: why}
	}
}

// fill answers for a tenant subscribed now under seg, in period p.
func (v *View) fill(f *fold, t *tenant, seg rating.Segment, p rating.Period) {
	sub := seg.Sub
	v.Subscribed, v.Plan, v.Term, v.Currency = true, sub.Plan, string(sub.Term), sub.Currency.Code
	v.Addons = append(v.Addons, sub.Addons...)
	if _, ok := f.matrix.Entitlement(sub.Plan, CapMarketplaceSeller); !ok {
		v.refuseAll(f.matrix, ReasonPlanNotInMatrix)
	} else {
		for _, c := range f.matrix.Capabilities() {
			value, _ := f.matrix.Entitlement(sub.Plan, c)
			row := Capability{Capability: c, Value: value}
			switch value {
			case ValueNotAvailable:
				row.Reason = ReasonNotAvailable
			case ValueAddon:
				row.AddonActive = slices.Contains(sub.Addons, c)
				row.Allowed = row.AddonActive
				row.Reason = ReasonAddonNotBought
				if row.AddonActive {
					row.Reason = ReasonAddonActive
				}
			case ValueOptIn:
				row.Allowed = v.Flags[c] || c == CapMarketplaceSeller && len(v.Sellers) > 0
				row.Reason = ReasonNotOptedIn
				if row.Allowed {
					row.Reason = ReasonOptedIn
				}
			default:
				row.Allowed, row.Reason = true, ReasonIncluded
			}
			v.Capabilities = append(v.Capabilities, row)
			v.checks[c] = CheckResult{Capability: c, Allowed: row.Allowed, Value: value, Reason: row.Reason}
		}
	}
	v.fillSeats(t, sub, p)
	v.fillAI(f, t, p)
}

// fillSeats counts the seats held now with aggregators.PeakSeats (the
// count rating bills seats from) against the plan's limits.
func (v *View) fillSeats(t *tenant, sub rating.Sub, p rating.Period) {
	usage := aggregators.PeakSeats(t.seats, p.Start(), p.End())
	for _, st := range schemas.SeatTypes() {
		s := SeatState{Included: sub.Prices.Seats[st].Included, Committed: sub.Committed[st], AssignedOfType: usage[string(st)].AtEnd}
		s.Assigned = s.AssignedOfType
		for _, l := range sub.Prices.Limits {
			if !slices.Contains(l.SeatTypes, st) {
				continue
			}
			limit := l.Max
			s.Limit = &limit
			if len(l.SeatTypes) > 1 {
				s.Assigned = 0
				for _, other := range l.SeatTypes {
					s.Assigned += usage[string(other)].AtEnd
					if other != st {
						s.SharedWith = append(s.SharedWith, string(other))
					}
				}
			}
			rem := max(0, limit-s.Assigned)
			s.Remaining = &rem
		}
		v.Seats[string(st)] = s
		c := CheckResult{Capability: "seats." + string(st), Value: ValueIncluded, Used: decPtr(decimal.NewFromInt(s.Assigned))}
		switch {
		case s.Limit == nil:
			c.Allowed, c.Reason = true, ReasonSeatsUnlimited
		case s.Assigned < *s.Limit: // "allowed": one more can be assigned
			c.Allowed, c.Reason = true, ReasonSeatsAvailable
		default:
			c.Reason = ReasonSeatLimitReached
		}
		if s.Limit != nil {
			c.Limit, c.Remaining = decPtr(decimal.NewFromInt(*s.Limit)), decPtr(decimal.NewFromInt(*s.Remaining))
		}
		v.checks[c.Capability] = c
	}
}

// fillAI rates the current month with rating.RateMonth, as the close
// will: the allowance of the month's last subscription, the credits of
// subscribed time, the packs drawn oldest first.
func (v *View) fillAI(f *fold, t *tenant, p rating.Period) {
	c := CheckResult{Capability: CapAICredits, Value: ValueIncluded}
	res, err := rating.RateMonth(f.book, t.id, t.admitted,
		rating.Usage{Seats: t.seats, Credits: t.credits.rows(), Packs: t.packs}, p)
	if err != nil {
		c.Reason = ReasonNotRateable
		v.checks[CapAICredits] = c
		return
	}
	segs, _ := rating.Segments(f.book, t.admitted, p.Start(), p.End())
	ai := &v.AICredits
	ai.Allowance = segs[len(segs)-1].Sub.Prices.AIIncluded
	ai.Consumed = t.credits.inPeriod(p).Sub(res.UnbilledCredits)
	for _, pk := range res.Packs {
		ai.PackCreditsLeft = ai.PackCreditsLeft.Add(pk.Remaining)
	}
	for _, l := range res.Invoice.Lines {
		if l.Kind == rating.LineAIOverage {
			ai.Overage = l.Quantity
		}
	}
	ai.RemainingBeforeOverage = decimal.Max(decimal.Zero, ai.Allowance.Sub(ai.Consumed)).Add(ai.PackCreditsLeft)
	c.Used = decPtr(ai.Consumed)
	if t.cap.set && t.cap.credits.IsPositive() {
		ai.Cap = decPtr(t.cap.credits)
		ai.RemainingBeforeCap = decPtr(decimal.Max(decimal.Zero, t.cap.credits.Sub(ai.Consumed)))
		c.Limit, c.Remaining = ai.Cap, ai.RemainingBeforeCap
		c.Allowed, c.Reason = ai.Consumed.LessThan(t.cap.credits), ReasonWithinCap
		if !c.Allowed {
			c.Reason = ReasonAICapReached
		}
	} else {
		c.Allowed, c.Reason = true, ReasonNoCap
	}
	v.checks[CapAICredits] = c
}

func decPtr(d decimal.Decimal) *decimal.Decimal { return &d }
