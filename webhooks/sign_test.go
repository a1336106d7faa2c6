package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The vector, worked outside Go with openssl (the key is ASCII so that
// -hmac takes it as is; the secret is whsec_ and its base64):
//
//	KEY='tally-test-key-0123456789abcdef'
//	echo -n "$KEY" | base64
//	  → dGFsbHktdGVzdC1rZXktMDEyMzQ1Njc4OWFiY2RlZg==
//	printf '%s' 'msg_p5jXN8AQM2LWM0D4loKWxJek.1614265330.{"test": 2432232314}' \
//	  | openssl dgst -sha256 -hmac "$KEY" -binary | base64
//	  → V0v6dYCcOmWBOdCqAVxABGykN8fdoc4XGbDS/Hujpbo=
const (
	opensslSecret = "whsec_dGFsbHktdGVzdC1rZXktMDEyMzQ1Njc4OWFiY2RlZg=="
	opensslID     = "msg_p5jXN8AQM2LWM0D4loKWxJek"
	opensslBody   = `{"test": 2432232314}`
	opensslSig    = "v1,V0v6dYCcOmWBOdCqAVxABGykN8fdoc4XGbDS/Hujpbo="
)

func TestSignMatchesOpenSSL(t *testing.T) {
	got, err := Sign(opensslSecret, opensslID, time.Unix(1614265330, 0), []byte(opensslBody))
	if err != nil {
		t.Fatal(err)
	}
	if got != opensslSig {
		t.Errorf("Sign = %s, want %s (openssl)", got, opensslSig)
	}
}

// hmacOracle signs as the Standard Webhooks specification says, written
// here from the specification: the key is the base64 after whsec_, the
// content "id.timestamp.body".
func hmacOracle(t *testing.T, secret, id, ts, body string) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "." + body))
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestSignMatchesTheSpecification(t *testing.T) {
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewSecret()
	for _, c := range []struct {
		id   string
		at   time.Time
		body string
	}{
		{"msg_1", time.Unix(0, 0), `{}`},
		{"msg_a", time.Date(2026, 12, 2, 2, 0, 0, 500_000_000, time.UTC), `{"type":"payout.paid","timestamp":"2026-12-02T02:00:00Z","data":{"amount":"68.00"}}`},
		{"msg_unicode", time.Unix(1796176800, 0), `{"data":"é ✓ \u0000"}`},
	} {
		// webhook-timestamp is whole seconds: a half second is dropped.
		want := hmacOracle(t, secret, c.id, strconv.FormatInt(c.at.Unix(), 10), c.body)
		got, err := Sign(secret, c.id, c.at, []byte(c.body))
		if err != nil || got != want {
			t.Errorf("%s: Sign = %s, %v; want %s", c.id, got, err, want)
		}
		header, err := SignatureHeader([]string{secret, other}, c.id, c.at, []byte(c.body))
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(header, " ")
		if len(parts) != 2 || parts[0] != want || parts[1] != hmacOracle(t, other, c.id, strconv.FormatInt(c.at.Unix(), 10), c.body) {
			t.Errorf("%s: two secrets give %q", c.id, header)
		}
		if !Verify(other, c.id, c.at, []byte(c.body), header) || Verify(secret, c.id, c.at, []byte(c.body+" "), header) {
			t.Errorf("%s: Verify disagrees with the header", c.id)
		}
	}
	if _, err := Sign("no-prefix", "msg", time.Unix(0, 0), nil); err == nil {
		t.Error("a secret without whsec_ signed")
	}
}

func TestNewSecretShape(t *testing.T) {
	a, _ := NewSecret()
	b, _ := NewSecret()
	key, err := secretKey(a)
	if !strings.HasPrefix(a, "whsec_") || err != nil || len(key) != 24 || a == b {
		t.Errorf("secrets %q %q: key %d bytes, %v", a, b, len(key), err)
	}
}
