// Package clustertest runs Tally's schema, rendered for a ClickHouse
// cluster (chstore.RenderScript), on two local ClickHouse servers from
// libchdb.so forming the two shards of a cluster, and checks that the
// store's inserts and queries work through the Distributed tables. It has
// only tests.
package clustertest
