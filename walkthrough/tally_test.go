package walkthrough

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tally-billing/tally/internal/testnet"
)

// buildTally builds ./cmd/tally of the module at repo into out.
func buildTally(t *testing.T, repo, out string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", out, "./cmd/tally")
	cmd.Dir = repo
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building tally: %v\n%s", err, b)
	}
}

// runTally starts `tally run` as `make run` does (embedded NATS, managed
// ClickHouse, dev keys, the schedulers on), but on free loopback ports and
// with dataDir as its data dir; it waits until /readyz answers 200 and
// returns the API's base URL. The daemon gets SIGTERM when the test ends;
// its log is shown when the test failed.
func runTally(t *testing.T, bin, dataDir, chdbLib string) string {
	t.Helper()
	addr := testnet.FreeAddr(t)
	logPath := filepath.Join(t.TempDir(), "tally.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "run",
		"--http-addr", addr,
		"--nats-listen", testnet.FreeAddr(t),
		"--data-dir", dataDir,
		"--chdb-lib", chdbLib,
	)
	cmd.Env = withoutTallyEnv(os.Environ())
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting tally run: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		// A graceful stop also stops the managed ClickHouse before the
		// data dir is removed.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(time.Minute):
			t.Errorf("tally run did not stop within a minute of SIGTERM; killing it")
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("--- log of tally run (last lines):\n%s", lastLines(string(b), 40))
		}
	})

	base := "http://" + addr
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	client := &http.Client{Timeout: 3 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		select {
		case err := <-exited:
			exited <- err
			b, _ := os.ReadFile(logPath)
			t.Fatalf("tally run exited before it was ready (%v):\n%s", err, lastLines(string(b), 40))
		case <-ctx.Done():
			t.Fatalf("tally run not ready after 3 minutes (last answer: %v)", err)
		case <-tick.C:
		}
	}
}

// withoutTallyEnv drops the TALLY_* variables of the test's environment,
// so that neither the daemon nor the CLI takes a setting the README does
// not give them.
func withoutTallyEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "TALLY_") {
			out = append(out, kv)
		}
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// chdbLibrary is libchdb.so for the managed ClickHouse: $TALLY_CHDB_LIB,
// else the one `make chdb` fetches into the repository.
func chdbLibrary(t *testing.T, repo string) string {
	t.Helper()
	lib := os.Getenv("TALLY_CHDB_LIB")
	if lib == "" {
		lib = filepath.Join(repo, ".cache", "chdb", "package", "libchdb.so")
	}
	if _, err := os.Stat(lib); err != nil {
		t.Fatalf("libchdb.so not found (%v): run `make chdb`, or set TALLY_CHDB_LIB", err)
	}
	return lib
}

// needCommands fails the test at once when a command the README uses is
// missing.
func needCommands(t *testing.T, names ...string) {
	t.Helper()
	var missing []string
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("the README walkthrough needs %s: run `make test-deps` (it installs them, or prints the command to)",
			strings.Join(missing, ", "))
	}
}
