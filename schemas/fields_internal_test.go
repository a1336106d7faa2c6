package schemas

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The validation order of data fields is the order of the Go struct
// fields, so that error messages are predictable from the docs.
func TestFieldListsFollowStructs(t *testing.T) {
	tests := []struct {
		payload any
		fields  []string
	}{
		{AICreditsConsumed{}, aiCreditsFields},
		{AIPackPurchased{}, aiPackFields},
		{SeatChange{}, seatFields},
		{Subscription{}, subscriptionField},
		{SubscriptionCanceled{}, canceledFields},
		{SaleCompleted{}, saleFields},
		{RefundIssued{}, refundFields},
		{KYCVerified{}, kycVerifiedFields},
		{KYCRevoked{}, kycRevokedFields},
	}
	for _, tt := range tests {
		rt := reflect.TypeOf(tt.payload)
		var tags []string
		for i := range rt.NumField() {
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			tags = append(tags, name)
		}
		if !slices.Equal(tags, tt.fields) {
			t.Errorf("%s: field list %v; struct order %v", rt.Name(), tt.fields, tags)
		}
		if len(tt.fields) > maxFields {
			t.Errorf("%s has %d fields; maxFields is %d", rt.Name(), len(tt.fields), maxFields)
		}
	}
}
