// Package consumers reads JetStream streams in batches and hands each batch
// to a Handler.
//
// Every consumer in Tally uses the same contract: a Handler processes a batch
// and returns nil (every message is done and is acknowledged), an error
// marked Permanent (no retry can help: the batch is dead-lettered with the
// reason), or any other error (the batch is retried, first in process with
// backoff, then by JetStream redelivery). A single message that can never
// succeed is marked with Message.Reject; the DeadLetter middleware publishes
// it to the dead-letter stream with its reason before it is acknowledged.
// Retry, dead letters, metrics and logging are middlewares around the
// handler, each in a file of its own (retry.go, deadletter_middleware.go,
// logging.go, metrics.go; Chain in message.go), never copies inside a
// consumer. The dead-letter stream itself is copied into its store by
// DeadLetterSink (deadletter_sink.go); pipeline.DeadLetters
// (pipeline/deadletter_publisher.go) is what publishes to it.
//
// The Runner (runner.go) owns the JetStream side: a durable pull consumer,
// batching by size and time, and the acknowledgement order described in
// docs/adr/0001-exactly-once-ingest.md.
package consumers
