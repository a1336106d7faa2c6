package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/tally-billing/tally/auth"
	"github.com/tally-billing/tally/pipeline"
	"github.com/tally-billing/tally/pipeline/emitter"
	"github.com/tally-billing/tally/schemas"
)

// emitSummary counts what happened to the events of an emit run.
type emitSummary struct {
	Accepted, Duplicates, Rejected int
}

// sender delivers validated events somewhere.
type sender interface {
	send(ctx context.Context, events []json.RawMessage, sum *emitSummary, report func(string)) error
}

func newEmitCmd() *cobra.Command {
	var cf clientFlags
	var natsURL, subject string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "emit [FILE]",
		Short: "Send events from a file or stdin (JSON lines or a CloudEvents batch)",
		Long: `Send CloudEvents to Tally, over HTTP (default) or straight onto NATS
(--nats-url). The input is JSON lines (one event per line) or a CloudEvents
batch (one JSON array). Every event is validated locally first; invalid ones
are reported and counted as rejected, the rest are sent in batches of up to
1,000 events. Resending is safe: an event already stored counts as a
duplicate.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, size, name, err := openInput(args)
			if err != nil {
				return err
			}
			defer in.Close()

			var s sender
			if natsURL != "" {
				ns, err := newNATSSender(natsURL, subject)
				if err != nil {
					return err
				}
				defer ns.close()
				s = ns
			} else {
				key, err := cf.keyFor(auth.RoleIngest)
				if err != nil {
					return err
				}
				s = &httpSender{url: cf.url + "/v1/events", key: key, client: cf.httpClient()}
			}

			bar := progressbar.NewOptions64(size,
				progressbar.OptionSetWriter(cmd.ErrOrStderr()),
				progressbar.OptionSetDescription("emitting "+name),
				progressbar.OptionShowBytes(true),
				progressbar.OptionShowCount(),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionSetVisibility(!quiet),
				progressbar.OptionClearOnFinish(),
			)
			report := func(msg string) {
				_ = bar.Clear()
				fmt.Fprintln(cmd.ErrOrStderr(), msg)
			}
			var sum emitSummary
			err = emitAll(cmd.Context(), io.TeeReader(in, bar), s, &sum, report)
			_ = bar.Finish()
			fmt.Fprintf(cmd.OutOrStdout(), "accepted %d, duplicates %d, rejected %d\n", sum.Accepted, sum.Duplicates, sum.Rejected)
			if err != nil {
				return err
			}
			if sum.Rejected > 0 {
				return fmt.Errorf("%d events rejected", sum.Rejected)
			}
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&natsURL, "nats-url", "", "publish straight onto NATS at this URL instead of HTTP")
	cmd.Flags().StringVar(&subject, "subject", emitter.DefaultSubject, "NATS subject to publish on (under "+pipeline.IngestSubjectPrefix+">)")
	cmd.Flags().BoolVar(&quiet, "quiet", false, "no progress bar")
	annotateEnv(cmd)
	return cmd
}

func openInput(args []string) (io.ReadCloser, int64, string, error) {
	if len(args) == 0 || args[0] == "-" {
		return io.NopCloser(os.Stdin), -1, "stdin", nil
	}
	f, err := os.Open(args[0])
	if err != nil {
		return nil, 0, "", fmt.Errorf("opening input: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, 0, "", fmt.Errorf("opening input: %w", err)
	}
	return f, st.Size(), args[0], nil
}

// emitAll reads events, validates them and sends them in batches.
func emitAll(ctx context.Context, r io.Reader, s sender, sum *emitSummary, report func(string)) error {
	br := bufio.NewReaderSize(r, 1<<20)
	first, err := peekNonSpace(br)
	if err != nil {
		return err
	}
	var batch []json.RawMessage
	batchBytes, index := 0, 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.send(ctx, batch, sum, report)
		batch, batchBytes = batch[:0], 0
		return err
	}
	add := func(raw []byte) error {
		index++
		e, err := schemas.Decode(raw)
		if err == nil {
			err = e.CheckTime(time.Now(), schemas.MaxFutureSkew)
		}
		if err != nil {
			sum.Rejected++
			report(fmt.Sprintf("event %d rejected: %v", index, err))
			return nil
		}
		if len(batch) == pipeline.MaxBatchEvents || batchBytes+len(raw) > pipeline.MaxBodyBytes*9/10 {
			if err := flush(); err != nil {
				return err
			}
		}
		batch = append(batch, json.RawMessage(raw))
		batchBytes += len(raw) + 1
		return nil
	}

	if first == '[' {
		all, err := io.ReadAll(br)
		if err != nil {
			return fmt.Errorf("reading input: %w", err)
		}
		raws, err := schemas.SplitBatch(all)
		if err != nil {
			return fmt.Errorf("reading batch: %w", err)
		}
		for _, raw := range raws {
			if err := add(raw); err != nil {
				return err
			}
		}
		return flush()
	}
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 64<<10), pipeline.MaxBodyBytes)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if err := add(bytes.Clone(line)); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading input line %d: %w", index+1, err)
	}
	return flush()
}

func peekNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if errors.Is(err, io.EOF) {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("reading input: %w", err)
		}
		if b != ' ' && b != '\n' && b != '\r' && b != '\t' {
			return b, br.UnreadByte()
		}
	}
}

// httpSender posts batches to the ingest endpoint, retrying 503 and
// network errors with backoff (resending is safe), and dropping the events
// the server rejects before resending the rest.
type httpSender struct {
	url    string
	key    string
	client *http.Client
}

const emitMaxAttempts = 10

func (h *httpSender) send(ctx context.Context, events []json.RawMessage, sum *emitSummary, report func(string)) error {
	backoff := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		status, body, retryAfter, err := h.post(ctx, events)
		switch {
		case err == nil && status == http.StatusAccepted:
			var res pipeline.IngestResult
			if err := json.Unmarshal(body, &res); err != nil {
				return fmt.Errorf("decoding ingest answer: %w", err)
			}
			sum.Accepted += res.Accepted
			sum.Duplicates += res.Duplicates
			return nil
		case err == nil && status == http.StatusBadRequest:
			var eb pipeline.ErrorBody
			if json.Unmarshal(body, &eb) != nil || len(eb.Events) == 0 {
				return fmt.Errorf("ingest rejected the batch: %s", body)
			}
			bad := map[int]bool{}
			for _, e := range eb.Events {
				bad[e.Index] = true
				sum.Rejected++
				report(fmt.Sprintf("event %q rejected by the server: %s: %s", e.ID, e.Field, e.Message))
			}
			rest := events[:0:0]
			for i, e := range events {
				if !bad[i] {
					rest = append(rest, e)
				}
			}
			if len(rest) == 0 {
				return nil
			}
			events = rest
			continue
		case err == nil && status != http.StatusServiceUnavailable && status != http.StatusTooManyRequests && status < 500:
			return fmt.Errorf("ingest answered %d: %s", status, body)
		}
		if attempt >= emitMaxAttempts {
			if err == nil {
				err = fmt.Errorf("status %d: %s", status, body)
			}
			return fmt.Errorf("sending %d events after %d attempts (resending them is safe): %w", len(events), attempt, err)
		}
		wait := max(backoff, retryAfter)
		report(fmt.Sprintf("ingest unavailable (%v); retrying in %s", describe(status, err), wait))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

func describe(status int, err error) string {
	if err != nil {
		return err.Error()
	}
	return "status " + strconv.Itoa(status)
}

func (h *httpSender) post(ctx context.Context, events []json.RawMessage) (int, []byte, time.Duration, error) {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, e := range events {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(e)
	}
	buf.WriteByte(']')
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, &buf)
	if err != nil {
		return 0, nil, 0, err
	}
	req.Header.Set("Content-Type", pipeline.ContentTypeBatch)
	req.Header.Set("Authorization", "Bearer "+h.key)
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return 0, nil, 0, err
	}
	var retryAfter time.Duration
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		retryAfter = time.Duration(s) * time.Second
	}
	return resp.StatusCode, body, retryAfter, nil
}

// natsSender publishes each event through the emitter package.
type natsSender struct {
	nc *nats.Conn
	em *emitter.Emitter
}

func newNATSSender(url, subject string) (*natsSender, error) {
	nc, err := nats.Connect(url, nats.Name("tally-emit"))
	if err != nil {
		return nil, fmt.Errorf("connecting to nats: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("opening jetstream: %w", err)
	}
	em, err := emitter.New(js, emitter.Config{Subject: subject})
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &natsSender{nc: nc, em: em}, nil
}

func (n *natsSender) send(ctx context.Context, events []json.RawMessage, sum *emitSummary, report func(string)) error {
	for _, e := range events {
		res, err := n.em.Emit(ctx, e)
		if err != nil {
			return err
		}
		if res.Duplicate {
			sum.Duplicates++
		} else {
			sum.Accepted++
		}
	}
	return nil
}

func (n *natsSender) close() { n.nc.Close() }
