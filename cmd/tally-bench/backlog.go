package main

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tally-billing/tally/daemon"
	"github.com/tally-billing/tally/pipeline"
)

// backlogInterval is how often the consumers' backlogs are read.
const backlogInterval = 500 * time.Millisecond

// backlog is the largest number of messages seen waiting for each of
// tally's consumers (not yet delivered plus delivered but not acked): it
// shows which stage of the pipeline falls behind.
type backlog struct {
	Validator uint64 `json:"validator"` // on TALLY_INGEST: what an older version left there (the drain)
	Sink      uint64 `json:"sink"`      // on TALLY_EVENTS
}

// backlogWatch samples the consumers' backlogs on a connection of its own
// until it is stopped.
type backlogWatch struct {
	mon    *natsClient
	cancel context.CancelFunc
	peaks  chan backlog

	once sync.Once
	peak backlog
}

// startBacklogWatch starts watching the backlogs of the tally at natsURL.
// The caller must call stop.
func startBacklogWatch(ctx context.Context, natsURL string) (*backlogWatch, error) {
	mon, err := connectNATS(natsURL, 1)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &backlogWatch{mon: mon, cancel: cancel, peaks: make(chan backlog, 1)}
	go func() { w.peaks <- watchBacklog(ctx, mon.js) }()
	return w, nil
}

// stop ends the watch, closes its connection and returns the peaks; later
// calls return the same peaks.
func (w *backlogWatch) stop() backlog {
	w.once.Do(func() {
		w.cancel()
		w.peak = <-w.peaks
		w.mon.close()
	})
	return w.peak
}

// watchBacklog samples the backlogs until ctx ends and returns the peaks.
// A failed sample is skipped: the figures are informative only.
func watchBacklog(ctx context.Context, js jetstream.JetStream) backlog {
	var peak backlog
	tick := time.NewTicker(backlogInterval)
	defer tick.Stop()
	for {
		peak.Validator = max(peak.Validator, pendingOf(ctx, js, pipeline.IngestStream, daemon.ValidatorConsumer))
		peak.Sink = max(peak.Sink, pendingOf(ctx, js, pipeline.EventsStream, daemon.SinkConsumer))
		select {
		case <-ctx.Done():
			return peak
		case <-tick.C:
		}
	}
}

func pendingOf(ctx context.Context, js jetstream.JetStream, stream, consumer string) uint64 {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, stream, consumer) // reads the consumer's info
	if err != nil {
		return 0
	}
	info := c.CachedInfo()
	return info.NumPending + uint64(info.NumAckPending)
}
