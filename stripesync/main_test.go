package stripesync_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stripeMockURL is the base URL of the stripe-mock started by TestMain.
var stripeMockURL string

// TestMain builds stripe-mock from the module cache (it is a tool dependency
// in go.mod, so this works offline), runs it on a loopback port chosen by
// the kernel, waits until it answers, runs the tests and kills it.
func TestMain(m *testing.M) {
	os.Exit(runWithStripeMock(m))
}

func runWithStripeMock(m *testing.M) int {
	dir, err := os.MkdirTemp("", "stripesync-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)

	bin := filepath.Join(dir, "stripe-mock")
	build := exec.Command("go", "build", "-o", bin, "github.com/stripe/stripe-mock")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building stripe-mock: %v\n%s", err, out)
		return 1
	}

	// -http-addr alone would also start HTTPS on the default port 12112
	// (on every interface), so HTTPS gets a loopback port of its own.
	cmd := exec.Command(bin, "-http-addr", "127.0.0.1:0", "-https-addr", "127.0.0.1:0")
	setPdeathsig(cmd)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "piping stripe-mock output:", err)
		return 1
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "starting stripe-mock:", err)
		return 1
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()

	addr, err := readListenAddr(stdout, 60*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, "waiting for stripe-mock:", err)
		return 1
	}
	stripeMockURL = "http://" + addr
	if err := waitReady(stripeMockURL, 30*time.Second); err != nil {
		fmt.Fprintln(os.Stderr, "waiting for stripe-mock:", err)
		return 1
	}
	return m.Run()
}

// readListenAddr reads stripe-mock's stdout until it prints its HTTP
// address, then keeps draining it so that the process never blocks.
func readListenAddr(r io.Reader, timeout time.Duration) (string, error) {
	const prefix = "Listening for HTTP at address: "
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, prefix) {
				select {
				case found <- strings.TrimSpace(strings.TrimPrefix(line, prefix)):
				default:
				}
			}
		}
		close(found)
	}()
	select {
	case addr, ok := <-found:
		if !ok {
			return "", fmt.Errorf("stripe-mock exited before listening")
		}
		return addr, nil
	case <-time.After(timeout):
		return "", fmt.Errorf("no HTTP address after %v", timeout)
	}
}

// waitReady polls stripe-mock until it answers a request, with a deadline.
func waitReady(base string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/customers", nil)
		req.Header.Set("Authorization", "Bearer sk_test_ready")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready after %v (last error %v)", timeout, err)
		case <-tick.C:
		}
	}
}
