package chlocal

import "errors"

var (
	// ErrLibraryNotFound means libchdb.so was not found; run `make chdb` or
	// set TALLY_CHDB_LIB.
	ErrLibraryNotFound = errors.New("libchdb.so not found")

	// ErrInvalidConfig wraps every Config.Validate failure.
	ErrInvalidConfig = errors.New("invalid chlocal config")

	// ErrNotReady means the server did not answer HTTP /ping within
	// Config.StartTimeout.
	ErrNotReady = errors.New("clickhouse not ready in time")

	// ErrExited means the child process exited while it was expected to run,
	// for example before it became ready.
	ErrExited = errors.New("clickhouse child exited")

	// ErrKilled is returned by Server.Stop when the child did not exit after
	// SIGTERM before the context ended and had to be killed with SIGKILL.
	ErrKilled = errors.New("clickhouse child killed after stop deadline")

	// errStopped ends a wait for readiness interrupted by Stop; it never
	// reaches callers.
	errStopped = errors.New("clickhouse server stopping")

	// ErrPortInUse is returned by RunLauncher when a port it was given is
	// already taken, so that the child fails fast instead of running
	// without a listener.
	ErrPortInUse = errors.New("port already in use")
)
