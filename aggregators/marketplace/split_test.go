package marketplace_test

import (
	"errors"
	"testing"

	"github.com/tally-billing/tally/aggregators/marketplace"
	"github.com/tally-billing/tally/money"
)

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		c                    money.Currency
		gross, tax, refunded string
		net, fee, share      string
	}{
		// fee = round(net × 0.15) half to even; share = net − fee.
		{"spec 59/9", usd, "59.00", "9.00", "0", "50.00", "7.50", "42.50"},
		{"half even down", usd, "10.30", "0.00", "0", "10.30", "1.54", "8.76"}, // 1.545 → 1.54
		{"half even up", usd, "10.10", "0.00", "0", "10.10", "1.52", "8.58"},   // 1.515 → 1.52
		{"below half", usd, "0.03", "0.00", "0", "0.03", "0.00", "0.03"},       // 0.0045 → 0.00
		{"one cent", usd, "0.10", "0.00", "0", "0.10", "0.02", "0.08"},         // 0.015 → 0.02
		{"all tax", usd, "12.00", "12.00", "0", "0.00", "0.00", "0.00"},
		{"free course", usd, "0.00", "0.00", "0", "0.00", "0.00", "0.00"},
		{"free course fully refunded", usd, "0", "0", "0", "0.00", "0.00", "0.00"},
		{"JPY 1010", jpy, "1212", "202", "0", "1010", "152", "858"},                      // 151.5 → 152
		{"JPY 1030", jpy, "1030", "0", "0", "1030", "154", "876"},                        // 154.5 → 154
		{"BHD 3 digits", cur("BHD"), "10.010", "0.000", "0", "10.010", "1.502", "8.508"}, // 1.5015 → 1.502
		// remaining net = round((gross − R) × net ÷ gross).
		{"spec refund 29.50", usd, "59.00", "9.00", "29.50", "25.00", "3.75", "21.25"},
		{"refund 10.00", usd, "59.00", "9.00", "10.00", "41.53", "6.23", "35.30"}, // 2450/59 = 41.5254…; 6.2295
		{"full refund", usd, "59.00", "9.00", "59.00", "0.00", "0.00", "0.00"},
		{"refund one cent", usd, "59.00", "9.00", "0.01", "49.99", "7.50", "42.49"}, // 58.99×50/59 = 49.9915…; 7.4985
		{"JPY half refund", jpy, "1212", "202", "606", "505", "76", "429"},          // 75.75 → 76
		// the ratio exactly on a half: 0.03 × 0.02 ÷ 0.04 = 0.015 → 0.02; 0.01 × 0.02 ÷ 0.04 = 0.005 → 0.00
		{"ratio half to even up", usd, "0.04", "0.02", "0.01", "0.02", "0.00", "0.02"},
		{"ratio half to even down", usd, "0.04", "0.02", "0.03", "0.00", "0.00", "0.00"},
		{"ratio below half", usd, "0.04", "0.01", "0.01", "0.02", "0.00", "0.02"}, // 0.03 × 0.03 ÷ 0.04 = 0.0225
		// (G − 1) × (k + 1) ÷ G with G = 2k + 1 is a half minus 1 ÷ (2G): exact
		// arithmetic rounds down, a 16-digit division would round up to even.
		{"ratio a hair below a half", jpy, "20000000000000003", "10000000000000001", "1", "10000000000000001", "1500000000000000", "8500000000000001"},
		{"ratio above half", usd, "0.04", "0.01", "0.03", "0.01", "0.00", "0.01"}, // 0.01 × 0.03 ÷ 0.04 = 0.0075
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := marketplace.SplitAfterRefunds(terms.PlatformFee, tc.c, d(tc.gross), d(tc.tax), d(tc.refunded))
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "net", s.Net, tc.net)
			eq(t, "fee", s.Fee, tc.fee)
			eq(t, "share", s.Share, tc.share)
		})
	}
}

func TestSplitRejects(t *testing.T) {
	rate := terms.PlatformFee
	for _, tc := range []struct {
		name                 string
		c                    money.Currency
		gross, tax, refunded string
		rate                 string
		want                 error
	}{
		{"tax above gross", usd, "10.00", "10.01", "0", "", marketplace.ErrInvalidSale},
		{"negative gross", usd, "-1.00", "0", "0", "", marketplace.ErrInvalidSale},
		{"sub-cent gross", usd, "10.001", "0", "0", "", marketplace.ErrInvalidSale},
		{"fractional yen", jpy, "10.5", "0", "0", "", marketplace.ErrInvalidSale},
		{"refund above gross", usd, "10.00", "0", "10.01", "", marketplace.ErrRefundExceedsSale},
		{"refund on free course", usd, "0", "0", "0.01", "", marketplace.ErrRefundExceedsSale},
		{"negative refund", usd, "10.00", "0", "-0.01", "", marketplace.ErrInvalidRefund},
		{"rate 1", usd, "10.00", "0", "0", "1", marketplace.ErrInvalidTerms},
		{"negative rate", usd, "10.00", "0", "0", "-0.1", marketplace.ErrInvalidTerms},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rate
			if tc.rate != "" {
				r = d(tc.rate)
			}
			_, err := marketplace.SplitAfterRefunds(r, tc.c, d(tc.gross), d(tc.tax), d(tc.refunded))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}
