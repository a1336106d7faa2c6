package schemas

import (
	"encoding/json"
	"fmt"
)

// SplitBatch splits a CloudEvents JSON batch (a JSON array of events) into
// its elements, each the exact bytes of one element without surrounding
// whitespace. The elements alias raw; nothing is copied.
//
// SplitBatch checks the JSON syntax of the whole batch (one element with a
// syntax error makes the element boundaries unknowable), but not the
// elements' contents: run [Decode] on each. An empty array yields no
// elements and no error; the caller decides whether that is acceptable.
// The error is a [*FieldError] wrapping [ErrNotBatch] or [ErrMalformed].
func SplitBatch(raw []byte) ([]json.RawMessage, error) {
	p := getParser()
	defer putParser(p)
	p.skip = true
	p.s, p.pos = string(raw), 0
	p.skipWS()
	if p.pos >= len(p.s) || p.s[p.pos] != '[' {
		msg := "a batch must be a JSON array of events"
		if p.pos < len(p.s) && p.s[p.pos] == '{' {
			msg += ", got an object (send a single event as application/cloudevents+json)"
		}
		return nil, &FieldError{Message: msg, Err: ErrNotBatch}
	}
	p.pos++
	out := []json.RawMessage{}
	p.skipWS()
	if p.pos < len(p.s) && p.s[p.pos] == ']' {
		p.pos++
	} else {
		for {
			p.skipWS()
			start := p.pos
			if _, err := p.value(-1, "", 0); err != nil {
				err.Message = fmt.Sprintf("batch element %d: %s", len(out), err.Message)
				return nil, err
			}
			out = append(out, json.RawMessage(raw[start:p.pos:p.pos]))
			p.skipWS()
			if p.pos < len(p.s) && p.s[p.pos] == ',' {
				p.pos++
				continue
			}
			if p.pos < len(p.s) && p.s[p.pos] == ']' {
				p.pos++
				break
			}
			return nil, p.expected("',' or ']' in the batch")
		}
	}
	p.skipWS()
	if p.pos != len(p.s) {
		return nil, malformed("unexpected %s after the batch at byte %d", describeByte(p.s[p.pos]), p.pos)
	}
	return out, nil
}
