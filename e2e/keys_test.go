package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/tally-billing/tally/daemon"
)

// apiKey is one entry of a keys file (docs/keys.md).
type apiKey struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	Tenant   string `json:"tenant,omitempty"`
	Provider string `json:"provider,omitempty"`
	Key      string `json:"key"`
}

// withKeysFile runs the daemon with a keys file holding keys.
func withKeysFile(t *testing.T, keys ...apiKey) option {
	t.Helper()
	data, err := json.Marshal(struct {
		Keys []apiKey `json:"keys"`
	}{keys})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return func(c *daemon.Config) { c.KeysFile = path }
}

// withScopedKeys runs the daemon with ingest and finance keys named after
// test, and one key of role per subject, bound to it by scope (the
// tenant or provider field); it returns the subjects' keys.
func withScopedKeys(t *testing.T, test, role string, scope func(k *apiKey, subject string), subjects ...string) (option, map[string]string) {
	t.Helper()
	keys := []apiKey{
		{Name: "ingest", Role: "ingest", Key: "ingest-key-for-the-" + test + "-test"},
		{Name: "finance", Role: "finance", Key: "finance-key-for-the-" + test + "-test"},
	}
	out := map[string]string{}
	for _, s := range subjects {
		out[s] = role + "-key-of-" + s + "-0123456789"
		k := apiKey{Name: s + "-" + role, Role: role, Key: out[s]}
		scope(&k, s)
		keys = append(keys, k)
	}
	return withKeysFile(t, keys...), out
}

// withTenantKeys runs the daemon with a keys file holding ingest and
// finance keys and one tenant key per tenant; it returns the tenant keys.
func withTenantKeys(t *testing.T, tenants ...string) (option, map[string]string) {
	t.Helper()
	return withScopedKeys(t, "tenant-key", "tenant", func(k *apiKey, s string) { k.Tenant = s }, tenants...)
}

// withProviderKeys runs the daemon with a keys file holding ingest and
// finance keys and one key per provider; it returns the provider keys.
func withProviderKeys(t *testing.T, providers ...string) (option, map[string]string) {
	t.Helper()
	return withScopedKeys(t, "marketplace", "provider", func(k *apiKey, s string) { k.Provider = s }, providers...)
}
