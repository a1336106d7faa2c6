package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tally-billing/tally/pipeline"
)

// httpMaxAttempts bounds the resends of one batch answered 503 or lost.
const httpMaxAttempts = 10

// httpSender posts event batches to POST /v1/events with the ingest key.
type httpSender struct {
	client *http.Client
	url    string
	key    string

	duplicates atomic.Int64
	retries    atomic.Int64
}

func newHTTPSender(addr, key string, workers int) *httpSender {
	return &httpSender{
		client: &http.Client{
			Timeout:   time.Minute,
			Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers},
		},
		url: "http://" + addr + "/v1/events",
		key: key,
	}
}

// sendAll posts events in batches of batchSize from workers concurrent
// workers. sent is called with the size of each accepted batch.
func (h *httpSender) sendAll(ctx context.Context, events []event, batchSize, workers int, sent func(n int)) error {
	return h.sendPaced(ctx, events, batchSize, workers, nil, sent)
}

// sendPaced is sendAll with pace, if not nil, called with the index of
// the first event of each batch before the batch is handed to a worker;
// it may block.
func (h *httpSender) sendPaced(ctx context.Context, events []event, batchSize, workers int,
	pace func(ctx context.Context, i int) error, sent func(n int)) error {
	batches := make(chan []event)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(batches)
		for lo := 0; lo < len(events); lo += batchSize {
			if pace != nil {
				if err := pace(gctx, lo); err != nil {
					return err
				}
			}
			select {
			case batches <- events[lo:min(lo+batchSize, len(events))]:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for range workers {
		g.Go(func() error {
			var buf bytes.Buffer
			for b := range batches {
				if err := h.send(gctx, &buf, b); err != nil {
					return err
				}
				sent(len(b))
			}
			return nil
		})
	}
	return g.Wait()
}

// send posts one batch, resending it (which is safe) on 503, 429, 5xx and
// network errors.
func (h *httpSender) send(ctx context.Context, buf *bytes.Buffer, batch []event) error {
	buf.Reset()
	buf.WriteByte('[')
	for i, e := range batch {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(e.raw)
	}
	buf.WriteByte(']')
	backoff := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		res, retryAfter, err := h.post(ctx, buf.Bytes())
		if err == nil {
			if res.Accepted+res.Duplicates != len(batch) {
				return fmt.Errorf("posting batch: %d accepted and %d duplicates of %d events", res.Accepted, res.Duplicates, len(batch))
			}
			h.duplicates.Add(int64(res.Duplicates))
			return nil
		}
		var fatal fatalError
		if errors.As(err, &fatal) || attempt == httpMaxAttempts || ctx.Err() != nil {
			return fmt.Errorf("posting batch (attempt %d): %w", attempt, err)
		}
		h.retries.Add(1)
		if !sleepCtx(ctx, max(backoff, retryAfter)) {
			return ctx.Err()
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// fatalError is an answer that resending cannot fix.
type fatalError struct{ error }

func (h *httpSender) post(ctx context.Context, body []byte) (pipeline.IngestResult, time.Duration, error) {
	var res pipeline.IngestResult
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return res, 0, fatalError{err}
	}
	req.Header.Set("Content-Type", pipeline.ContentTypeBatch)
	req.Header.Set("Authorization", "Bearer "+h.key)
	resp, err := h.client.Do(req)
	if err != nil {
		return res, 0, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return res, 0, fmt.Errorf("reading answer: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusAccepted:
		if err := json.Unmarshal(answer, &res); err != nil {
			return res, 0, fatalError{fmt.Errorf("decoding answer: %w", err)}
		}
		return res, 0, nil
	case resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		retryAfter, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return res, time.Duration(retryAfter) * time.Second, fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(answer))
	default:
		return res, 0, fatalError{fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(answer))}
	}
}
