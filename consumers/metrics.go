package consumers

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the per-consumer metrics; the consumer name is a label.
type Metrics struct {
	Batches      *prometheus.CounterVec
	Messages     *prometheus.CounterVec
	Rejected     *prometheus.CounterVec
	Errors       *prometheus.CounterVec
	BatchSize    *prometheus.HistogramVec
	HandleTime   *prometheus.HistogramVec
	Pending      *prometheus.GaugeVec
	Redeliveries *prometheus.CounterVec
}

// NewMetrics registers consumer metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tally_consumer_batches_total", Help: "Batches handled successfully.",
		}, []string{"consumer"}),
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tally_consumer_messages_total", Help: "Messages handled successfully (including rejected ones).",
		}, []string{"consumer"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tally_consumer_rejected_total", Help: "Messages dead-lettered.",
		}, []string{"consumer"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tally_consumer_errors_total", Help: "Handler calls that failed, by kind (retryable, permanent).",
		}, []string{"consumer", "kind"}),
		BatchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tally_consumer_batch_size", Help: "Messages per batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}, []string{"consumer"}),
		HandleTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tally_consumer_handle_seconds", Help: "Time to handle one batch (for the sink: the ClickHouse insert latency).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"consumer"}),
		Pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tally_consumer_pending", Help: "Messages in the stream not yet delivered to the consumer (lag).",
		}, []string{"consumer"}),
		Redeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tally_consumer_redeliveries_total", Help: "Messages received more than once.",
		}, []string{"consumer"}),
	}
	reg.MustRegister(m.Batches, m.Messages, m.Rejected, m.Errors, m.BatchSize, m.HandleTime, m.Pending, m.Redeliveries)
	return m
}

// Measure records batch size, handling time and outcome of each call.
func Measure(m *Metrics, consumer string) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, batch []*Message) error {
			start := time.Now()
			err := next(ctx, batch)
			m.HandleTime.WithLabelValues(consumer).Observe(time.Since(start).Seconds())
			m.BatchSize.WithLabelValues(consumer).Observe(float64(len(batch)))
			switch {
			case err == nil:
				m.Batches.WithLabelValues(consumer).Inc()
				m.Messages.WithLabelValues(consumer).Add(float64(len(batch)))
				rejected := 0
				for _, msg := range batch {
					if msg.rejected != nil {
						rejected++
					}
				}
				m.Rejected.WithLabelValues(consumer).Add(float64(rejected))
			case IsPermanent(err):
				m.Errors.WithLabelValues(consumer, "permanent").Inc()
			default:
				m.Errors.WithLabelValues(consumer, "retryable").Inc()
			}
			return err
		}
	}
}
