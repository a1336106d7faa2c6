package api

import (
	"context"

	"github.com/tally-billing/tally/entitlements"
)

// noEntitlements is an entitlement backend for tests of other routes.
type noEntitlements struct{}

func (noEntitlements) Entitlements(context.Context, string, uint64) (*entitlements.View, error) {
	return &entitlements.View{}, nil
}

func (noEntitlements) Check(context.Context, string, string, uint64) (entitlements.CheckResult, error) {
	return entitlements.CheckResult{}, nil
}
