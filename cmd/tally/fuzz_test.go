package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tally-billing/tally/pipeline"
	"github.com/tally-billing/tally/schemas"
)

// fuzzSender keeps every batch it is given and counts it as accepted.
type fuzzSender struct{ batches [][]json.RawMessage }

func (s *fuzzSender) send(_ context.Context, events []json.RawMessage, sum *emitSummary, _ func(string)) error {
	s.batches = append(s.batches, append([]json.RawMessage(nil), events...))
	sum.Accepted += len(events)
	return nil
}

// FuzzEmitInput fuzzes the input reader of `tally emit`: JSON lines, or one
// CloudEvents batch when the first non-blank byte is '['. The events sent
// are exactly the valid ones among the input's events, in input order,
// byte for byte, in batches that the ingest endpoint takes (at most 1,000
// events and 1 MiB); every other event is counted as rejected; a batch the
// reader accepts is a valid UTF-8 JSON array (encoding/json as the oracle).
func FuzzEmitInput(f *testing.F) {
	files, _ := filepath.Glob("../../examples/*.jsonl")
	if len(files) == 0 {
		f.Fatal("no examples/*.jsonl")
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		// A few events per file: the fuzzer minimizes every input that
		// finds new coverage, and a whole file makes that slow.
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		lines = lines[:min(len(lines), 5)]
		f.Add([]byte(strings.Join(lines, "\n") + "\n"))
		f.Add([]byte("\r\n  [" + strings.Join(lines, ",\n") + "]\n"))
		f.Add([]byte(strings.Join(lines, "\r\n\n")))
		if len(lines) > 3 {
			f.Add([]byte(lines[0] + "\n[" + lines[1] + "]\n" + lines[2] + "}\n"))
		}
	}
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"specversion":"1.0"},]`))
	f.Add([]byte("\n\n \t"))
	f.Fuzz(func(t *testing.T, input []byte) {
		s := &fuzzSender{}
		var sum emitSummary
		reports := 0
		err := emitAll(context.Background(), bytes.NewReader(input), s, &sum, func(string) { reports++ })

		var sent []json.RawMessage
		for _, b := range s.batches {
			body := 2 + len(b) - 1
			for _, e := range b {
				body += len(e)
			}
			if len(b) == 0 || len(b) > pipeline.MaxBatchEvents || body > pipeline.MaxBodyBytes {
				t.Fatalf("a batch of %d events and %d bytes", len(b), body)
			}
			sent = append(sent, b...)
		}

		// The input's events, read independently of emitAll.
		var events [][]byte
		trimmed := bytes.TrimLeft(input, " \t\r\n")
		if len(trimmed) > 0 && trimmed[0] == '[' {
			var elems []json.RawMessage
			oracleErr := json.Unmarshal(input, &elems)
			if err != nil {
				if len(sent) != 0 || sum != (emitSummary{}) {
					t.Fatalf("a refused batch sent %d events (%+v)", len(sent), sum)
				}
				return
			}
			if oracleErr != nil || !utf8.Valid(input) {
				t.Fatalf("read a batch that is not a valid UTF-8 JSON array (%v): %q", oracleErr, input)
			}
			for _, e := range elems {
				events = append(events, bytes.TrimSpace(e))
			}
		} else {
			if err != nil {
				t.Fatalf("JSON lines input failed: %v", err)
			}
			for _, line := range bytes.Split(input, []byte("\n")) {
				if line = bytes.TrimSpace(line); len(line) > 0 {
					events = append(events, line)
				}
			}
		}

		var valid [][]byte
		now := time.Now()
		for _, e := range events {
			ev, err := schemas.Decode(e)
			if err == nil && ev.CheckTime(now, schemas.MaxFutureSkew) == nil {
				valid = append(valid, e)
			}
		}
		if len(sent) != len(valid) || sum.Accepted != len(valid) || sum.Rejected != len(events)-len(valid) || reports != sum.Rejected {
			t.Fatalf("%d events, %d valid: sent %d, summary %+v, %d reports", len(events), len(valid), len(sent), sum, reports)
		}
		for i := range valid {
			if !bytes.Equal(sent[i], valid[i]) {
				t.Fatalf("event %d sent as %q, input has %q", i, sent[i], valid[i])
			}
		}
	})
}
