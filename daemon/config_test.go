package daemon

import (
	"errors"
	"testing"
)

func TestValidateRefusesNonLoopbackWithoutKeys(t *testing.T) {
	cases := []struct {
		addr, keys string
		wantErr    error
	}{
		{"127.0.0.1:8080", "", nil},
		{"localhost:8080", "", nil},
		{"[::1]:8080", "", nil},
		{"0.0.0.0:8080", "", ErrNoKeys},
		{"10.1.2.3:8080", "", ErrNoKeys},
		{":8080", "", ErrNoKeys},
		{"0.0.0.0:8080", "/etc/tally/keys.json", nil},
	}
	for _, tc := range cases {
		err := Config{HTTPAddr: tc.addr, KeysFile: tc.keys}.Validate()
		if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
			t.Errorf("addr %q keys %q: err %v, want %v", tc.addr, tc.keys, err, tc.wantErr)
		}
	}
	if err := (Config{HTTPAddr: "nonsense"}).Validate(); err == nil {
		t.Error("an address without a port was accepted")
	}
}
