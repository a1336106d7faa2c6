// Package booktest builds price books for tests from the shipped one.
package booktest

import (
	"encoding/json"
	"fmt"

	"github.com/tally-billing/tally/aggregators/pricebook"
)

// WithPlanLike returns the shipped price book (JSON) with one more plan,
// plan, priced as the plan like, under version: a plan some tenants were
// sold and the shipped book does not have.
func WithPlanLike(plan, like, version string) ([]byte, error) {
	var raw map[string]any
	if err := json.Unmarshal(pricebook.DefaultJSON(), &raw); err != nil {
		return nil, fmt.Errorf("decoding the shipped price book: %w", err)
	}
	plans, ok := raw["plans"].(map[string]any)
	if !ok || plans[like] == nil {
		return nil, fmt.Errorf("the shipped price book has no plan %q", like)
	}
	plans[plan] = plans[like]
	raw["version"] = version
	return json.Marshal(raw)
}
