// Package webhooks sends Tally's facts to the endpoints customers register
// (SPEC §7), following the Standard Webhooks specification: each message
// has a stable id, each delivery is signed with the endpoint's secret,
// retried with backoff for three days, and logged attempt by attempt.
//
// The package holds the rules and declares the ports it needs (ports.go):
// the endpoint store, the message and delivery logs (ClickHouse, in
// chstore), the queue (JetStream, in webhooks/jsqueue), the HTTP doer
// (webhooks/webhttp, which refuses internal addresses after DNS
// resolution) and the clock. docs/webhooks.md has the catalogue, the
// payloads, the retry schedule and the order of effects.
package webhooks
