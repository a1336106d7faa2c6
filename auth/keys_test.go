package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	k1 = "ingest-key-0123456789abcdef"
	k2 = "finance-key-0123456789abcdef"
	k3 = "provider-key-0123456789abcdef"
	k4 = "tenant-key-0123456789abcdefgh"
)

func TestParseAndAuthenticate(t *testing.T) {
	kr, err := Parse([]byte(`{"keys":[
		{"name":"tutor","role":"ingest","key":"` + k1 + `"},
		{"name":"fin","role":"finance","key":"` + k2 + `"},
		{"name":"acme","role":"provider","provider":"prov_acme","key":"` + k3 + `"},
		{"name":"globex","role":"tenant","tenant":"t_globex","key":"` + k4 + `"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		secret string
		want   Principal
		ok     bool
	}{
		{k1, Principal{Name: "tutor", Role: RoleIngest}, true},
		{k2, Principal{Name: "fin", Role: RoleFinance}, true},
		{k3, Principal{Name: "acme", Role: RoleProvider, Provider: "prov_acme"}, true},
		{k4, Principal{Name: "globex", Role: RoleTenant, Tenant: "t_globex"}, true},
		{k1 + "x", Principal{}, false},
		{"", Principal{}, false},
		{strings.ToUpper(k1), Principal{}, false},
	}
	for _, tc := range cases {
		got, ok := kr.Authenticate(tc.secret)
		if ok != tc.ok || got != tc.want {
			t.Errorf("Authenticate(%q) = %+v, %v; want %+v, %v", tc.secret, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseRejectsBadFiles(t *testing.T) {
	cases := map[string]string{
		"not JSON":          `{`,
		"no keys":           `{"keys":[]}`,
		"unknown field":     `{"keys":[{"name":"a","role":"ingest","key":"` + k1 + `","admin":true}]}`,
		"no name":           `{"keys":[{"role":"ingest","key":"` + k1 + `"}]}`,
		"bad role":          `{"keys":[{"name":"a","role":"root","key":"` + k1 + `"}]}`,
		"short key":         `{"keys":[{"name":"a","role":"ingest","key":"short"}]}`,
		"provider missing":  `{"keys":[{"name":"a","role":"provider","key":"` + k1 + `"}]}`,
		"provider on other": `{"keys":[{"name":"a","role":"finance","provider":"p","key":"` + k1 + `"}]}`,
		"tenant missing":    `{"keys":[{"name":"a","role":"tenant","key":"` + k1 + `"}]}`,
		"tenant on other":   `{"keys":[{"name":"a","role":"provider","provider":"p","tenant":"t","key":"` + k1 + `"}]}`,
		"tenant on finance": `{"keys":[{"name":"a","role":"finance","tenant":"t","key":"` + k1 + `"}]}`,
		"tenant control":    `{"keys":[{"name":"a","role":"tenant","tenant":"t\n1","key":"` + k1 + `"}]}`,
		"tenant too long":   `{"keys":[{"name":"a","role":"tenant","tenant":"` + strings.Repeat("t", 257) + `","key":"` + k1 + `"}]}`,
		"same key twice": `{"keys":[{"name":"a","role":"ingest","key":"` + k1 + `"},
			{"name":"b","role":"finance","key":"` + k1 + `"}]}`,
	}
	for name, data := range cases {
		if _, err := Parse([]byte(data)); !errors.Is(err, ErrInvalidKeys) {
			t.Errorf("%s: err %v, want ErrInvalidKeys", name, err)
		}
	}
}

// CanReadTenant: finance reads every tenant, a tenant key its own only,
// the other roles none.
func TestCanReadTenant(t *testing.T) {
	cases := []struct {
		p      Principal
		tenant string
		want   bool
	}{
		{Principal{Role: RoleFinance}, "t_a", true},
		{Principal{Role: RoleTenant, Tenant: "t_a"}, "t_a", true},
		{Principal{Role: RoleTenant, Tenant: "t_a"}, "t_b", false},
		{Principal{Role: RoleTenant, Tenant: "t_a"}, "T_A", false},
		{Principal{Role: RoleTenant, Tenant: "t_a"}, "", false},
		{Principal{Role: RoleTenant}, "", false},
		{Principal{Role: RoleProvider, Provider: "t_a"}, "t_a", false},
		{Principal{Role: RoleIngest}, "t_a", false},
		{Principal{}, "", false},
	}
	for _, tc := range cases {
		if got := tc.p.CanReadTenant(tc.tenant); got != tc.want {
			t.Errorf("%+v.CanReadTenant(%q) = %v; want %v", tc.p, tc.tenant, got, tc.want)
		}
	}
}

func TestWriteDevFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "keys.json")
	f, err := WriteDevFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	kr, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	roles := map[Role]bool{}
	for _, k := range f.Keys {
		p, ok := kr.Authenticate(k.Secret)
		if !ok || p.Role != k.Role {
			t.Errorf("key %s does not authenticate as %s", k.Name, k.Role)
		}
		roles[k.Role] = true
	}
	if !roles[RoleIngest] || !roles[RoleFinance] {
		t.Errorf("dev keys have roles %v; want ingest and finance", roles)
	}
	if _, err := WriteDevFile(path); err == nil {
		t.Error("WriteDevFile overwrote an existing file")
	}
	for _, k := range f.Keys {
		if s, err := FindSecret(path, k.Role); err != nil || s != k.Secret {
			t.Errorf("FindSecret(%s) = %q, %v; want the key written", k.Role, s, err)
		}
	}
	if _, err := FindSecret(path, RoleProvider); err == nil {
		t.Error("FindSecret(provider) of dev keys: no error")
	}
	if _, err := FindSecret(filepath.Join(t.TempDir(), "none.json"), RoleIngest); err == nil {
		t.Error("FindSecret of a missing file: no error")
	}
}
