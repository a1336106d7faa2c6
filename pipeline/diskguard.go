package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// ErrDiskLow is what [DiskGuard.Admit] returns while the data dir's file
// system has less free space than the guard's minimum.
var ErrDiskLow = errors.New("free disk space below the minimum")

// Defaults of [DiskGuardConfig].
const (
	DefaultMinFreeBytes   = 1 << 30 // 1 GiB ...
	DefaultMinFreePercent = 5       // ... or 5 % of the file system, whichever is smaller
	DefaultDiskInterval   = 5 * time.Second
)

// DiskGuardConfig configures a [DiskGuard].
type DiskGuardConfig struct {
	// Dir is a directory on the file system to watch (the data dir).
	Dir string
	// MinFree is the free space below which ingest is refused: a size
	// ("512MiB", "2GiB", "1000000" bytes), a share of the file system
	// ("5%"), or "0" to turn the guard off. Empty: the smaller of 1 GiB and
	// 5 % of the file system.
	MinFree string
	// Interval is how often free space is read (statfs). Default 5s.
	Interval time.Duration
	Logger   zerolog.Logger
}

// DiskGuard watches the free space of the data dir's file system and makes
// ingest refuse new events (503 with Retry-After) while it is below a
// minimum, so that Tally never acknowledges an event it then cannot keep:
// a full disk makes JetStream fail its writes, and nats-server does not
// recover from a failed block write without a restart. Free space is read
// every Interval by [DiskGuard.Run], not per request.
type DiskGuard struct {
	cfg     DiskGuardConfig
	minFree uint64 // 0: off

	mu   sync.Mutex
	free uint64
	size uint64
	low  bool

	freeGauge, lowGauge, minGauge prometheus.Gauge
}

// ParseMinFree parses a minimum free space: a size with an optional unit
// (B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB), or a percentage of size.
func ParseMinFree(s string, size uint64) (uint64, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		pct, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || pct < 0 || pct >= 100 {
			return 0, fmt.Errorf("min free disk %q: want a percentage in [0, 100)", s)
		}
		return uint64(float64(size) * pct / 100), nil
	}
	units := []struct {
		suffix string
		mult   uint64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	mult := uint64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || (mult > 1 && n > (1<<63)/mult) {
		return 0, fmt.Errorf("min free disk %q: want a size such as 512MiB or 2GiB, or a percentage such as 5%%", s)
	}
	return n * mult, nil
}

// NewDiskGuard reads the file system once and returns the guard, already
// refusing if space is low.
func NewDiskGuard(cfg DiskGuardConfig) (*DiskGuard, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultDiskInterval
	}
	g := &DiskGuard{cfg: cfg,
		freeGauge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tally_disk_free_bytes", Help: "Free space of the data dir's file system (for unprivileged writers)."}),
		lowGauge:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "tally_disk_low", Help: "1 while free disk space is below the minimum and ingest answers 503."}),
		minGauge:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "tally_disk_min_free_bytes", Help: "Free disk space below which ingest answers 503 (0: guard off)."}),
	}
	free, size, err := statFS(cfg.Dir)
	if err != nil {
		return nil, err
	}
	if cfg.MinFree == "" {
		g.minFree = min(uint64(DefaultMinFreeBytes), size*DefaultMinFreePercent/100)
	} else if g.minFree, err = ParseMinFree(cfg.MinFree, size); err != nil {
		return nil, err
	}
	g.minGauge.Set(float64(g.minFree))
	g.set(free, size)
	return g, nil
}

func statFS(dir string) (free, size uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, fmt.Errorf("reading free space of %s: %w", dir, err)
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), nil
}

func (g *DiskGuard) set(free, size uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	low := g.minFree > 0 && free < g.minFree
	switch {
	case low && !g.low:
		g.cfg.Logger.Error().Str("dir", g.cfg.Dir).Uint64("free_bytes", free).Uint64("min_free_bytes", g.minFree).
			Msg("disk nearly full: refusing new events with 503 until space returns")
	case !low && g.low:
		g.cfg.Logger.Info().Str("dir", g.cfg.Dir).Uint64("free_bytes", free).Uint64("min_free_bytes", g.minFree).
			Msg("disk space back: taking events again")
	}
	g.free, g.size, g.low = free, size, low
	g.freeGauge.Set(float64(free))
	if low {
		g.lowGauge.Set(1)
	} else {
		g.lowGauge.Set(0)
	}
}

// Check reads the file system now.
func (g *DiskGuard) Check() error {
	free, size, err := statFS(g.cfg.Dir)
	if err != nil {
		return err
	}
	g.set(free, size)
	return nil
}

// Run checks every Interval until ctx ends. A failed read is logged and
// keeps the last state.
func (g *DiskGuard) Run(ctx context.Context) error {
	t := time.NewTicker(g.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := g.Check(); err != nil {
				g.cfg.Logger.Warn().Err(err).Msg("disk guard")
			}
		}
	}
}

// Admit returns an error wrapping [ErrDiskLow] while free space is below
// the minimum, nil otherwise.
func (g *DiskGuard) Admit() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.low {
		return fmt.Errorf("%w: %d bytes free in the data dir, minimum %d", ErrDiskLow, g.free, g.minFree)
	}
	return nil
}

// Collectors are the guard's gauges: tally_disk_free_bytes,
// tally_disk_min_free_bytes and tally_disk_low.
func (g *DiskGuard) Collectors() []prometheus.Collector {
	return []prometheus.Collector{g.freeGauge, g.minGauge, g.lowGauge}
}

// MinFree is the minimum in bytes (0: the guard is off).
func (g *DiskGuard) MinFree() uint64 { return g.minFree }

// StoreLimit is a cap for a store of used bytes on this file system that
// keeps the minimum free: used + free − minimum, as read at the last
// check; 0 when no such cap can be set (guard off, or already below the
// minimum: the guard refuses ingest then).
func (g *DiskGuard) StoreLimit(used uint64) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.minFree == 0 || g.free <= g.minFree {
		return 0
	}
	return int64(used + g.free - g.minFree)
}
