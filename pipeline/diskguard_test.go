package pipeline

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

func TestParseMinFree(t *testing.T) {
	const size = 200 << 30 // a 200 GiB file system
	for _, c := range []struct {
		in   string
		want uint64
	}{
		{"0", 0},
		{"1000", 1000},
		{"1000B", 1000},
		{"512MiB", 512 << 20},
		{"2GiB", 2 << 30},
		{" 3 TiB ", 3 << 40},
		{"5KB", 5000},
		{"2GB", 2_000_000_000},
		{"5%", 10 << 30},
		{"0.5%", 1 << 30},
	} {
		got, err := ParseMinFree(c.in, size)
		if err != nil || got != c.want {
			t.Errorf("ParseMinFree(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "x", "-1", "1.5GiB", "100%", "-2%", "12PiB", "20000000000TiB"} {
		if got, err := ParseMinFree(bad, size); err == nil {
			t.Errorf("ParseMinFree(%q) = %d, want an error", bad, got)
		}
	}
}

func TestDiskGuard(t *testing.T) {
	dir := t.TempDir()
	free, size, err := statFS(dir)
	if err != nil {
		t.Fatal(err)
	}

	off, err := NewDiskGuard(DiskGuardConfig{Dir: dir, MinFree: "0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := off.Admit(); err != nil || off.StoreLimit(123) != 0 {
		t.Errorf("guard off: Admit %v, StoreLimit %d; want nil and 0", err, off.StoreLimit(123))
	}

	// The default minimum is the smaller of 1 GiB and 5 %.
	def, err := NewDiskGuard(DiskGuardConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if want := min(uint64(1<<30), size/20); def.MinFree() != want {
		t.Errorf("default minimum %d, want %d (file system of %d bytes)", def.MinFree(), want, size)
	}

	// More than the file system can have free: refused from the start.
	full, err := NewDiskGuard(DiskGuardConfig{Dir: dir, MinFree: "1000000TiB", Interval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := full.Admit(); !errors.Is(err, ErrDiskLow) {
		t.Errorf("Admit below the minimum: %v, want ErrDiskLow", err)
	}
	if full.StoreLimit(123) != 0 {
		t.Errorf("StoreLimit below the minimum: %d, want 0", full.StoreLimit(123))
	}

	// A small minimum: admitted, and JetStream may use what it has plus
	// the free space less the minimum (free space moves a little between
	// two statfs calls, so within 64 MiB).
	ok, err := NewDiskGuard(DiskGuardConfig{Dir: dir, MinFree: "1MiB"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ok.Admit(); err != nil && free > 2<<20 {
		t.Errorf("Admit with %d bytes free and a 1 MiB minimum: %v", free, err)
	}
	if got, want := ok.StoreLimit(1000), int64(1000+free-(1<<20)); got < want-(64<<20) || got > want+(64<<20) {
		t.Errorf("StoreLimit(1000) = %d, want about %d", got, want)
	}

	// The guard follows the state it reads.
	ok.set(512<<10, size)
	if err := ok.Admit(); !errors.Is(err, ErrDiskLow) {
		t.Errorf("Admit at 512 KiB free, 1 MiB minimum: %v", err)
	}
	ok.set(4<<20, size)
	if err := ok.Admit(); err != nil {
		t.Errorf("Admit at 4 MiB free, 1 MiB minimum: %v", err)
	}

	if _, err := NewDiskGuard(DiskGuardConfig{Dir: dir + "/missing"}); err == nil {
		t.Error("a guard on a missing directory: no error")
	}
}

// TestIngestRefusedByAdmit: while Admit refuses, valid events get 503 with
// Retry-After and are not published; invalid ones still get 400.
func TestIngestRefusedByAdmit(t *testing.T) {
	m := NewIngestMetrics(prometheus.NewRegistry())
	h, err := NewIngestHandler(IngestConfig{
		Publisher: &Publisher{}, // never reached: publishing would panic
		Admit:     func() error { return ErrDiskLow },
		Logger:    zerolog.Nop(),
		Metrics:   m,
	})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	valid := `[{"specversion":"1.0","id":"e1","source":"s","type":"ai.credits.consumed","subject":"t1","time":"` + now +
		`","data":{"credits":"1.5","feature":"tutor"}}]`
	post := func(body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/v1/events", strings.NewReader(body))
		req.Header.Set("Content-Type", ContentTypeBatch)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	w := post(valid)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "2" {
		t.Errorf("valid batch while refused: %d, Retry-After %q: %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if w := post(`[{"id":1}]`); w.Code != http.StatusBadRequest {
		t.Errorf("invalid batch while refused: %d, want 400", w.Code)
	}
}
