package schemas

import (
	"crypto/sha256"
	"encoding/hex"
)

// Type is the CloudEvents type attribute of a Tally event.
type Type string

// The event types of SPEC §1.
const (
	TypeAICreditsConsumed    Type = "ai.credits.consumed"
	TypeAIPackPurchased      Type = "ai.credits.pack_purchased"
	TypeSeatAssigned         Type = "seat.assigned"
	TypeSeatReleased         Type = "seat.released"
	TypeSubscriptionStarted  Type = "subscription.started"
	TypeSubscriptionChanged  Type = "subscription.changed"
	TypeSubscriptionCanceled Type = "subscription.canceled"
	TypeSaleCompleted        Type = "marketplace.sale.completed"
	TypeRefundIssued         Type = "marketplace.refund.issued"
	TypeKYCVerified          Type = "provider.kyc.verified"
	TypeKYCRevoked           Type = "provider.kyc.revoked"
)

// The tenant state events of SPEC §6 (subject: the tenant id).
const (
	TypeFeatureFlagSet Type = "tenant.feature_flag.set"
	TypeAICapSet       Type = "tenant.ai_cap.set"
	TypeSellerEnrolled Type = "marketplace.seller.enrolled"
	TypeSellerLeft     Type = "marketplace.seller.left"
)

var allTypes = [...]Type{
	TypeAICreditsConsumed,
	TypeAIPackPurchased,
	TypeSeatAssigned,
	TypeSeatReleased,
	TypeSubscriptionStarted,
	TypeSubscriptionChanged,
	TypeSubscriptionCanceled,
	TypeSaleCompleted,
	TypeRefundIssued,
	TypeKYCVerified,
	TypeKYCRevoked,
	TypeFeatureFlagSet,
	TypeAICapSet,
	TypeSellerEnrolled,
	TypeSellerLeft,
}

// Types returns every event type, in the order of SPEC §1, then §6.
func Types() []Type {
	out := make([]Type, len(allTypes))
	copy(out[:], allTypes[:])
	return out
}

// Known reports whether t is one of [Types].
func (t Type) Known() bool {
	_, ok := lookupType(string(t))
	return ok
}

// ProviderSubject reports whether the subject of events of type t is a
// marketplace provider id; for the other types it is a tenant id.
func (t Type) ProviderSubject() bool {
	switch t {
	case TypeSaleCompleted, TypeRefundIssued, TypeKYCVerified, TypeKYCRevoked:
		return true
	}
	return false
}

// lookupType maps the wire string to the constant without allocating.
func lookupType(s string) (Type, bool) {
	for _, t := range allTypes {
		if string(t) == s {
			return t, true
		}
	}
	return "", false
}

// Feature is the AI feature that consumed credits.
type Feature string

// The features of ai.credits.consumed.
const (
	FeatureTutor     Feature = "tutor"
	FeatureCoAuthor  Feature = "co_author"
	FeatureTranslate Feature = "translate"
	FeatureTTS       Feature = "tts"
	FeatureImage     Feature = "image"
	FeatureInsight   Feature = "insight"
	FeatureSearch    Feature = "search"
	FeatureOther     Feature = "other"
)

var allFeatures = [...]Feature{FeatureTutor, FeatureCoAuthor, FeatureTranslate, FeatureTTS, FeatureImage, FeatureInsight, FeatureSearch, FeatureOther}

// Features returns every feature, in the order of SPEC §1.
func Features() []Feature { return append([]Feature(nil), allFeatures[:]...) }

// SeatType is a kind of seat.
type SeatType string

// The seat types.
const (
	SeatLearner SeatType = "learner"
	SeatAuthor  SeatType = "author"
)

var allSeatTypes = [...]SeatType{SeatLearner, SeatAuthor}

// SeatTypes returns every seat type.
func SeatTypes() []SeatType { return append([]SeatType(nil), allSeatTypes[:]...) }

// Term is a subscription term.
type Term string

// The subscription terms.
const (
	TermMonthly   Term = "monthly"
	TermAnnual    Term = "annual"
	TermMultiYear Term = "multi_year"
)

var allTerms = [...]Term{TermMonthly, TermAnnual, TermMultiYear}

// Terms returns every term.
func Terms() []Term { return append([]Term(nil), allTerms[:]...) }

// Prepaid reports whether the term is billed upfront per contract year and
// therefore needs committed seats.
func (t Term) Prepaid() bool { return t == TermAnnual || t == TermMultiYear }

// Identity is what makes an event unique: (source, id).
type Identity struct {
	Source, ID string
}

// MsgID returns a stable, header-safe id of bounded length for the
// identity: the hex SHA-256 of source + NUL + id (64 characters). It is the
// JetStream Nats-Msg-Id of the event. Validated sources and ids never hold
// a NUL, so distinct identities never share a MsgID input.
func (i Identity) MsgID() string {
	h := sha256.New()
	h.Write([]byte(i.Source))
	h.Write([]byte{0})
	h.Write([]byte(i.ID))
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}
