// Package pipeline moves usage events from their emitters into JetStream.
//
// Two doors lead in. The HTTP ingest (POST /v1/events) validates a single
// event or a batch, publishes every event to the events stream with a message
// id derived from its identity (source, id), and answers 202 only once
// JetStream has acknowledged every event: a 202 means durably stored. Emitters
// that speak NATS publish raw events to the ingest stream instead; the
// Validator moves each one to the events stream, or to the dead-letter stream
// with the reason when it is invalid.
//
// The JetStream topology (streams, subjects, limits) is declared in
// topology.go and applied idempotently at start.
package pipeline
