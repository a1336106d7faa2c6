package billing

import "errors"

var (
	// ErrPeriodOpen refuses to close a period that has not ended.
	ErrPeriodOpen = errors.New("period has not ended")
	// ErrUnknownPlan marks a subscription to a plan the price book lacks.
	ErrUnknownPlan = errors.New("unknown plan")
)
