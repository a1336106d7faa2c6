package chlocal

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"
)

// Defaults applied by Start to zero fields of Config.
const (
	DefaultStartTimeout      = 60 * time.Second
	DefaultMaxServerMemory   = 8 << 30 // 8 GiB; ClickHouse also caps it at half the RAM
	DefaultRestartBackoff    = 100 * time.Millisecond
	DefaultMaxRestartBackoff = 30 * time.Second
	// LogFileName is the child's log file inside DataDir unless
	// Config.LogFile says otherwise.
	LogFileName = "clickhouse.log"
)

// Config describes one local ClickHouse server.
type Config struct {
	// LibPath is the path to libchdb.so; empty means FindLibrary("").
	LibPath string
	// DataDir is ClickHouse's --path: databases, tables and parts live
	// here and survive restarts. Created if missing. Required.
	DataDir string
	// Executable is the binary that runs the launcher; empty means
	// os.Executable().
	Executable string
	// LauncherArgs make Executable call RunLauncher, e.g.
	// []string{"__clickhouse-server"}. The launcher's own flags are
	// appended after them.
	LauncherArgs []string
	// Env is extra environment for the child, on top of os.Environ().
	Env []string
	// StartTimeout bounds the wait for HTTP /ping after each (re)start.
	// Default DefaultStartTimeout.
	StartTimeout time.Duration
	// LogFile receives the child's stdout and stderr (clickhouse-local's
	// warnings and errors, the launcher's own messages), appended across
	// restarts. Default <DataDir>/clickhouse.log.
	LogFile string
	// MaxServerMemory is ClickHouse's max_server_memory_usage in bytes.
	// ClickHouse lowers it to half of the machine's RAM if that is less.
	// Default DefaultMaxServerMemory.
	MaxServerMemory int64
	// RestartBackoff is the delay before the first restart after an
	// unexpected exit; it doubles for each consecutive failure up to
	// MaxRestartBackoff, and starts over once a child has stayed up for a
	// minute. Defaults DefaultRestartBackoff and DefaultMaxRestartBackoff.
	RestartBackoff    time.Duration
	MaxRestartBackoff time.Duration
	// Logger receives lifecycle events (start, ready, exit, restart, stop).
	Logger zerolog.Logger
}

// withDefaults returns a copy of c with zero fields set to their defaults.
// It does not look up the library or the executable; Start does that.
func (c Config) withDefaults() Config {
	if c.StartTimeout == 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.MaxServerMemory == 0 {
		c.MaxServerMemory = DefaultMaxServerMemory
	}
	if c.RestartBackoff == 0 {
		c.RestartBackoff = DefaultRestartBackoff
	}
	if c.MaxRestartBackoff == 0 {
		c.MaxRestartBackoff = DefaultMaxRestartBackoff
	}
	return c
}

// Validate reports the first problem with c. Zero values that have a
// default are accepted.
func (c Config) Validate() error {
	switch {
	case c.DataDir == "":
		return fmt.Errorf("%w: DataDir is required", ErrInvalidConfig)
	case c.StartTimeout < 0:
		return fmt.Errorf("%w: StartTimeout must not be negative", ErrInvalidConfig)
	case c.MaxServerMemory < 0:
		return fmt.Errorf("%w: MaxServerMemory must not be negative", ErrInvalidConfig)
	case c.RestartBackoff < 0 || c.MaxRestartBackoff < 0:
		return fmt.Errorf("%w: restart backoff must not be negative", ErrInvalidConfig)
	case c.MaxRestartBackoff > 0 && c.RestartBackoff > c.MaxRestartBackoff:
		return fmt.Errorf("%w: RestartBackoff is larger than MaxRestartBackoff", ErrInvalidConfig)
	}
	return nil
}

// resolve fills in the library and executable paths and creates DataDir.
func (c Config) resolve() (Config, error) {
	lib, err := FindLibrary(c.LibPath)
	if err != nil {
		return c, err
	}
	c.LibPath = lib
	if c.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return c, fmt.Errorf("finding own executable: %w", err)
		}
		c.Executable = exe
	}
	dataDir, err := filepath.Abs(c.DataDir)
	if err != nil {
		return c, fmt.Errorf("resolving data dir: %w", err)
	}
	c.DataDir = dataDir
	if err := os.MkdirAll(c.DataDir, 0o750); err != nil {
		return c, fmt.Errorf("creating data dir: %w", err)
	}
	if c.LogFile == "" {
		c.LogFile = filepath.Join(c.DataDir, LogFileName)
	}
	return c, nil
}
