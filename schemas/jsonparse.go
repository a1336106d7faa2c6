package schemas

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// A strict JSON parser for event documents. encoding/json is not used for
// outside bytes because it accepts what a billing system must not:
// duplicate object keys (the last one silently wins), invalid UTF-8 and
// lone surrogate escapes (silently replaced by U+FFFD), and it offers no
// cheap way to name the field of an offending JSON number.
//
// The parser builds a flat tree in an arena of nodes, in document order,
// reused across calls through a sync.Pool. Strings without escapes are
// substrings of the input and cost no allocation.

const (
	// maxDepth bounds nesting. A valid event nests three levels deep
	// (event, data, committed_seats or addons); deeper documents are
	// rejected before they can cost stack or time.
	maxDepth = 32
	// maxMembers bounds the members of one object or the elements of one
	// array inside an event, which also bounds the quadratic
	// duplicate-key check. A valid event is far below it.
	maxMembers = 64
)

type kind uint8

const (
	kindNull kind = iota
	kindFalse
	kindTrue
	kindNumber
	kindString
	kindObject
	kindArray
)

func (k kind) String() string {
	switch k {
	case kindNull:
		return "null"
	case kindFalse:
		return "false"
	case kindTrue:
		return "true"
	case kindNumber:
		return "a JSON number"
	case kindString:
		return "a string"
	case kindObject:
		return "an object"
	case kindArray:
		return "an array"
	}
	return "?"
}

// node is one JSON value. Children of a container are linked through first
// and next, and the whole subtree of a container occupies the arena indexes
// (index, end).
type node struct {
	kind   kind
	key    string // member name when the parent is an object
	str    string // unescaped string value, or number literal
	parent int32  // -1 for the root
	first  int32  // first child, -1 if none
	next   int32  // next sibling, -1 if none
	end    int32  // one past the last node of the subtree
	n      int32  // number of children
	off    int32  // byte offset of the value in the input
}

type parser struct {
	s       string
	pos     int
	skip    bool // validate only, build no nodes (SplitBatch)
	nodes   []node
	scratch []byte
}

var parserPool = sync.Pool{New: func() any { return &parser{nodes: make([]node, 0, 64)} }}

func getParser() *parser { return parserPool.Get().(*parser) }

func putParser(p *parser) {
	if cap(p.nodes) > 4096 || cap(p.scratch) > 1<<16 {
		return // do not keep the arena of an absurd document alive
	}
	clear(p.nodes) // drop references to the input
	p.nodes = p.nodes[:0]
	p.s, p.pos, p.skip = "", 0, false
	parserPool.Put(p)
}

func malformed(format string, args ...any) *FieldError {
	return &FieldError{Message: "invalid JSON: " + fmt.Sprintf(format, args...), Err: ErrMalformed}
}

// parse parses s as exactly one JSON value and returns the root's index.
func (p *parser) parse(s string) (int32, *FieldError) {
	if len(s) > math.MaxInt32 {
		return -1, malformed("document too large")
	}
	p.s, p.pos = s, 0
	p.nodes = p.nodes[:0]
	root, err := p.value(-1, "", 0)
	if err != nil {
		return -1, err
	}
	p.skipWS()
	if p.pos != len(p.s) {
		return -1, malformed("unexpected %s after the value at byte %d", describeByte(p.s[p.pos]), p.pos)
	}
	return root, nil
}

func (p *parser) skipWS() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) add(k kind, parent int32, key string) int32 {
	if p.skip {
		return -1
	}
	p.nodes = append(p.nodes, node{kind: k, key: key, parent: parent, first: -1, next: -1, off: int32(p.pos)})
	return int32(len(p.nodes) - 1)
}

// value parses one value; key is its member name when parent is an object.
func (p *parser) value(parent int32, key string, depth int) (int32, *FieldError) {
	p.skipWS()
	if p.pos >= len(p.s) {
		return -1, malformed("unexpected end of input")
	}
	switch c := p.s[p.pos]; {
	case c == '{':
		return p.object(parent, key, depth+1)
	case c == '[':
		return p.array(parent, key, depth+1)
	case c == '"':
		idx := p.add(kindString, parent, key)
		str, err := p.str()
		if err != nil {
			return -1, err
		}
		if idx >= 0 {
			p.nodes[idx].str = str
			p.nodes[idx].end = idx + 1
		}
		return idx, nil
	case c == 't':
		return p.literal("true", kindTrue, parent, key)
	case c == 'f':
		return p.literal("false", kindFalse, parent, key)
	case c == 'n':
		return p.literal("null", kindNull, parent, key)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number(parent, key)
	default:
		return -1, malformed("unexpected %s at byte %d", describeByte(c), p.pos)
	}
}

func (p *parser) literal(lit string, k kind, parent int32, key string) (int32, *FieldError) {
	if !strings.HasPrefix(p.s[p.pos:], lit) {
		return -1, malformed("unexpected %s at byte %d", describeByte(p.s[p.pos]), p.pos)
	}
	idx := p.add(k, parent, key)
	p.pos += len(lit)
	if idx >= 0 {
		p.nodes[idx].end = idx + 1
	}
	return idx, nil
}

// number checks the JSON number grammar
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? and keeps the literal.
func (p *parser) number(parent int32, key string) (int32, *FieldError) {
	s, start := p.s, p.pos
	i := start
	digits := func() int {
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - j
	}
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return -1, malformed("bad number at byte %d", start)
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return -1, malformed("bad number at byte %d", start)
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return -1, malformed("bad number at byte %d", start)
		}
	}
	idx := p.add(kindNumber, parent, key)
	p.pos = i
	if idx >= 0 {
		p.nodes[idx].str = s[start:i]
		p.nodes[idx].end = idx + 1
	}
	return idx, nil
}

func (p *parser) object(parent int32, key string, depth int) (int32, *FieldError) {
	idx := p.add(kindObject, parent, key)
	if depth > maxDepth {
		return -1, malformed("nested deeper than %d levels at byte %d", maxDepth, p.pos)
	}
	p.pos++ // '{'
	p.skipWS()
	if p.pos < len(p.s) && p.s[p.pos] == '}' {
		p.pos++
		p.close(idx)
		return idx, nil
	}
	last, count := int32(-1), 0
	for {
		p.skipWS()
		if p.pos >= len(p.s) || p.s[p.pos] != '"' {
			return -1, p.expected("a string object key")
		}
		key, err := p.str()
		if err != nil {
			return -1, err
		}
		p.skipWS()
		if p.pos >= len(p.s) || p.s[p.pos] != ':' {
			return -1, p.expected("':'")
		}
		p.pos++
		if count++; count > maxMembers {
			return -1, malformed("more than %d members in one object at byte %d", maxMembers, p.pos)
		}
		if idx >= 0 {
			for c := p.nodes[idx].first; c >= 0; c = p.nodes[c].next {
				if p.nodes[c].key == key {
					return -1, &FieldError{
						Field:   joinPath(p.path(idx), key),
						Message: "duplicate key; a key may appear only once in an object",
						Err:     ErrMalformed,
					}
				}
			}
		}
		child, err := p.value(idx, key, depth)
		if err != nil {
			return -1, err
		}
		if idx >= 0 {
			if last < 0 {
				p.nodes[idx].first = child
			} else {
				p.nodes[last].next = child
			}
			p.nodes[idx].n++
			last = child
		}
		p.skipWS()
		if p.pos < len(p.s) && p.s[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.s) && p.s[p.pos] == '}' {
			p.pos++
			p.close(idx)
			return idx, nil
		}
		return -1, p.expected("',' or '}'")
	}
}

func (p *parser) array(parent int32, key string, depth int) (int32, *FieldError) {
	idx := p.add(kindArray, parent, key)
	if depth > maxDepth {
		return -1, malformed("nested deeper than %d levels at byte %d", maxDepth, p.pos)
	}
	p.pos++ // '['
	p.skipWS()
	if p.pos < len(p.s) && p.s[p.pos] == ']' {
		p.pos++
		p.close(idx)
		return idx, nil
	}
	last, count := int32(-1), 0
	for {
		if count++; count > maxMembers {
			return -1, malformed("more than %d elements in one array at byte %d", maxMembers, p.pos)
		}
		child, err := p.value(idx, "", depth)
		if err != nil {
			return -1, err
		}
		if idx >= 0 {
			if last < 0 {
				p.nodes[idx].first = child
			} else {
				p.nodes[last].next = child
			}
			p.nodes[idx].n++
			last = child
		}
		p.skipWS()
		if p.pos < len(p.s) && p.s[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.s) && p.s[p.pos] == ']' {
			p.pos++
			p.close(idx)
			return idx, nil
		}
		return -1, p.expected("',' or ']'")
	}
}

func (p *parser) close(idx int32) {
	if idx >= 0 {
		p.nodes[idx].end = int32(len(p.nodes))
	}
}

func (p *parser) expected(what string) *FieldError {
	if p.pos >= len(p.s) {
		return malformed("unexpected end of input, expected %s", what)
	}
	return malformed("unexpected %s at byte %d, expected %s", describeByte(p.s[p.pos]), p.pos, what)
}

// str parses the string starting at p.pos (on the opening quote).
func (p *parser) str() (string, *FieldError) {
	s := p.s
	start := p.pos + 1
	for i := start; i < len(s); {
		switch c := s[i]; {
		case c == '"':
			p.pos = i + 1
			return s[start:i], nil
		case c == '\\':
			return p.strEscaped(start, i)
		case c < 0x20:
			return "", malformed("control character %#02x in a string at byte %d; escape it", c, i)
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				return "", malformed("invalid UTF-8 at byte %d", i)
			}
			i += size
		}
	}
	return "", malformed("unterminated string starting at byte %d", p.pos)
}

// strEscaped continues str from the first backslash at i, unescaping into
// the scratch buffer.
func (p *parser) strEscaped(start, i int) (string, *FieldError) {
	s := p.s
	b := append(p.scratch[:0], s[start:i]...)
	defer func() { p.scratch = b[:0] }()
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			p.pos = i + 1
			if p.skip {
				return "", nil
			}
			return string(b), nil
		case c < 0x20:
			return "", malformed("control character %#02x in a string at byte %d; escape it", c, i)
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				return "", malformed("invalid UTF-8 at byte %d", i)
			}
			b = append(b, s[i:i+size]...)
			i += size
			continue
		case c != '\\':
			b = append(b, c)
			i++
			continue
		}
		// A backslash.
		if i+1 >= len(s) {
			break
		}
		switch e := s[i+1]; e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := hex4(s, i+2)
			if !ok {
				return "", malformed("bad \\u escape at byte %d", i)
			}
			n := 6
			switch {
			case r >= 0xDC00 && r <= 0xDFFF:
				return "", malformed("lone low surrogate escape at byte %d", i)
			case r >= 0xD800 && r <= 0xDBFF:
				lo, ok := rune(0), false
				if i+7 < len(s) && s[i+6] == '\\' && s[i+7] == 'u' {
					lo, ok = hex4(s, i+8)
				}
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					return "", malformed("lone high surrogate escape at byte %d", i)
				}
				r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
				n = 12
			}
			b = utf8.AppendRune(b, r)
			i += n
			continue
		default:
			return "", malformed("bad escape %s at byte %d", describeByte(e), i)
		}
		i += 2
	}
	return "", malformed("unterminated string starting at byte %d", start-1)
}

func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

func describeByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte %#02x", c)
}

// path returns the JSON path of node idx ("data.committed_seats.learner",
// "data.addons[1]"); the root's path is empty.
func (p *parser) path(idx int32) string {
	if idx < 0 || p.nodes[idx].parent < 0 {
		return ""
	}
	parent := p.nodes[idx].parent
	if p.nodes[parent].kind == kindArray {
		// Count the siblings before idx. A node still being parsed is not
		// linked yet; then every linked sibling comes before it.
		i := 0
		for c := p.nodes[parent].first; c >= 0 && c != idx; c = p.nodes[c].next {
			i++
		}
		return p.path(parent) + "[" + strconv.Itoa(i) + "]"
	}
	return joinPath(p.path(parent), p.nodes[idx].key)
}

// joinPath appends a member name to a path. Names that are not plain
// identifiers are quoted so that the path stays unambiguous, and very long
// names are cut.
func joinPath(parent, key string) string {
	plain := key != ""
	for i := 0; i < len(key) && plain; i++ {
		c := key[i]
		plain = c == '_' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
	}
	if !plain || len(key) > 64 {
		return parent + "[" + quoteCut(key) + "]"
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// quoteCut quotes s for a message, cutting it after 64 bytes.
func quoteCut(s string) string {
	const max = 64
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "..."
	}
	return strconv.Quote(s)
}
