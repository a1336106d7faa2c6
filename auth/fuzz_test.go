package auth

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzParseKeys checks the keys file parser: a rejection wraps
// ErrInvalidKeys; an accepted file is one valid UTF-8 JSON document, every
// entry obeys the rules of docs/keys.md, and each listed secret
// authenticates as exactly its own principal while a near miss does not.
func FuzzParseKeys(f *testing.F) {
	f.Add([]byte(`{"keys":[
		{"name":"tutor","role":"ingest","key":"` + k1 + `"},
		{"name":"fin","role":"finance","key":"` + k2 + `"},
		{"name":"acme","role":"provider","provider":"prov_acme","key":"` + k3 + `"},
		{"name":"globex","role":"tenant","tenant":"t_globex","key":"` + k4 + `"}]}`))
	f.Add([]byte(`{"keys":[{"name":"a","role":"tenant","key":"` + k4 + `"}]}`))
	f.Add([]byte(`{"keys":[{"name":"a","role":"finance","tenant":"t1","key":"` + k4 + `"}]}`))
	f.Add([]byte(`{"keys":[{"name":"a","role":"tenant","tenant":"t\u0001","key":"` + k4 + `"}]}`))
	f.Add([]byte(`{"keys":[{"name":"dev-ingest","role":"ingest","key":"tk_ingest_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}` + "\n"))
	f.Add([]byte(`{"keys":[{"name":"a","role":"ingest","key":"` + k1 + `"},{"name":"b","role":"finance","key":"` + k1 + `"}]}`))
	f.Add([]byte(`{"keys":[{"name":"a","role":"provider","key":"` + k1 + `"}]}`))
	f.Add([]byte(`{"keys":[{"name":"a","role":"ingest","key":"` + k1 + `","admin":true}]}`))
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		kr, err := Parse(data)
		if err != nil {
			if kr != nil || !errors.Is(err, ErrInvalidKeys) {
				t.Fatalf("Parse = %v, %v; want a nil keyring and ErrInvalidKeys", kr, err)
			}
			return
		}
		if !utf8.Valid(data) {
			t.Fatalf("accepted a keys file with invalid UTF-8: %q", data)
		}
		// json.Unmarshal, unlike a streaming decoder, insists on exactly
		// one JSON document.
		var file struct {
			Keys []struct {
				Name     string `json:"name"`
				Role     string `json:"role"`
				Provider string `json:"provider"`
				Tenant   string `json:"tenant"`
				Key      string `json:"key"`
			} `json:"keys"`
		}
		if err := json.Unmarshal(data, &file); err != nil {
			t.Fatalf("accepted a file that is not one JSON document (%v): %q", err, data)
		}
		if len(file.Keys) == 0 || len(kr.entries) != len(file.Keys) {
			t.Fatalf("keyring has %d entries for %d keys", len(kr.entries), len(file.Keys))
		}
		secrets := map[string]bool{}
		for i, k := range file.Keys {
			if k.Name == "" || len(k.Key) < MinKeyLength || secrets[k.Key] {
				t.Fatalf("keys[%d] %+v breaks the rules but was accepted", i, k)
			}
			secrets[k.Key] = true
			switch k.Role {
			case "ingest", "finance":
				if k.Provider != "" || k.Tenant != "" {
					t.Fatalf("keys[%d]: provider or tenant on a %s key", i, k.Role)
				}
			case "provider":
				if k.Provider == "" || k.Tenant != "" {
					t.Fatalf("keys[%d]: provider key without provider, or with a tenant", i)
				}
			case "tenant":
				if k.Tenant == "" || len(k.Tenant) > 256 || k.Provider != "" || strings.ContainsFunc(k.Tenant, unicode.IsControl) {
					t.Fatalf("keys[%d]: tenant key with tenant %q, provider %q", i, k.Tenant, k.Provider)
				}
			default:
				t.Fatalf("keys[%d]: role %q accepted", i, k.Role)
			}
			p, ok := kr.Authenticate(k.Key)
			want := Principal{Name: k.Name, Role: Role(k.Role), Provider: k.Provider, Tenant: k.Tenant}
			if !ok || p != want {
				t.Fatalf("Authenticate(keys[%d]) = %+v, %v; want %+v", i, p, ok, want)
			}
		}
		for s := range secrets {
			for _, near := range []string{s + "x", s[1:], s[:len(s)-1]} {
				if _, ok := kr.Authenticate(near); ok && !secrets[near] {
					t.Fatalf("Authenticate(%q) succeeded for a key not in the file", near)
				}
			}
		}
		if _, ok := kr.Authenticate(""); ok {
			t.Fatal("the empty key authenticates")
		}
	})
}
