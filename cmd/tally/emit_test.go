package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tally-billing/tally/pipeline"
)

func testEvent(i int, credits string) string {
	return fmt.Sprintf(`{"specversion":"1.0","id":"e-%d","source":"t","type":"ai.credits.consumed","subject":"ten","time":%q,"data":{"credits":%s,"feature":"tutor"}}`,
		i, time.Now().UTC().Format(time.RFC3339), credits)
}

// recordingSender keeps the batches it is given.
type recordingSender struct{ batches [][]json.RawMessage }

func (r *recordingSender) send(_ context.Context, events []json.RawMessage, sum *emitSummary, _ func(string)) error {
	r.batches = append(r.batches, append([]json.RawMessage(nil), events...))
	sum.Accepted += len(events)
	return nil
}

func TestEmitAllReadsLinesAndBatches(t *testing.T) {
	var lines []string
	for i := 0; i < 2500; i++ {
		lines = append(lines, testEvent(i, `"1"`))
	}
	lines = append(lines, "", testEvent(9999, `1`)) // a blank line and a JSON number
	for name, input := range map[string]string{
		"json lines": strings.Join(lines, "\n") + "\n",
		"batch":      "  [" + strings.Join(append(lines[:2500:2500], testEvent(9999, `1`)), ",") + "]",
	} {
		t.Run(name, func(t *testing.T) {
			s := &recordingSender{}
			var sum emitSummary
			var reports []string
			err := emitAll(context.Background(), strings.NewReader(input), s, &sum, func(m string) { reports = append(reports, m) })
			if err != nil {
				t.Fatal(err)
			}
			if sum.Accepted != 2500 || sum.Rejected != 1 {
				t.Fatalf("summary %+v, want 2500 accepted and 1 rejected", sum)
			}
			if len(s.batches) != 3 || len(s.batches[0]) != 1000 || len(s.batches[2]) != 500 {
				t.Fatalf("batches of sizes %d", len(s.batches))
			}
			if len(reports) != 1 || !strings.Contains(reports[0], "data.credits") {
				t.Fatalf("reports %q", reports)
			}
		})
	}
}

// TestHTTPSenderRetriesAndDropsRejected answers 503 once, then 400 for one
// event, then 202: the sender retries, drops the rejected event and sends
// the rest.
func TestHTTPSenderRetriesAndDropsRejected(t *testing.T) {
	var mu sync.Mutex
	var calls []int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var events []json.RawMessage
		_ = json.Unmarshal(body, &events)
		mu.Lock()
		calls = append(calls, len(events))
		n := len(calls)
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer k" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch n {
		case 1:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(pipeline.ErrorBody{Error: "bad", Events: []pipeline.EventError{{Index: 1, ID: "e-1", Field: "time", Message: "too far ahead"}}})
		default:
			w.WriteHeader(http.StatusAccepted)
			_ = json.NewEncoder(w).Encode(pipeline.IngestResult{Accepted: len(events) - 1, Duplicates: 1})
		}
	}))
	defer srv.Close()
	s := &httpSender{url: srv.URL, key: "k", client: srv.Client()}
	var sum emitSummary
	events := []json.RawMessage{json.RawMessage(testEvent(0, `"1"`)), json.RawMessage(testEvent(1, `"1"`)), json.RawMessage(testEvent(2, `"1"`))}
	if err := s.send(context.Background(), events, &sum, func(string) {}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(calls) != "[3 3 2]" {
		t.Fatalf("request sizes %v, want [3 3 2]", calls)
	}
	if sum != (emitSummary{Accepted: 1, Duplicates: 1, Rejected: 1}) {
		t.Fatalf("summary %+v", sum)
	}
}

func TestEnvBinding(t *testing.T) {
	cmd := newRunCmd()
	t.Setenv("TALLY_HTTP_ADDR", "127.0.0.1:9999")
	t.Setenv("TALLY_DATA_DIR", "/from/env")
	if err := cmd.Flags().Parse([]string{"--data-dir", "/from/flag"}); err != nil {
		t.Fatal(err)
	}
	if err := bindEnv(cmd); err != nil {
		t.Fatal(err)
	}
	if got := cmd.Flags().Lookup("http-addr").Value.String(); got != "127.0.0.1:9999" {
		t.Errorf("http-addr %q, want the environment's", got)
	}
	if got := cmd.Flags().Lookup("data-dir").Value.String(); got != "/from/flag" {
		t.Errorf("data-dir %q, want the flag's (the command line wins)", got)
	}
	t.Setenv("TALLY_SINK_MAX_BATCH", "many")
	cmd = newRunCmd()
	if err := bindEnv(cmd); err == nil {
		t.Error("a bad TALLY_SINK_MAX_BATCH was accepted")
	}
}

// TestRootBindsEnvForEveryCommand runs a command through the root: its
// flags take TALLY_* values without the command doing anything.
func TestRootBindsEnvForEveryCommand(t *testing.T) {
	t.Setenv("TALLY_TENANT", "tenant-from-env")
	t.Setenv("TALLY_KEY", "a-key-from-the-environment-0123")
	t.Setenv("TALLY_URL", "http://127.0.0.1:1") // nothing listens there
	root := newRootCmd()
	root.SetArgs([]string{"usage"})
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	err := root.Execute()
	if err == nil || strings.Contains(err.Error(), "--tenant is required") || !strings.Contains(err.Error(), "tenant-from-env") {
		t.Fatalf("err %v: want a connection error for the tenant from TALLY_TENANT", err)
	}
}
