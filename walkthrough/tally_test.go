package walkthrough

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tally-billing/tally/internal/tallyproc"
	"github.com/tally-billing/tally/internal/testnet"
)

// runTally starts `tally run` as `make run` does (embedded NATS, managed
// ClickHouse, dev keys, the schedulers on, no TALLY_* settings), but on
// free loopback ports and with dataDir as its data dir; it waits until the
// daemon is ready and returns the API's base URL. The daemon gets SIGTERM
// when the test ends; its log is shown when the test failed.
func runTally(t *testing.T, bin, dataDir, chdbLib string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p, err := tallyproc.Start(ctx, tallyproc.Config{
		Bin:        bin,
		DataDir:    dataDir,
		HTTPAddr:   testnet.FreeAddr(t),
		NATSListen: testnet.FreeAddr(t),
		ChdbLib:    chdbLib,
		LogPath:    filepath.Join(t.TempDir(), "tally.log"),
		Env:        tallyproc.Env(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A graceful stop also stops the managed ClickHouse before the
		// data dir is removed.
		if err := p.Stop(time.Minute); err != nil {
			t.Errorf("stopping tally run: %v", err)
		}
		if t.Failed() {
			t.Logf("--- log of tally run (last lines):\n%s", p.Tail(40))
		}
	})
	return p.BaseURL()
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
