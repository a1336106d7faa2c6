// Package auth holds Tally's API keys and decides who may do what.
//
// Keys live in a JSON keys file (format in docs/keys.md):
//
//	{"keys": [
//	  {"name": "ai-tutor", "role": "ingest", "key": "…"},
//	  {"name": "finance", "role": "finance", "key": "…"},
//	  {"name": "acme-courses", "role": "provider", "provider": "prov_acme", "key": "…"},
//	  {"name": "globex-portal", "role": "tenant", "tenant": "t_globex", "key": "…"}
//	]}
//
// Keys are compared in constant time (as SHA-256 digests, against every
// key, with no early exit) and never logged.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Role is what a key may do.
type Role string

// Roles.
const (
	// RoleIngest may send events.
	RoleIngest Role = "ingest"
	// RoleFinance may read everything, close periods and run payouts.
	RoleFinance Role = "finance"
	// RoleProvider may read its own provider's balance, payouts and statements.
	RoleProvider Role = "provider"
	// RoleTenant may read its own tenant's usage, invoices and
	// entitlements (SPEC §6), and nothing else.
	RoleTenant Role = "tenant"
)

// Roles returns every role.
func Roles() []Role { return []Role{RoleIngest, RoleFinance, RoleProvider, RoleTenant} }

// MinKeyLength is the shortest key accepted in a keys file.
const MinKeyLength = 24

// ErrInvalidKeys is wrapped by every keys-file validation error.
var ErrInvalidKeys = errors.New("invalid keys file")

// Key is one entry of the keys file.
type Key struct {
	Name     string `json:"name"`
	Role     Role   `json:"role"`
	Provider string `json:"provider,omitempty"`
	Tenant   string `json:"tenant,omitempty"`
	Secret   string `json:"key"`
}

// File is the keys file.
type File struct {
	Keys []Key `json:"keys"`
}

// Principal is who a key belongs to.
type Principal struct {
	Name     string
	Role     Role
	Provider string // for RoleProvider
	Tenant   string // for RoleTenant
}

// CanReadTenant reports whether the principal may read tenant's data
// (usage, invoices, entitlements): a finance key any tenant's, a tenant
// key its own only. An API answers a tenant key asking for another
// tenant with 404, not 403, so that it does not learn the tenant exists;
// other roles get 403.
func (p Principal) CanReadTenant(tenant string) bool {
	switch p.Role {
	case RoleFinance:
		return true
	case RoleTenant:
		return tenant != "" && tenant == p.Tenant
	}
	return false
}

// Keyring authenticates keys.
type Keyring struct {
	entries []entry
}

type entry struct {
	digest [32]byte
	who    Principal
}

// Parse validates a keys file and builds a Keyring.
func Parse(data []byte) (*Keyring, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKeys, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: unexpected data after the top-level object", ErrInvalidKeys)
	}
	if !utf8.Valid(data) {
		// encoding/json would silently turn invalid bytes into U+FFFD, so
		// the key compared would not be the key written in the file.
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrInvalidKeys)
	}
	if len(f.Keys) == 0 {
		return nil, fmt.Errorf("%w: no keys", ErrInvalidKeys)
	}
	kr := &Keyring{}
	seen := map[[32]byte]bool{}
	for i, k := range f.Keys {
		where := fmt.Sprintf("keys[%d] (%q)", i, k.Name)
		switch {
		case k.Name == "":
			return nil, fmt.Errorf("%w: keys[%d]: name is required", ErrInvalidKeys, i)
		case !slices.Contains(Roles(), k.Role):
			return nil, fmt.Errorf("%w: %s: role must be ingest, finance, provider or tenant, got %q", ErrInvalidKeys, where, k.Role)
		case k.Role == RoleProvider && k.Provider == "":
			return nil, fmt.Errorf("%w: %s: a provider key needs \"provider\"", ErrInvalidKeys, where)
		case k.Role != RoleProvider && k.Provider != "":
			return nil, fmt.Errorf("%w: %s: \"provider\" is only for provider keys", ErrInvalidKeys, where)
		case k.Role == RoleTenant && k.Tenant == "":
			return nil, fmt.Errorf("%w: %s: a tenant key needs \"tenant\" (the one tenant it reads)", ErrInvalidKeys, where)
		case k.Role != RoleTenant && k.Tenant != "":
			return nil, fmt.Errorf("%w: %s: \"tenant\" is only for tenant keys", ErrInvalidKeys, where)
		case k.Role == RoleTenant && !validTenantID(k.Tenant):
			return nil, fmt.Errorf("%w: %s: tenant %q is not a tenant id (an event subject: 1 to 256 bytes, no control characters)", ErrInvalidKeys, where, k.Tenant)
		case len(k.Secret) < MinKeyLength:
			return nil, fmt.Errorf("%w: %s: key must be at least %d characters", ErrInvalidKeys, where, MinKeyLength)
		}
		d := sha256.Sum256([]byte(k.Secret))
		if seen[d] {
			return nil, fmt.Errorf("%w: %s: the same key is listed twice", ErrInvalidKeys, where)
		}
		seen[d] = true
		kr.entries = append(kr.entries, entry{digest: d, who: Principal{Name: k.Name, Role: k.Role, Provider: k.Provider, Tenant: k.Tenant}})
	}
	return kr, nil
}

// validTenantID is the rule of an event subject (SPEC §1, schemas): 1 to
// 256 bytes with no control characters, so that a tenant key can name
// any tenant events can.
func validTenantID(s string) bool {
	return s != "" && len(s) <= 256 && !strings.ContainsFunc(s, unicode.IsControl)
}

// LoadFile reads and parses a keys file.
func LoadFile(path string) (*Keyring, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading keys file: %w", err)
	}
	kr, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return kr, nil
}

// FindSecret returns the secret of the first key of role in the keys file
// at path: how the CLI, the tests and the benchmark find a dev key.
func FindSecret(path string, role Role) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading keys file: %w", err)
	}
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return "", fmt.Errorf("decoding keys file %s: %w", path, err)
	}
	for _, k := range f.Keys {
		if k.Role == role {
			return k.Secret, nil
		}
	}
	return "", fmt.Errorf("keys file %s has no %s key", path, role)
}

// Authenticate returns the principal of secret. It compares against every
// key in constant time.
func (k *Keyring) Authenticate(secret string) (Principal, bool) {
	d := sha256.Sum256([]byte(secret))
	var found Principal
	ok := 0
	for _, e := range k.entries {
		if subtle.ConstantTimeCompare(d[:], e.digest[:]) == 1 {
			found = e.who
			ok = 1
		}
	}
	return found, ok == 1
}

// NewSecret returns a random key.
func NewSecret(prefix string) (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating key: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// WriteDevFile creates a keys file with one ingest and one finance key, for
// local use, readable only by its owner. It refuses to overwrite a file.
func WriteDevFile(path string) (File, error) {
	var f File
	for _, k := range []struct {
		name   string
		role   Role
		prefix string
	}{{"dev-ingest", RoleIngest, "tk_ingest_"}, {"dev-finance", RoleFinance, "tk_finance_"}} {
		s, err := NewSecret(k.prefix)
		if err != nil {
			return File{}, err
		}
		f.Keys = append(f.Keys, Key{Name: k.name, Role: k.role, Secret: s})
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return File{}, fmt.Errorf("encoding keys file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return File{}, fmt.Errorf("creating keys dir: %w", err)
	}
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return File{}, fmt.Errorf("creating keys file: %w", err)
	}
	if _, err := fh.Write(append(data, '\n')); err != nil {
		_ = fh.Close() // the write error is the one to report
		return File{}, fmt.Errorf("writing keys file: %w", err)
	}
	if err := fh.Close(); err != nil {
		return File{}, fmt.Errorf("writing keys file: %w", err)
	}
	return f, nil
}
