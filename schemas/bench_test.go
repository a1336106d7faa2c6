package schemas_test

import (
	"testing"

	"github.com/tally-billing/tally/schemas"
)

// typicalEvent is an ai.credits.consumed event as the AI tutor sends it.
const typicalEvent = `{"specversion":"1.0","id":"01JCQ8N4Y7T9V3K2M5P6R8S0W1","source":"https://ai-tutor.internal/v1","type":"ai.credits.consumed","subject":"tenant-7f3a9c","time":"2026-11-03T10:15:42.123Z","datacontenttype":"application/json","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","data":{"credits":"12.5","feature":"tutor","user_id":"user-48213","model":"tutor-large-2026-10","provider":"anthropic"}}`

func BenchmarkDecode(b *testing.B) {
	raw := []byte(typicalEvent)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := schemas.Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeAndHash(b *testing.B) {
	raw := []byte(typicalEvent)
	b.ReportAllocs()
	for b.Loop() {
		e, err := schemas.Decode(raw)
		if err != nil {
			b.Fatal(err)
		}
		_ = e.ContentHash()
		_ = e.Identity().MsgID()
	}
}
