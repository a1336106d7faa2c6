package entitlements

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/internal/moneytest"
	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

var (
	usd   = moneytest.Cur("USD")
	nov1  = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	nov15 = time.Date(2026, 11, 15, 12, 0, 0, 0, time.UTC)
)

// world is a State over an in-memory store, stepped by hand.
type world struct {
	t     *testing.T
	mem   *memStore
	state *State
	n     int
}

func newWorld(t *testing.T, now time.Time) *world {
	t.Helper()
	mem := &memStore{}
	s, err := New(Config{Book: pricebook.Default(), Matrix: BookMatrix(pricebook.Default()), Store: mem, Position: mem, Rejecter: mem,
		Now: func() time.Time { return now }, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return &world{t: t, mem: mem, state: s}
}

// emit stores an event of tenant at at and returns its sequence.
func (w *world) emit(tenant string, typ schemas.Type, at time.Time, d schemas.Payload) uint64 {
	w.n++
	return w.mem.store(&schemas.Event{SpecVersion: "1.0", ID: fmt.Sprintf("e%d", w.n), Source: "test", Type: typ, Subject: tenant, Time: at, Data: d})
}

func (w *world) start(tenant, plan string, at time.Time, addons ...string) uint64 {
	return w.emit(tenant, schemas.TypeSubscriptionStarted, at, &schemas.Subscription{Plan: plan, Term: schemas.TermMonthly, Currency: usd, Addons: addons})
}

func (w *world) step() {
	w.t.Helper()
	if err := w.state.step(context.Background()); err != nil {
		w.t.Fatal(err)
	}
}

// check steps the state and answers one capability.
func (w *world) check(tenant, capability string) CheckResult {
	w.t.Helper()
	w.step()
	c, err := w.state.Check(context.Background(), tenant, capability, w.mem.through)
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

func (w *world) want(tenant, capability string, allowed bool, reason string) CheckResult {
	w.t.Helper()
	c := w.check(tenant, capability)
	if c.Allowed != allowed || c.Reason != reason {
		w.t.Errorf("%s %s: allowed %v, reason %s; want %v, %s", tenant, capability, c.Allowed, c.Reason, allowed, reason)
	}
	return c
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// Team's learner limit is 50 (SPEC §2): with 49 held the 50th may be
// assigned, with 50 held the 51st may not. "allowed" for a seat type
// means one more can be assigned.
func TestTeamSeatLimit(t *testing.T) {
	w := newWorld(t, nov15)
	w.step() // boot on an empty store
	w.start("acme", "team", nov1)
	for i := range 49 {
		w.emit("acme", schemas.TypeSeatAssigned, nov1.Add(time.Duration(i+1)*time.Minute), &schemas.SeatChange{UserID: fmt.Sprintf("u%d", i), SeatType: schemas.SeatLearner})
	}
	c := w.want("acme", CapSeatsLearner, true, ReasonSeatsAvailable)
	if !c.Limit.Equal(dec("50")) || !c.Used.Equal(dec("49")) || !c.Remaining.Equal(dec("1")) {
		t.Errorf("49 held: limit %v used %v remaining %v; want 50, 49, 1", c.Limit, c.Used, c.Remaining)
	}
	w.emit("acme", schemas.TypeSeatAssigned, nov1.Add(time.Hour), &schemas.SeatChange{UserID: "u49", SeatType: schemas.SeatLearner})
	c = w.want("acme", CapSeatsLearner, false, ReasonSeatLimitReached)
	if !c.Used.Equal(dec("50")) || !c.Remaining.IsZero() {
		t.Errorf("50 held: used %v remaining %v; want 50, 0", c.Used, c.Remaining)
	}
	// Assigning the same user again holds no second seat; a release frees one.
	w.emit("acme", schemas.TypeSeatAssigned, nov1.Add(2*time.Hour), &schemas.SeatChange{UserID: "u49", SeatType: schemas.SeatLearner})
	w.want("acme", CapSeatsLearner, false, ReasonSeatLimitReached)
	w.emit("acme", schemas.TypeSeatReleased, nov1.Add(3*time.Hour), &schemas.SeatChange{UserID: "u3", SeatType: schemas.SeatLearner})
	w.want("acme", CapSeatsLearner, true, ReasonSeatsAvailable)
	// Authors: team's limit is 5; enterprise has none.
	w.want("acme", CapSeatsAuthor, true, ReasonSeatsAvailable)
	w.start("big", "enterprise", nov1)
	c = w.want("big", CapSeatsLearner, true, ReasonSeatsUnlimited)
	if c.Limit != nil || c.Remaining != nil {
		t.Errorf("enterprise learners: limit %v remaining %v; want none", c.Limit, c.Remaining)
	}
}

// Business shares its limit of 250 between learners and authors.
func TestBusinessSharedSeatLimit(t *testing.T) {
	w := newWorld(t, nov15)
	w.start("biz", "business", nov1)
	for i := range 240 {
		w.emit("biz", schemas.TypeSeatAssigned, nov1.Add(time.Minute), &schemas.SeatChange{UserID: fmt.Sprintf("l%d", i), SeatType: schemas.SeatLearner})
	}
	for i := range 10 {
		w.emit("biz", schemas.TypeSeatAssigned, nov1.Add(time.Minute), &schemas.SeatChange{UserID: fmt.Sprintf("a%d", i), SeatType: schemas.SeatAuthor})
	}
	c := w.want("biz", CapSeatsAuthor, false, ReasonSeatLimitReached)
	if !c.Used.Equal(dec("250")) {
		t.Errorf("shared used %v; want 250", c.Used)
	}
	w.want("biz", CapSeatsLearner, false, ReasonSeatLimitReached)
}

// AI credits: team includes 5,000 a month; a cap of 6,000 is reached at
// 6,000 consumed, and "0" removes it. A pack of 1,000 bought this month
// is drawn after the allowance.
func TestAICap(t *testing.T) {
	w := newWorld(t, nov15)
	w.start("acme", "team", nov1)
	w.emit("acme", schemas.TypeAICapSet, nov1.Add(time.Minute), &schemas.AICapSet{MonthlyCredits: dec("6000")})
	w.emit("acme", schemas.TypeAIPackPurchased, nov1.Add(time.Minute), &schemas.AIPackPurchased{PackID: "p1", Credits: dec("1000"), Currency: usd, Price: dec("15")})
	w.emit("acme", schemas.TypeAICreditsConsumed, nov1.Add(time.Hour), &schemas.AICreditsConsumed{Credits: dec("5500.5"), Feature: schemas.FeatureTutor})
	c := w.want("acme", CapAICredits, true, ReasonWithinCap)
	if !c.Used.Equal(dec("5500.5")) || !c.Limit.Equal(dec("6000")) || !c.Remaining.Equal(dec("499.5")) {
		t.Errorf("used %v limit %v remaining %v; want 5500.5, 6000, 499.5", c.Used, c.Limit, c.Remaining)
	}
	v, _ := w.state.Entitlements(context.Background(), "acme", w.mem.through)
	// 5,000 from the allowance, 500.5 from the pack: 499.5 left in it.
	if !v.AICredits.Allowance.Equal(dec("5000")) || !v.AICredits.PackCreditsLeft.Equal(dec("499.5")) ||
		!v.AICredits.RemainingBeforeOverage.Equal(dec("499.5")) || !v.AICredits.Overage.IsZero() {
		t.Errorf("ai credits %+v; want allowance 5000, pack left 499.5, remaining before overage 499.5", v.AICredits)
	}
	w.emit("acme", schemas.TypeAICreditsConsumed, nov1.Add(2*time.Hour), &schemas.AICreditsConsumed{Credits: dec("499.5"), Feature: schemas.FeatureTutor})
	w.want("acme", CapAICredits, false, ReasonAICapReached)
	w.emit("acme", schemas.TypeAICapSet, nov1.Add(3*time.Hour), &schemas.AICapSet{MonthlyCredits: decimal.Zero})
	w.want("acme", CapAICredits, true, ReasonNoCap)
}

// An add-on bought mid-month: enterprise's white_label is an add-on, not
// bought, until a subscription.changed lists it.
func TestAddonBoughtMidMonth(t *testing.T) {
	w := newWorld(t, nov15)
	w.start("ent", "enterprise", nov1)
	w.want("ent", "white_label", false, ReasonAddonNotBought)
	w.want("ent", "sso_scim", true, ReasonIncluded)
	w.want("ent", "support_sla", true, ReasonIncluded)
	w.emit("ent", schemas.TypeSubscriptionChanged, nov1.Add(10*24*time.Hour), &schemas.Subscription{Plan: "enterprise", Term: schemas.TermMonthly, Currency: usd, Addons: []string{"white_label"}})
	c := w.want("ent", "white_label", true, ReasonAddonActive)
	if c.Value != ValueAddon {
		t.Errorf("value %s; want addon", c.Value)
	}
}

// A plan change moves every capability; a cancellation leaves nothing.
func TestPlanChangeAndCancel(t *testing.T) {
	w := newWorld(t, nov15)
	w.start("acme", "starter", nov1)
	w.want("acme", "sso_scim", false, ReasonNotAvailable)
	c := w.want("acme", "authoring", true, ReasonIncluded)
	if c.Value != "basic" {
		t.Errorf("starter authoring %s; want basic", c.Value)
	}
	w.emit("acme", schemas.TypeSubscriptionChanged, nov1.Add(48*time.Hour), &schemas.Subscription{Plan: "business", Term: schemas.TermMonthly, Currency: usd})
	w.want("acme", "sso_scim", true, ReasonIncluded)
	w.emit("acme", schemas.TypeSubscriptionCanceled, nov1.Add(96*time.Hour), &schemas.SubscriptionCanceled{})
	w.want("acme", "sso_scim", false, ReasonNoSubscription)
	w.want("acme", CapAICredits, false, ReasonNoSubscription)
	w.want("nobody", "learner_player_offline", false, ReasonNoSubscription)
	w.want("nobody", CapSeatsLearner, false, ReasonNoSubscription)
}

// marketplace_seller is opt_in on team: a feature flag or an enrolment
// opts in; on starter it is not_available and an enrolment is refused.
func TestSellerOptInAndRefusal(t *testing.T) {
	w := newWorld(t, nov15)
	w.start("acme", "team", nov1)
	w.want("acme", CapMarketplaceSeller, false, ReasonNotOptedIn)
	w.emit("acme", schemas.TypeFeatureFlagSet, nov1.Add(time.Hour), &schemas.FeatureFlagSet{Flag: CapMarketplaceSeller, Enabled: true})
	w.want("acme", CapMarketplaceSeller, true, ReasonOptedIn)
	w.emit("acme", schemas.TypeFeatureFlagSet, nov1.Add(2*time.Hour), &schemas.FeatureFlagSet{Flag: CapMarketplaceSeller, Enabled: false})
	w.want("acme", CapMarketplaceSeller, false, ReasonNotOptedIn)
	// A flag set earlier but stored later does not win over the later one.
	w.emit("acme", schemas.TypeFeatureFlagSet, nov1.Add(90*time.Minute), &schemas.FeatureFlagSet{Flag: CapMarketplaceSeller, Enabled: true})
	w.want("acme", CapMarketplaceSeller, false, ReasonNotOptedIn)
	w.emit("acme", schemas.TypeSellerEnrolled, nov1.Add(3*time.Hour), &schemas.SellerEnrollment{Provider: "prov-acme"})
	w.want("acme", CapMarketplaceSeller, true, ReasonOptedIn)

	w.start("small", "starter", nov1)
	seq := w.emit("small", schemas.TypeSellerEnrolled, nov1.Add(time.Hour), &schemas.SellerEnrollment{Provider: "prov-small"})
	w.want("small", CapMarketplaceSeller, false, ReasonNotAvailable)
	w.step() // records the refusal
	if r := w.mem.rejected[seq]; !strings.HasPrefix(r, RefusalSellerNotAvailable+": ") {
		t.Errorf("enrolment on starter dead-lettered with %q; want %s", r, RefusalSellerNotAvailable)
	}
	v, _ := w.state.Entitlements(context.Background(), "small", w.mem.through)
	if len(v.Sellers) != 0 {
		t.Errorf("a refused enrolment shows: %v", v.Sellers)
	}
}

// A sale of a provider enrolled by a tenant whose plan at the sale's time
// cannot sell is refused; a provider never enrolled sells as before.
func TestSaleVerdicts(t *testing.T) {
	w := newWorld(t, nov15)
	w.start("acme", "team", nov1)
	w.emit("acme", schemas.TypeSellerEnrolled, nov1.Add(time.Hour), &schemas.SellerEnrollment{Provider: "prov-acme"})
	// Later, acme moves to healthcare, where marketplace_seller is not_available.
	w.emit("acme", schemas.TypeSubscriptionChanged, nov1.Add(5*24*time.Hour), &schemas.Subscription{Plan: "healthcare", Term: schemas.TermMonthly, Currency: usd})
	sale := func(provider string, at time.Time) schemas.StoredEvent {
		d := &schemas.SaleCompleted{OrderID: "o", BuyerID: "b", CourseID: "c", Currency: usd, Gross: dec("10"), Tax: decimal.Zero}
		seq := w.emit(provider, schemas.TypeSaleCompleted, at, d)
		return schemas.StoredEvent{Seq: seq, Event: w.mem.events[seq-1].Event}
	}
	before := sale("prov-acme", nov1.Add(2*24*time.Hour))
	after := sale("prov-acme", nov1.Add(6*24*time.Hour))
	other := sale("prov-solo", nov1.Add(6*24*time.Hour))
	w.step()
	got, err := w.state.SaleVerdicts(context.Background(), []schemas.StoredEvent{before, after, other}, w.mem.through)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got[before.Seq]; ok || !strings.HasPrefix(got[after.Seq], RefusalSellerNotEntitled) || got[other.Seq] != "" {
		t.Errorf("verdicts %v; want only the sale after the move to healthcare refused", got)
	}
}

// An unknown capability is an error listing every capability.
func TestUnknownCapability(t *testing.T) {
	w := newWorld(t, nov15)
	w.step()
	_, err := w.state.Check(context.Background(), "acme", "teleport", 0)
	var u *UnknownCapabilityError
	if !errorsAs(err, &u) || len(u.Known) != 19+3 {
		t.Fatalf("error %v; want an UnknownCapabilityError with 22 capabilities", err)
	}
}
