package pipeline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tally-billing/tally/consumers"
	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

// fuzzNow is the receiver's clock of the fuzz targets: after every example
// event, so that the examples are accepted.
var fuzzNow = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)

// exampleEvents returns the events of examples/*.jsonl and the seed corpus
// of schemas.FuzzDecode: real events, valid and invalid.
func exampleEvents(f *testing.F) [][]byte {
	f.Helper()
	var out [][]byte
	files, _ := filepath.Glob("../examples/*.jsonl")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
				out = append(out, bytes.Clone(line))
			}
		}
	}
	seeds, _ := filepath.Glob("../schemas/testdata/fuzz/FuzzDecode/*")
	for _, name := range seeds {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		_, lit, ok := strings.Cut(string(data), "\n[]byte(")
		if !ok {
			continue
		}
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimSpace(lit), ")"))
		if err != nil {
			f.Fatalf("%s: %v", name, err)
		}
		out = append(out, []byte(s))
	}
	if len(out) < 10 {
		f.Fatalf("found only %d example events", len(out))
	}
	return out
}

// FuzzIngestBody fuzzes what POST /v1/events does with a request before
// publishing: the Content-Type, the split of the body into events (one
// event, or a CloudEvents batch checked against encoding/json as an
// oracle) and the validation of every event, with the shipped price book's
// check.
func FuzzIngestBody(f *testing.F) {
	events := exampleEvents(f)
	for i, e := range events {
		f.Add(ContentTypeEvent, e)
		if i%7 == 0 {
			f.Add("application/json; charset=utf-8", e)
		}
	}
	f.Add(ContentTypeBatch, append(append([]byte("[\n"), bytes.Join(events[:8], []byte(",\n"))...), "\n]"...))
	f.Add("application/json", append(append([]byte(" ["), bytes.Join(events, []byte(","))...), ']'))
	f.Add(ContentTypeBatch, []byte(`[]`))
	f.Add(ContentTypeBatch, []byte(`{"specversion":"1.0"}`))
	f.Add(ContentTypeBatch, []byte(`[1,]`))
	f.Add(ContentTypeBatch, []byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`))
	f.Add("text/plain", []byte(`{}`))
	f.Add("application/cloudevents+json; charset=\"", []byte(`{}`))
	book := pricebook.Default()
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		mode, err := batchMode(contentType)
		if err != nil {
			if mode != 0 || err.Error() == "" {
				t.Fatalf("batchMode(%q) = %d, %v", contentType, mode, err)
			}
			return
		}
		isBatch := mode == modeBatch || mode == modeSniff && bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("["))
		raws, status, msg := splitBody(body, mode)
		if isBatch {
			checkBatchSplit(t, body, raws, status, msg)
		} else if status != 0 || len(raws) != 1 || !bytes.Equal(raws[0], body) {
			t.Fatalf("a single event body was split into %q (status %d %s)", raws, status, msg)
		}
		if status != 0 {
			return
		}
		accepted, errs := ValidateBatch(raws, fuzzNow, book.CheckEvent)
		if len(accepted)+len(errs) != len(raws) {
			t.Fatalf("%d events: %d accepted, %d errors", len(raws), len(accepted), len(errs))
		}
		for i, ee := range errs {
			if ee.Index < 0 || ee.Index >= len(raws) || i > 0 && ee.Index <= errs[i-1].Index {
				t.Fatalf("error %d has index %d (of %d events)", i, ee.Index, len(raws))
			}
			_, err := ValidateEvent(raws[ee.Index], fuzzNow, book.CheckEvent)
			if err == nil {
				// Only a conflicting repeat of an identity inside the
				// request is refused although the event is valid alone.
				if ee.Field != "id" || !strings.Contains(ee.Message, "same (source, id)") {
					t.Fatalf("event %d is valid alone but was refused: %+v", ee.Index, ee)
				}
				continue
			}
			checkRejection(t, err)
			if ee.Message == "" || ee.Field == "" && !errors.Is(err, schemas.ErrMalformed) {
				t.Fatalf("event %d: error %+v lacks a message or a field (%v)", ee.Index, ee, err)
			}
		}
		seen := map[schemas.Identity][16]byte{}
		for _, e := range accepted {
			checkAccepted(t, e, fuzzNow, book)
			if h, ok := seen[e.Identity()]; ok && h != e.ContentHash() {
				t.Fatalf("two accepted events share identity %+v with different content", e.Identity())
			}
			seen[e.Identity()] = e.ContentHash()
		}
	})
}

// checkBatchSplit compares the split of a batch body with encoding/json.
func checkBatchSplit(t *testing.T, body []byte, raws []json.RawMessage, status int, msg string) {
	t.Helper()
	var elems []json.RawMessage
	oracleErr := json.Unmarshal(body, &elems)
	if status != 0 {
		if msg == "" || status != http.StatusBadRequest && status != http.StatusRequestEntityTooLarge {
			t.Fatalf("batch refused with status %d and message %q", status, msg)
		}
		// A well-formed array within the limits must be taken: the
		// parser's only extra rules are valid UTF-8, no lone surrogate
		// escapes, at most 32 levels and 64 members per nested value.
		if oracleErr == nil && len(elems) >= 1 && len(elems) <= MaxBatchEvents && utf8.Valid(body) &&
			!bytes.Contains(body, []byte(`\u`)) && withinLimits(t, elems) {
			t.Fatalf("a well-formed batch of %d events was refused: %d %s", len(elems), status, msg)
		}
		return
	}
	if oracleErr != nil || !utf8.Valid(body) {
		t.Fatalf("accepted a batch that is not a valid UTF-8 JSON array (%v): %q", oracleErr, body)
	}
	if len(raws) == 0 || len(raws) > MaxBatchEvents || len(raws) != len(elems) {
		t.Fatalf("split into %d events, encoding/json sees %d", len(raws), len(elems))
	}
	if !withinLimits(t, elems) {
		t.Fatalf("accepted a batch nested deeper than 32 levels or wider than 64 members: %q", body)
	}
	for i, raw := range raws {
		if !bytes.Equal(raw, bytes.TrimSpace(elems[i])) || !json.Valid(raw) {
			t.Fatalf("element %d = %q, encoding/json: %q", i, raw, elems[i])
		}
	}
	again, err := schemas.SplitBatch(append(append([]byte("["), bytes.Join(bytesOf(raws), []byte(","))...), ']'))
	if err != nil || len(again) != len(raws) {
		t.Fatalf("re-joined batch splits into %d, %v", len(again), err)
	}
	for i := range raws {
		if !bytes.Equal(again[i], raws[i]) {
			t.Fatalf("re-joined element %d = %q, want %q", i, again[i], raws[i])
		}
	}
}

func bytesOf(raws []json.RawMessage) [][]byte {
	out := make([][]byte, len(raws))
	for i, r := range raws {
		out[i] = r
	}
	return out
}

// withinLimits reports whether every element nests at most 32 levels with
// at most 64 members in each object or array (repeated keys counted).
func withinLimits(t *testing.T, elems []json.RawMessage) bool {
	t.Helper()
	type frame struct {
		object bool
		tokens int // keys and values of an object, elements of an array
	}
	for _, e := range elems {
		dec := json.NewDecoder(bytes.NewReader(e))
		var stack []frame
		for {
			tok, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("encoding/json split %q but cannot read it: %v", e, err)
			}
			d, isDelim := tok.(json.Delim)
			if isDelim && (d == '}' || d == ']') {
				stack = stack[:len(stack)-1]
				continue
			}
			if n := len(stack); n > 0 {
				top := &stack[n-1]
				top.tokens++
				if members := top.tokens; top.object && (members+1)/2 > 64 || !top.object && members > 64 {
					return false
				}
			}
			if isDelim {
				stack = append(stack, frame{object: d == '{'})
				if len(stack) > 32 {
					return false
				}
			}
		}
	}
	return true
}

// checkRejection checks that a refused event is a *schemas.FieldError
// wrapping a sentinel, with a message, naming its field unless the
// document as a whole is at fault.
func checkRejection(t *testing.T, err error) {
	t.Helper()
	var fe *schemas.FieldError
	if !errors.As(err, &fe) || fe.Message == "" || fe.Err == nil {
		t.Fatalf("rejection %v (%T) is not a *FieldError with a message and a sentinel", err, err)
	}
	if fe.Field == "" && !errors.Is(err, schemas.ErrMalformed) {
		t.Fatalf("rejection %v names no field", err)
	}
}

// checkAccepted checks an accepted event: valid UTF-8, not too far in the
// future, re-validated from its bytes and from its re-encoding to the same
// event, and published with the right subject, data and message id.
func checkAccepted(t *testing.T, e *schemas.Event, now time.Time, book *pricebook.Book) {
	t.Helper()
	if !utf8.Valid(e.Raw) || e.Time.After(now.Add(schemas.MaxFutureSkew)) {
		t.Fatalf("accepted an event with invalid UTF-8 or a time too far ahead: %q", e.Raw)
	}
	again, err := ValidateEvent(e.Raw, now, book.CheckEvent)
	if err != nil || again.ContentHash() != e.ContentHash() || again.Identity() != e.Identity() {
		t.Fatalf("an accepted event does not re-validate: %v", err)
	}
	enc, err := schemas.Encode(e)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	re, err := ValidateEvent(enc, now, book.CheckEvent)
	if err != nil || re.ContentHash() != e.ContentHash() || re.Identity() != e.Identity() {
		t.Fatalf("re-encoded event %s does not validate to the same event: %v", enc, err)
	}
	m := EventMsg(e)
	if m.Subject != EventSubject(e.Type) || !bytes.Equal(m.Data, e.Raw) ||
		m.Header.Get(jetstream.MsgIDHeader) != EventMsgID(re) || len(EventMsgID(e)) != 32 {
		t.Fatalf("message %s %q for event %q", m.Subject, m.Header, e.Raw)
	}
}

// FuzzSinkDecode fuzzes the NATS ingest path: a raw message of an
// emitter, stored in the events stream at a fuzzed time, goes through the
// sink's decoder. It is either rejected with a field error (and so
// dead-lettered) or it is a valid event, byte for byte the message, not
// more than 5 minutes ahead of the time the stream stored it.
func FuzzSinkDecode(f *testing.F) {
	for i, e := range exampleEvents(f) {
		f.Add(e, fuzzNow.Unix()+int64(i))
	}
	f.Add([]byte(`{"specversion":"1.0","id":"x","source":"s","type":"seat.assigned","subject":"t","time":"2026-11-02T08:05:00Z","data":{"user_id":"u","seat_type":"learner"}}`),
		time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC).Unix())
	book := pricebook.Default()
	decode := SinkDecode(book.CheckEvent)
	f.Fuzz(func(t *testing.T, data []byte, storedAt int64) {
		ts := time.Unix(storedAt, 0).UTC()
		m := &consumers.Message{Subject: "tally.ingest.events", Data: data, Timestamp: ts, Delivered: 1}
		e, err := decode(m)
		if err != nil {
			if e != nil {
				t.Fatalf("a rejected message came with an event")
			}
			checkRejection(t, err)
			return
		}
		if !bytes.Equal(e.Raw, data) {
			t.Fatalf("the event's bytes %q are not the message's", e.Raw)
		}
		checkAccepted(t, e, ts, book)
	})
}
