package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts every endpoint secret, as the Standard Webhooks
// specification has it: the rest is the base64 of the HMAC key.
const SecretPrefix = "whsec_"

// NewSecret returns a fresh secret: whsec_ and the base64 of 24 random
// bytes.
func NewSecret() (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("reading random bytes: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b[:]), nil
}

// secretKey is the HMAC key of a secret: the base64 after the prefix.
func secretKey(secret string) ([]byte, error) {
	raw, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("secret without the %s prefix", SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("decoding secret: %w", err)
	}
	return key, nil
}

// Sign returns one signature of the Standard Webhooks specification:
// "v1," and the base64 of HMAC-SHA256, keyed by the secret's key, of
// "<id>.<unix seconds>.<body>".
func Sign(secret, id string, at time.Time, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(at.Unix(), 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// SignatureHeader is the webhook-signature header: one signature per
// secret in force, space-separated (an endpoint whose secret was rotated
// less than 24 h ago is signed with the new and the old).
func SignatureHeader(secrets []string, id string, at time.Time, body []byte) (string, error) {
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		sig, err := Sign(s, id, at, body)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}

// Verify reports whether header holds a valid v1 signature of (id, at,
// body) under secret: what a receiver does.
func Verify(secret, id string, at time.Time, body []byte, header string) bool {
	want, err := Sign(secret, id, at, body)
	if err != nil {
		return false
	}
	for _, sig := range strings.Fields(header) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return true
		}
	}
	return false
}
