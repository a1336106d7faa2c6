package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestEntitlementsCmd runs the command against a server answering the
// API's JSON: the path it asks, with the key, and what it prints.
func TestEntitlementsCmd(t *testing.T) {
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer k-finance" {
			t.Errorf("authorization %q", r.Header.Get("Authorization"))
		}
		paths = append(paths, r.URL.EscapedPath())
		if strings.HasSuffix(r.URL.Path, "/seats.learner") {
			_, _ = io.WriteString(w, `{"capability":"seats.learner","allowed":false,"value":"included","reason":"seat_limit_reached","limit":"50","used":"50","remaining":"0"}`)
			return
		}
		_, _ = io.WriteString(w, `{"tenant":"t 1","as_of":"2026-11-20T12:00:00Z","position":7,"subscribed":true,"plan":"team","term":"monthly","currency":"USD",
			"addons":[],"capabilities":[{"capability":"sso_scim","value":"not_available","addon_active":false,"allowed":false,"reason":"not_available"}],
			"flags":{"beta":true},"seats":{"learner":{"included":0,"committed":0,"limit":50,"assigned_of_type":50,"assigned":50,"remaining":0}},
			"ai_credits":{"period":"2026-11","allowance":"5000","pack_credits_left":"0","consumed":"1000","remaining_before_overage":"4000","overage":"0","cap":"1000","remaining_before_cap":"0"},
			"seller_providers":[]}`)
	}))
	defer srv.Close()
	run := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		root := newRootCmd()
		root.SetArgs(append([]string{"entitlements", "--url", srv.URL, "--key", "k-finance"}, args...))
		root.SetOut(&out)
		root.SetErr(io.Discard)
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	if got, want := run("--tenant", "t 1", "--check", "seats.learner"),
		"seats.learner: not allowed (seat_limit_reached), value included, used 50 of 50, 0 remaining\n"; got != want {
		t.Errorf("check printed %q, want %q", got, want)
	}
	out := run("--tenant", "t 1")
	for _, want := range []string{"tenant t 1: plan team, term monthly, USD, add-ons: none", "sso_scim", "not_available",
		"learner", "consumed", "1000", "remaining before cap", "beta"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if want := []string{"/v1/tenants/t%201/entitlements/seats.learner", "/v1/tenants/t%201/entitlements"}; strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("paths %v, want %v", paths, want)
	}
}
