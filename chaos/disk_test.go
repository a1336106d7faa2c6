package chaos

// Disk nearly full: the daemon's data dir is a small tmpfs that a filler
// file fills up. Tally must refuse new events with 503 and Retry-After
// rather than accept what it cannot keep, stay up, and take events again
// once the space is back; every event that got a 202 is stored once.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tally-billing/tally/pipeline"
)

// mountTmpfs mounts a tmpfs of sizeMiB on a new directory and unmounts it
// when the test ends (after the daemons started later have stopped). It
// fails the test when mounting is not permitted: the suite runs as root.
func mountTmpfs(t *testing.T, sizeMiB int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm", sizeMiB), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("mounting a %d MiB tmpfs on %s failed (%v: %s); the disk-full test needs root or CAP_SYS_ADMIN to mount one", sizeMiB, dir, err, out)
	}
	t.Cleanup(func() {
		for range 50 {
			if err := syscall.Unmount(dir, 0); err == nil || errors.Is(err, syscall.EINVAL) {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
	return dir
}

// freeBytes is what statfs says an unprivileged writer may still use.
func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// fillDisk writes a filler file in dir until the file system is full, then
// shrinks it so that about leave bytes stay free. It returns the path.
func fillDisk(t *testing.T, dir string, leave int64) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte{0xa5}, 1<<20)
	var size int64
	for {
		n, err := f.Write(chunk)
		size += int64(n)
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	if err := f.Truncate(max(size-leave, 0)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil && !errors.Is(err, syscall.ENOSPC) {
		t.Fatal(err)
	}
	return path
}

// postOnce sends batch once and returns the status and Retry-After header.
func postOnce(ctx context.Context, hs *HTTPSender, batch []Event) (int, string, string, error) {
	body := batchBody(batch)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hs.URL, body)
	if err != nil {
		return 0, "", "", err
	}
	req.Header.Set("Content-Type", pipeline.ContentTypeBatch)
	req.Header.Set("Authorization", "Bearer "+hs.Key)
	resp, err := hs.Client.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(b), nil
}

// TestDiskFull runs tally on a 256 MiB tmpfs, fills it with a filler file,
// checks that POST /v1/events answers 503 with Retry-After (any 202 must
// then be kept), that the daemon stays up and says why in /readyz, then
// removes the filler and checks that events are taken again and that
// every acknowledged event is stored exactly once.
func TestDiskFull(t *testing.T) {
	events := max(chaosEvents(t)/10, 500)
	s := seed(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	month := lastMonth()

	dir := mountTmpfs(t, 256)
	p := StartTally(t, TallyConfig{DataDir: dir, Args: []string{"--min-free-disk", "48MiB", "--disk-check-interval", "200ms"}})
	ledger := NewLedger()
	hs := NewHTTPSender(p, ledger)
	gen := NewGen(s, 5, month)

	// Before: the disk has room.
	for sent := 0; sent < events/2; sent += 100 {
		if err := hs.Send(ctx, gen.Batch(100)); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("before filling: %d events acknowledged, %d MiB free", ledger.Len(), freeBytes(t, dir)>>20)

	// Fill the disk, leaving 16 MiB: less than --min-free-disk.
	filler := fillDisk(t, dir, 16<<20)
	t.Logf("filled: %d MiB free", freeBytes(t, dir)>>20)
	var accepted, refused, withRetryAfter int
	var retry [][]Event
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		batch := gen.Batch(50)
		status, retryAfter, body, err := postOnce(ctx, hs, batch)
		switch {
		case err != nil:
			t.Fatalf("POST /v1/events with the disk full: %v (the daemon running: %v)", err, p.Running())
		case status == http.StatusAccepted:
			accepted++
			ledger.Add(batch...) // must be kept
		case status == http.StatusServiceUnavailable:
			refused++
			if retryAfter != "" {
				withRetryAfter++
			}
			retry = append(retry, batch) // sent again later, as a client would
		default:
			t.Fatalf("POST /v1/events with the disk full: status %d: %s", status, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	status, ready, _ := p.API(ctx, http.MethodGet, "/readyz", "")
	t.Logf("disk full for 10s: %d batches accepted, %d refused with 503 (%d with Retry-After); /readyz %d %s; %d MiB free",
		accepted, refused, withRetryAfter, status, strings.TrimSpace(string(ready)), freeBytes(t, dir)>>20)
	for _, l := range p.MetricLines(ctx, "tally_disk") {
		t.Log(l)
	}
	if refused == 0 {
		t.Error("no request was refused with the disk full")
	}
	if withRetryAfter != refused {
		t.Errorf("%d of %d 503 answers lacked Retry-After", refused-withRetryAfter, refused)
	}
	if !p.Running() {
		t.Fatal("tally exited with the disk full")
	}

	// Space returns: events are taken again.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	if err := hs.Send(ctx, gen.Batch(100)); err != nil {
		t.Fatalf("after freeing the disk: %v", err)
	}
	t.Logf("accepting again %s after the filler was removed", time.Since(begin).Round(time.Millisecond))
	for sent := 0; sent < events/2; sent += 100 {
		if err := hs.Send(ctx, gen.Batch(100)); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range retry {
		if err := hs.Send(ctx, b); err != nil {
			t.Fatalf("resending a refused batch: %v", err)
		}
	}
	WaitDrained(t, ctx, p.NATSURL())
	ch := OpenClickHouse(t, p.ClickHouseDSN())
	CheckStored(t, ctx, ch, ledger)
}
