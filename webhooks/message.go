package webhooks

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
)

// Message is one fact to send: the same message goes to every endpoint
// that subscribes to its type (and its tenant), under the same id.
type Message struct {
	// ID is a deterministic function of the fact (MessageID), so that a
	// crash, a replay or two replicas never give one fact two ids. It is
	// the webhook-id header of every delivery and every retry.
	ID   string `json:"id"`
	Type string `json:"type"`
	// Tenant scopes the message: a tenant's endpoints get only its
	// messages. Empty for facts of no tenant (payouts).
	Tenant    string          `json:"tenant,omitempty"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// MessageID is the id of the fact named by typ and its key parts (for
// example an invoice id): "msg_" and 32 hex digits of SHA-256 over the
// type and the parts, each followed by a zero byte.
func MessageID(typ string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(typ))
	h.Write([]byte{0})
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return "msg_" + hex.EncodeToString(h.Sum(nil)[:16])
}

// DeliveryID names the delivery of one message to one endpoint; it stays
// the same across retries.
func DeliveryID(messageID, endpointID string) string {
	h := sha256.Sum256([]byte(messageID + "\x00" + endpointID))
	return "dlv_" + hex.EncodeToString(h[:16])
}

// Body is what an endpoint receives: {"type","timestamp","data"}, the
// timestamp in RFC 3339 UTC.
func (m Message) Body() ([]byte, error) {
	return json.Marshal(struct {
		Type      string          `json:"type"`
		Timestamp string          `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}{m.Type, m.Timestamp.UTC().Format(time.RFC3339Nano), m.Data})
}

// matches reports whether e subscribes to m: its type is listed, and e is
// a finance endpoint (no tenant) or m is of e's tenant.
func (e Endpoint) matches(m Message) bool {
	if e.Deleted || !e.DisabledAt.IsZero() {
		return false
	}
	if e.Tenant != "" && e.Tenant != m.Tenant {
		return false
	}
	for _, t := range e.EventTypes {
		if strings.EqualFold(t, m.Type) {
			return true
		}
	}
	return false
}
