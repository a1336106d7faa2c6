package stripesync

import (
	"context"

	"github.com/stripe/stripe-go/v76"
)

// ensureCustomer returns known, else the tenant's customer, else a new one.
func (c *Client) ensureCustomer(ctx context.Context, tenant, known string) (string, error) {
	if known != "" {
		return known, nil
	}
	var found *stripe.Customer
	err := c.call(ctx, "searching customer", "", func(ctx context.Context) error {
		found = nil
		it := c.customers.Search(&stripe.CustomerSearchParams{SearchParams: stripe.SearchParams{
			Context: ctx, Query: metaQuery(MetaTenant, tenant), Limit: stripe.Int64(20),
		}})
		for it.Next() {
			cu := it.Customer()
			// Check the metadata ourselves: search is a query language,
			// and stripe-mock answers any query with a fixture.
			if cu.Deleted || cu.Metadata[MetaTenant] != tenant {
				continue
			}
			if found != nil {
				c.log.Warn().Str("tenant", tenant).Str("kept", found.ID).Str("other", cu.ID).Msg("several stripe customers for one tenant")
			}
			if found == nil || cu.Created < found.Created || (cu.Created == found.Created && cu.ID < found.ID) {
				found = cu
			}
		}
		return it.Err()
	})
	switch {
	case err == nil && found != nil:
		return found.ID, nil
	case err == nil:
	case isRejected(err):
		// Search is not offered everywhere (e.g. some regions); the
		// idempotency key still prevents a duplicate within 24 hours.
		c.log.Warn().Err(err).Str("tenant", tenant).Msg("customer search unavailable, creating under idempotency key")
	default:
		return "", err
	}

	var cu *stripe.Customer
	key := customerKey(tenant)
	err = c.call(ctx, "creating customer", key, func(ctx context.Context) error {
		p := &stripe.CustomerParams{Description: stripe.String("Tally tenant " + tenant)}
		p.Context = ctx
		p.SetIdempotencyKey(key)
		p.AddMetadata(MetaTenant, tenant)
		var err error
		cu, err = c.customers.New(p)
		return err
	})
	if err != nil {
		return "", err
	}
	return cu.ID, nil
}
