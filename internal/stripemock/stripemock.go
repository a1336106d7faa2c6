// Package stripemock runs the real stripe-mock server for tests: built
// from the module cache (it is a tool dependency in go.mod, so this works
// offline), on a loopback port chosen by the kernel, killed with its
// parent.
package stripemock

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
	"time"
)

// Server is a running stripe-mock.
type Server struct {
	// URL is the plain-HTTP base URL, e.g. http://127.0.0.1:41234.
	URL string
	cmd *exec.Cmd
	dir string
}

// Start builds and starts stripe-mock and waits until it answers.
func Start(ctx context.Context) (*Server, error) {
	dir, err := os.MkdirTemp("", "stripe-mock-")
	if err != nil {
		return nil, fmt.Errorf("creating temp dir: %w", err)
	}
	bin := filepath.Join(dir, "stripe-mock")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/stripe/stripe-mock")
	if out, err := build.CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("building stripe-mock: %w\n%s", err, out)
	}
	// -http-addr alone would also start HTTPS on the default port 12112
	// (on every interface), so HTTPS gets a loopback port of its own.
	cmd := exec.Command(bin, "-http-addr", "127.0.0.1:0", "-https-addr", "127.0.0.1:0")
	setPdeathsig(cmd)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("piping stripe-mock output: %w", err)
	}
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("starting stripe-mock: %w", err)
	}
	s := &Server{cmd: cmd, dir: dir}
	addr, err := readListenAddr(stdout, 60*time.Second)
	if err == nil {
		s.URL = "http://" + addr
		err = waitReady(ctx, s.URL, 30*time.Second)
	}
	if err != nil {
		s.Stop()
		return nil, fmt.Errorf("waiting for stripe-mock: %w", err)
	}
	return s, nil
}

// Stop kills the server and removes its binary.
func (s *Server) Stop() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	_ = os.RemoveAll(s.dir)
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
func waitReady(ctx context.Context, base string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
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
