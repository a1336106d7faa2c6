package webhttp

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tally-billing/tally/webhooks"
)

// TestRefusesLoopbackAtDialTime: the URL's host is a name (so no check
// at registration could see the address); the dialer refuses the
// loopback address it resolves to, unless local targets are allowed.
func TestRefusesLoopbackAtDialTime(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer srv.Close()
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, url, nil)
	resp, err := New(webhooks.TargetPolicy{}).Do(req)
	if err == nil {
		_ = resp.Body.Close()
	}
	if !errors.Is(err, webhooks.ErrTargetRefused) {
		t.Errorf("strict policy reached %s: %v", url, err)
	}
	req, _ = http.NewRequestWithContext(context.Background(), http.MethodPost, url, nil)
	resp, err = New(webhooks.TargetPolicy{AllowLocal: true}).Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("allow-local: %v", err)
	}
	_ = resp.Body.Close()
}

// TestFollowsNoRedirect: a 307 to elsewhere is the answer, not followed.
func TestFollowsNoRedirect(t *testing.T) {
	followed := false
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { followed = true }))
	defer target.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL, strings.NewReader("{}"))
	resp, err := New(webhooks.TargetPolicy{AllowLocal: true}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || followed {
		t.Errorf("status %d, followed %v", resp.StatusCode, followed)
	}
}
