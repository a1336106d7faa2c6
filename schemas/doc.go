// Package schemas defines Tally's usage events: the CloudEvents 1.0
// envelope in structured JSON mode, one typed payload per event type, the
// strict validation every event passes before it is accepted, the content
// hash that tells a duplicate from a conflict, and the JSON Schema files
// handed to emitters.
//
// [Decode] is the single entry point for outside bytes, on the HTTP and
// the NATS path alike. It validates everything except the future-time
// check, which needs a clock ([Event.CheckTime]). Errors are [*FieldError]
// values naming the offending field as a JSON path ("data.credits") and
// wrapping one of the sentinels in errors.go.
//
// The rules are those of SPEC §1; the decisions taken where the SPEC is
// silent are listed in README.md.
package schemas
