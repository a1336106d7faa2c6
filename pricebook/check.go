package pricebook

import (
	"fmt"

	"github.com/tally-billing/tally/schemas"
)

// CheckEvent rejects an event that names what the book does not sell: a
// subscription to an unknown plan or term, an add-on the plan cannot
// have, or a currency the book does not price (subscriptions and packs).
// Ingest calls it so that such an event is refused at the door with its
// field, instead of failing the period close. Other events pass.
func (b *Book) CheckEvent(e *schemas.Event) error {
	switch d := e.Data.(type) {
	case *schemas.Subscription:
		if _, err := b.Plan(d.Plan); err != nil {
			return fieldErr("data.plan", "not a plan of price book %s: %q", b.Version, d.Plan)
		}
		if _, err := b.Term(d.Term); err != nil {
			return fieldErr("data.term", "not a term of price book %s: %q", b.Version, d.Term)
		}
		if _, err := b.PlanIn(d.Plan, d.Currency); err != nil {
			return fieldErr("data.currency", "price book %s has no %s prices for plan %q", b.Version, d.Currency.Code, d.Plan)
		}
		for i, key := range d.Addons {
			a, err := b.Addon(key)
			if err != nil {
				return fieldErr(fmt.Sprintf("data.addons[%d]", i), "not an add-on of price book %s: %q", b.Version, key)
			}
			if !a.AllowedOn(d.Plan) {
				return fieldErr(fmt.Sprintf("data.addons[%d]", i), "add-on %q is not available on plan %q", key, d.Plan)
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
