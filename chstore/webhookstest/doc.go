// Package webhookstest checks chstore.Webhooks (migration 0013) against a
// real ClickHouse (the managed local one, chlocal): endpoint versions
// read back latest first and deleted ones disappear, messages are known
// once, and the delivery log answers by endpoint and delivery and finds
// when an endpoint started failing.
package webhookstest
