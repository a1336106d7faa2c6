package pricebook

import (
	"fmt"
	"slices"

	"github.com/tally-billing/tally/schemas"
)

// CheckEvent rejects an event that names what the book does not sell: a
// subscription to an unknown plan or term, to a plan on a term it is not
// sold on, to the pilot plan (its lifecycle is not rated yet), an add-on
// the plan cannot have (not_available in the entitlement matrix), or a
// currency the book does not price (subscriptions and packs). Ingest
// calls it so that such an event is refused at the door with its field
// (HTTP 400; a dead letter with the reason on the NATS path), instead of
// failing the period close. Other events pass.
func (b *Book) CheckEvent(e *schemas.Event) error {
	switch d := e.Data.(type) {
	case *schemas.Subscription:
		p, err := b.Plan(d.Plan)
		if err != nil {
			return fieldErr("data.plan", "not a plan of price book %s: %q", b.Version, d.Plan)
		}
		if p.Flat != nil {
			return fieldErr("data.plan", "plan %q: the pilot lifecycle (a flat fee for %d months, then team; SPEC §8) "+
				"is not supported yet", d.Plan, p.Flat.Months)
		}
		if p.Terms != nil && !slices.Contains(p.Terms, d.Term) {
			return fieldErr("data.term", "plan %q is sold on term %v only, not %q", d.Plan, p.Terms, d.Term)
		}
		if _, err := b.Term(d.Term); err != nil {
			return fieldErr("data.term", "not a term of price book %s: %q", b.Version, d.Term)
		}
		if _, err := b.PlanIn(d.Plan, d.Currency); err != nil {
			return fieldErr("data.currency", "price book %s has no %s prices for plan %q", b.Version, d.Currency.Code, d.Plan)
		}
		for i, key := range d.Addons {
			field := fmt.Sprintf("data.addons[%d]", i)
			if _, err := b.Addon(key); err != nil {
				return fieldErr(field, "not an add-on of price book %s: %q", b.Version, key)
			}
			if _, err := b.AddonOn(key, d.Plan); err != nil {
				v, _ := b.Entitlement(d.Plan, Capability(key))
				return fieldErr(field, "add-on %q is not available on plan %q (%s in the entitlement matrix of price book %s)",
					key, d.Plan, v, b.Version)
			}
		}
	case *schemas.AIPackPurchased:
		if _, err := b.Currency(d.Currency.Code); err != nil {
			return fieldErr("data.currency", "price book %s does not bill in %s", b.Version, d.Currency.Code)
		}
	}
	return nil
}

func fieldErr(field, format string, args ...any) error {
	return &schemas.FieldError{Field: field, Message: fmt.Sprintf(format, args...), Err: schemas.ErrInvalidValue}
}
