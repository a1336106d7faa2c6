package webhooks

import (
	"context"
	"errors"
	"net/netip"
	"testing"
)

// fakeResolver answers host names from a table.
type fakeResolver map[string][]string

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range r[host] {
		out = append(out, netip.MustParseAddr(a))
	}
	if len(out) == 0 {
		return nil, errors.New("no such host")
	}
	return out, nil
}

func TestTargetPolicy(t *testing.T) {
	dns := fakeResolver{
		"hooks.example.com":  {"93.184.215.14"},
		"rebind.example.com": {"127.0.0.1"},
		"mixed.example.com":  {"93.184.215.14", "10.1.2.3"},
		"meta.example.com":   {"169.254.169.254"},
		"v6.example.com":     {"2606:4700::6810:85e5"},
	}
	// want: "" allowed, "refused" refused; strict = default policy,
	// local = --webhooks-allow-local.
	cases := []struct {
		url, strict, local string
	}{
		{"https://hooks.example.com/tally", "", ""},
		{"https://v6.example.com/", "", ""},
		{"http://hooks.example.com/tally", "refused", ""},
		{"ftp://hooks.example.com/", "refused", "refused"},
		{"https://user:pw@hooks.example.com/", "refused", "refused"},
		{"/relative", "refused", "refused"},
		{"https://127.0.0.1/", "refused", ""},
		{"https://127.8.9.10:8443/", "refused", ""},
		{"https://localhost/", "refused", "no-such-host-ok"},
		{"https://[::1]/", "refused", ""},
		{"https://10.0.0.1/", "refused", ""},
		{"https://172.16.0.1/", "refused", ""},
		{"https://172.31.255.255/", "refused", ""},
		{"https://172.32.0.1/", "", ""},
		{"https://192.168.1.1/", "refused", ""},
		{"https://100.64.0.1/", "refused", ""},
		{"https://[fc00::1]/", "refused", ""},
		{"https://[fd12:3456::1]/", "refused", ""},
		{"https://169.254.169.254/latest/meta-data", "refused", "refused"},
		{"https://169.254.0.1/", "refused", "refused"},
		{"https://[fe80::1]/", "refused", "refused"},
		{"https://[::ffff:169.254.169.254]/", "refused", "refused"},
		{"https://[::ffff:127.0.0.1]/", "refused", ""},
		{"https://[64:ff9b::a9fe:a9fe]/", "refused", "refused"},
		{"https://0.0.0.0/", "refused", "refused"},
		{"https://224.0.0.1/", "refused", "refused"},
		{"https://rebind.example.com/", "refused", ""},
		{"https://mixed.example.com/", "refused", ""},
		{"https://meta.example.com/", "refused", "refused"},
	}
	for _, c := range cases {
		for _, p := range []struct {
			policy TargetPolicy
			want   string
		}{{TargetPolicy{}, c.strict}, {TargetPolicy{AllowLocal: true}, c.local}} {
			err := p.policy.CheckURL(context.Background(), dns, c.url)
			switch p.want {
			case "":
				if err != nil {
					t.Errorf("%s (allow local %v): refused: %v", c.url, p.policy.AllowLocal, err)
				}
			case "refused":
				if !errors.Is(err, ErrTargetRefused) {
					t.Errorf("%s (allow local %v): %v, want refused", c.url, p.policy.AllowLocal, err)
				}
			default: // allowed by policy, the fake DNS has no localhost
				if errors.Is(err, ErrTargetRefused) {
					t.Errorf("%s (allow local %v): refused: %v", c.url, p.policy.AllowLocal, err)
				}
			}
		}
	}
}

func TestDialControlChecksTheResolvedAddress(t *testing.T) {
	strict := TargetPolicy{}
	for addr, refused := range map[string]bool{
		"127.0.0.1:443": true, "[::1]:443": true, "10.9.8.7:443": true, "169.254.169.254:80": true,
		"93.184.215.14:443": false, "[2606:4700::6810:85e5]:443": false, "not-an-address": true,
	} {
		err := strict.DialControl("tcp", addr, nil)
		if (err != nil) != refused {
			t.Errorf("dial %s: %v, refused want %v", addr, err, refused)
		}
	}
	if err := (TargetPolicy{AllowLocal: true}).DialControl("tcp", "169.254.169.254:80", nil); err == nil {
		t.Error("link-local dialed with allow-local")
	}
}
