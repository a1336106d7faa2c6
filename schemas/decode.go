package schemas

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"
)

const (
	// maxIdentLen bounds id, source, subject and the id-like data fields.
	maxIdentLen = 256
	// maxTextLen bounds free-text fields (reason).
	maxTextLen = 1024
	// maxKeyLen bounds plan and add-on keys.
	maxKeyLen = 64
	// maxExtNameLen bounds extension attribute names.
	maxExtNameLen = 20
)

// minTime is the earliest event time accepted; see [MinTime].
var minTime = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)

// MinTime returns the earliest event time accepted, 2000-01-01T00:00:00Z.
// Anything earlier is an emitter bug (typically a zero or epoch timestamp),
// not usage.
func MinTime() time.Time { return minTime }

// Decode parses and validates one event in CloudEvents 1.0 structured JSON
// mode. It applies every rule except the future-time check, which needs a
// clock: call [Event.CheckTime] too.
//
// The returned error is a [*FieldError] (use errors.As) wrapping one of the
// package's sentinels. When several rules are broken, the error reported
// is deterministic: JSON-level errors first, then the envelope attributes
// in the order specversion, id, source, type, subject, time,
// datacontenttype, extension attributes, data; inside data, a JSON number
// anywhere, then an unknown field, then each field in the order of its Go
// struct.
//
// raw is not retained; the Event holds private copies.
func Decode(raw []byte) (*Event, error) {
	p := getParser()
	defer putParser(p)
	// One private copy of the input, which is also Raw: every string of
	// the event is a substring of it, so strings cost no further
	// allocation. Nothing writes to Raw (see Event).
	buf := slices.Clone(raw)
	s := unsafe.String(unsafe.SliceData(buf), len(buf))
	root, ferr := p.parse(s)
	if ferr != nil {
		return nil, ferr
	}
	ev, ferr := p.event(root)
	if ferr != nil {
		return nil, ferr
	}
	ev.Raw = buf
	return ev, nil
}

// Envelope attributes, in the order they are checked.
const (
	attrSpecVersion = iota
	attrID
	attrSource
	attrType
	attrSubject
	attrTime
	attrDataContentType
	attrData
	numAttrs
)

var attrNames = [numAttrs]string{"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data"}

func (p *parser) event(root int32) (*Event, *FieldError) {
	if k := p.nodes[root].kind; k != kindObject {
		return nil, &FieldError{Message: "an event must be a JSON object, got " + k.String(), Err: ErrMalformed}
	}
	var attrs [numAttrs]int32
	for i := range attrs {
		attrs[i] = -1
	}
	badExt := int32(-1)
	for c := p.nodes[root].first; c >= 0; c = p.nodes[c].next {
		key := p.nodes[c].key
		if i := slices.Index(attrNames[:], key); i >= 0 {
			attrs[i] = c
		} else if badExt < 0 && p.checkExtension(c) != nil {
			badExt = c
		}
	}

	ev := &Event{SpecVersion: SpecVersion}
	for i, idx := range attrs {
		if i == attrData && badExt >= 0 {
			return nil, p.checkExtension(badExt)
		}
		if idx < 0 {
			if i == attrDataContentType {
				continue
			}
			return nil, &FieldError{Field: attrNames[i], Message: "is required", Err: ErrMissingField}
		}
		n := &p.nodes[idx]
		var err *FieldError
		switch i {
		case attrSpecVersion:
			if n.kind != kindString || n.str != SpecVersion {
				err = p.invalid(idx, `must be "1.0" (CloudEvents 1.0)`)
			}
		case attrID:
			ev.ID, err = p.ident(idx, "")
		case attrSource:
			ev.Source, err = p.ident(idx, "")
		case attrType:
			if n.kind != kindString {
				err = p.invalid(idx, "must be one of "+typeList())
				break
			}
			t, ok := lookupType(n.str)
			if !ok {
				err = &FieldError{Field: "type", Message: fmt.Sprintf("unknown event type %s; expected one of %s", quoteCut(n.str), typeList()), Err: ErrUnknownType}
			}
			ev.Type = t
		case attrSubject:
			ev.Subject, err = p.ident(idx, "")
		case attrTime:
			t, ok := time.Time{}, false
			if n.kind == kindString {
				t, ok = parseTime(n.str)
			}
			switch {
			case !ok:
				err = p.invalid(idx, "must be an RFC 3339 timestamp with a UTC offset, like 2026-11-01T12:00:00Z")
			case t.Before(minTime):
				err = p.invalid(idx, "must not be before "+minTime.Format(time.RFC3339))
			}
			ev.Time = t
		case attrDataContentType:
			if n.kind != kindString || n.str != "application/json" {
				err = p.invalid(idx, `must be "application/json" when present`)
			}
		case attrData:
			if n.kind != kindObject {
				err = p.invalid(idx, "must be a JSON object")
				break
			}
			ev.Data, err = p.data(ev.Type, idx)
		}
		if err != nil {
			return nil, err
		}
	}
	return ev, nil
}

// checkExtension validates a top-level member that is not one of the known
// attributes: it must be a CloudEvents extension attribute.
func (p *parser) checkExtension(idx int32) *FieldError {
	n := &p.nodes[idx]
	field := joinPath("", n.key)
	if n.key == "data_base64" {
		return &FieldError{Field: field, Message: "binary data is not accepted; send data as a JSON object", Err: ErrUnknownField}
	}
	if !isExtensionName(n.key) {
		return &FieldError{Field: field, Message: fmt.Sprintf("unknown attribute; extension attribute names are 1 to %d lowercase letters or digits", maxExtNameLen), Err: ErrUnknownField}
	}
	if n.kind != kindString && n.kind != kindTrue && n.kind != kindFalse {
		return &FieldError{Field: field, Message: "extension attribute must be a string or a boolean, got " + p.describe(idx), Err: ErrInvalidValue}
	}
	return nil
}

func isExtensionName(s string) bool {
	if len(s) == 0 || len(s) > maxExtNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

var typeListText = func() string {
	names := make([]string, len(allTypes))
	for i, t := range allTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}()

func typeList() string { return typeListText }

// invalid builds the error for a present value that breaks a rule, quoting
// what was received.
func (p *parser) invalid(idx int32, want string) *FieldError {
	return &FieldError{Field: p.path(idx), Message: want + ", got " + p.describe(idx), Err: ErrInvalidValue}
}

// describe renders a received value for a message.
func (p *parser) describe(idx int32) string {
	n := &p.nodes[idx]
	switch n.kind {
	case kindString:
		return quoteCut(n.str)
	case kindNumber:
		if len(n.str) > 64 {
			return n.str[:64] + "..."
		}
		return n.str
	default:
		return n.kind.String()
	}
}

// ident reads an identifier: a non-empty string of at most 256 bytes with
// no control characters. what, if set, names the thing for the message.
func (p *parser) ident(idx int32, what string) (string, *FieldError) {
	n := &p.nodes[idx]
	if n.kind == kindString && isIdent(n.str, maxIdentLen) {
		return n.str, nil
	}
	if what == "" {
		what = "a non-empty string"
	}
	return "", p.invalid(idx, fmt.Sprintf("must be %s of at most %d bytes with no control characters", what, maxIdentLen))
}

// isIdent reports whether s is non-empty, at most max bytes and free of
// control characters (C0, DEL and C1, as unicode.IsControl).
func isIdent(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r >= 0x80 && r <= 0x9f {
			return false
		}
		i += size
	}
	return true
}

// parseTime parses the RFC 3339 profile accepted for the time attribute:
// YYYY-MM-DDTHH:MM:SS, an optional fraction of 1 to 9 digits, and an offset
// that is Z or ±HH:MM. Uppercase T and Z only; no leap second. It does not
// allocate.
func parseTime(s string) (time.Time, bool) {
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := digitsAt(s, 0, 4)
	month, ok2 := digitsAt(s, 5, 2)
	day, ok3 := digitsAt(s, 8, 2)
	hour, ok4 := digitsAt(s, 11, 2)
	minute, ok5 := digitsAt(s, 14, 2)
	sec, ok6 := digitsAt(s, 17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	i, nsec := 19, 0
	if s[i] == '.' {
		i++
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			nsec = nsec*10 + int(s[i]-'0')
			i++
		}
		digits := i - start
		if digits == 0 || digits > 9 {
			return time.Time{}, false
		}
		for ; digits < 9; digits++ {
			nsec *= 10
		}
	}
	var offset int
	switch rest := s[i:]; {
	case rest == "Z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, okh := digitsAt(rest, 1, 2)
		om, okm := digitsAt(rest, 4, 2)
		if !okh || !okm || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		offset = (oh*60 + om) * 60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // 31 April, 29 February of a common year
		return time.Time{}, false
	}
	return t.Add(-time.Duration(offset) * time.Second), true
}

func digitsAt(s string, i, n int) (int, bool) {
	v := 0
	for _, c := range []byte(s[i : i+n]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}
