package stripesync_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/tally-billing/tally/internal/stripemock"
)

// stripeMockURL is the base URL of the stripe-mock started by TestMain.
var stripeMockURL string

// TestMain runs the tests against a real stripe-mock.
func TestMain(m *testing.M) {
	srv, err := stripemock.Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stripeMockURL = srv.URL
	code := m.Run()
	srv.Stop()
	os.Exit(code)
}
