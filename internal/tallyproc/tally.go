package tallyproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/tally-billing/tally/auth"
)

// The info lines of tally's JSON log that Start reads, and their fields.
const (
	logServing     = "tally is serving"                     // addr
	logNATSStarted = "embedded nats with jetstream started" // url
	logCHStarted   = "managed clickhouse started"           // dsn
)

// tailLines is how much of the log an error of Start shows.
const tailLines = 40

// Config says how to start `tally run`.
type Config struct {
	Bin     string
	DataDir string // --data-dir
	// HTTPAddr is --http-addr and NATSListen --nats-listen (the embedded
	// NATS); a port of 0 picks a free one, which Start learns from the log.
	HTTPAddr, NATSListen string
	ChdbLib              string   // --chdb-lib, when not empty
	Args                 []string // more flags, after these
	// LogPath, Dir, Env, OwnGroup and DeathSignal are as in ProcConfig.
	LogPath     string
	Dir         string
	Env         []string
	OwnGroup    bool
	DeathSignal syscall.Signal
}

// Tally is a running `tally run` child.
type Tally struct {
	*Proc
	dataDir string

	// HTTPAddr is the API's address, NATSURL the embedded NATS's client URL
	// (empty with --nats-url) and ClickHouseDSN the managed ClickHouse's
	// (empty with --clickhouse-dsn), as the daemon logged them at start.
	HTTPAddr, NATSURL, ClickHouseDSN string
}

// Start starts `tally run` with --log-level info (Start reads the
// start-up lines of its log) and returns once the daemon has logged that
// it serves and its /readyz answers 200. When it does not get there
// before ctx ends, or exits first, Start kills it (and its managed
// ClickHouse) and returns an error with the last lines of its log.
func Start(ctx context.Context, cfg Config) (*Tally, error) {
	args := []string{"run",
		"--data-dir", cfg.DataDir,
		"--http-addr", cfg.HTTPAddr,
		"--nats-listen", cfg.NATSListen,
		"--log-level", "info",
	}
	if cfg.ChdbLib != "" {
		args = append(args, "--chdb-lib", cfg.ChdbLib)
	}
	p, err := StartProc(ProcConfig{
		Bin: cfg.Bin, Args: append(args, cfg.Args...),
		Dir: cfg.Dir, Env: cfg.Env, LogPath: cfg.LogPath,
		OwnGroup: cfg.OwnGroup, DeathSignal: cfg.DeathSignal,
	})
	if err != nil {
		return nil, err
	}
	t := &Tally{Proc: p, dataDir: cfg.DataDir}
	if err := t.waitReady(ctx); err != nil {
		kerr := t.Kill()
		return nil, errors.Join(fmt.Errorf("starting tally run: %w; last lines of its log:\n%s", err, p.Tail(tailLines)), kerr)
	}
	return t, nil
}

// waitReady polls every 50ms: first the log for the "tally is serving"
// line, then GET /readyz at the address it names.
func (t *Tally) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	last := errors.New("no " + logServing + " line in its log")
	for {
		if t.HTTPAddr == "" {
			if err := t.readStartLines(); err != nil {
				return err
			}
		}
		if t.HTTPAddr != "" {
			if last = t.readyz(ctx, client); last == nil {
				return nil
			}
		}
		select {
		case <-t.Done():
			return fmt.Errorf("it exited before it was ready (%v)", t.Err())
		case <-ctx.Done():
			return fmt.Errorf("not ready (%w; last: %v)", ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// readStartLines sets the addresses from the start-up lines of the log,
// once it holds the "tally is serving" line (which comes after the
// others).
func (t *Tally) readStartLines() error {
	first := map[string]string{}
	err := t.ReadLog(func(_ string, fields map[string]any) {
		for msg, name := range map[string]string{logServing: "addr", logNATSStarted: "url", logCHStarted: "dsn"} {
			if v, ok := fields[name].(string); ok && fields["message"] == msg && first[msg] == "" {
				first[msg] = v
			}
		}
	})
	if err != nil || first[logServing] == "" {
		return err
	}
	t.HTTPAddr, t.NATSURL, t.ClickHouseDSN = first[logServing], first[logNATSStarted], first[logCHStarted]
	return nil
}

func (t *Tally) readyz(ctx context.Context, client *http.Client) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.BaseURL()+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /readyz: %s", resp.Status)
	}
	return nil
}

// BaseURL is the API's root, http://HTTPAddr.
func (t *Tally) BaseURL() string { return "http://" + t.HTTPAddr }

// DataDir is the daemon's data dir.
func (t *Tally) DataDir() string { return t.dataDir }

// Key returns the dev key of role from the daemon's data dir.
func (t *Tally) Key(role auth.Role) (string, error) { return Key(t.dataDir, role) }

// Stop stops the daemon gracefully (SIGTERM; SIGKILL after grace), then
// waits for its managed ClickHouse to be gone (see WaitClickHouseGone).
// The error says what had to be killed; the exit status is Err.
func (t *Tally) Stop(grace time.Duration) error {
	return errors.Join(t.Proc.Stop(syscall.SIGTERM, grace), WaitClickHouseGone(t.dataDir, ClickHouseGrace))
}

// Kill sends SIGKILL to the daemon, then waits for its managed ClickHouse
// to be gone (see WaitClickHouseGone), so that a restart finds the data
// dir free.
func (t *Tally) Kill() error {
	return errors.Join(t.Proc.Stop(syscall.SIGKILL, 30*time.Second), WaitClickHouseGone(t.dataDir, ClickHouseGrace))
}

// Key returns the dev key of role from <dataDir>/keys.json, which `tally
// run` writes on its first start.
func Key(dataDir string, role auth.Role) (string, error) {
	return auth.FindSecret(filepath.Join(dataDir, "keys.json"), role)
}

// Env is this process's environment without its TALLY_* settings, but
// for the variables named in keep (e.g. "TALLY_CHDB_LIB"): a child then
// takes only the settings its flags give it.
func Env(keep ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "TALLY_") && !slices.Contains(keep, name) {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// Build runs `go build -o out pkg` in the module at dir: pkg is ./cmd/tally,
// or a main package of a module it requires (github.com/nats-io/nats-server/v2).
func Build(dir, out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}
