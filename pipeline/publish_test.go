package pipeline

import (
	"testing"

	"github.com/tally-billing/tally/schemas"
)

func decode(t *testing.T, raw string) *schemas.Event {
	t.Helper()
	e, err := schemas.Decode([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEventMsgID(t *testing.T) {
	base := decode(t, `{"specversion":"1.0","id":"e1","source":"s","type":"ai.credits.consumed","subject":"t","time":"2026-11-02T00:00:00Z","data":{"credits":"1.5","feature":"tutor"}}`)
	respelled := decode(t, `{ "data":{"feature":"tutor","credits":"1.50"}, "time":"2026-11-02T01:00:00+01:00","subject":"t","type":"ai.credits.consumed","source":"s","id":"e1","specversion":"1.0"}`)
	conflict := decode(t, `{"specversion":"1.0","id":"e1","source":"s","type":"ai.credits.consumed","subject":"t","time":"2026-11-02T00:00:00Z","data":{"credits":"2","feature":"tutor"}}`)
	other := decode(t, `{"specversion":"1.0","id":"e2","source":"s","type":"ai.credits.consumed","subject":"t","time":"2026-11-02T00:00:00Z","data":{"credits":"1.5","feature":"tutor"}}`)
	// "s"+"e1x" vs "se"+"1x": the separator keeps identities apart.
	a := decode(t, `{"specversion":"1.0","id":"e1x","source":"s","type":"ai.credits.consumed","subject":"t","time":"2026-11-02T00:00:00Z","data":{"credits":"1.5","feature":"tutor"}}`)
	b := decode(t, `{"specversion":"1.0","id":"1x","source":"se","type":"ai.credits.consumed","subject":"t","time":"2026-11-02T00:00:00Z","data":{"credits":"1.5","feature":"tutor"}}`)

	id := EventMsgID(base)
	if len(id) != 32 {
		t.Fatalf("id %q has %d characters, want 32", id, len(id))
	}
	if EventMsgID(respelled) != id {
		t.Error("the same event written differently got another id")
	}
	if EventMsgID(conflict) == id {
		t.Error("a conflicting event got the same id: JetStream would drop it instead of the sink dead-lettering it")
	}
	if EventMsgID(other) == id || EventMsgID(a) == EventMsgID(b) {
		t.Error("different identities share an id")
	}
}
