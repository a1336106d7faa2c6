// Package chlocal runs a real local ClickHouse server for development, tests
// and single-box deployments, without installing ClickHouse.
//
// The server is clickhouse-local from libchdb.so (the chDB build of
// ClickHouse), told to open its TCP and HTTP listeners. Because libchdb.so
// runs the server inside the calling process and only while one C call is in
// progress, it runs in a child process: [Start] re-executes a binary (by
// default the current one) that calls [RunLauncher], waits until the server
// answers HTTP /ping, and supervises the child, restarting it on the same
// ports if it dies, until [Server.Stop].
//
// See README.md in this directory for why the child gets a pseudo-terminal
// on stdin, which flags clickhouse-local receives and where its log goes.
package chlocal
