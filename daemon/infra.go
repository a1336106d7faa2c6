package daemon

// The parts under the domains: the keys file, NATS and the JetStream
// topology, ClickHouse and its migrations, the profiling endpoint,
// readiness.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/tally-billing/tally/auth"
	"github.com/tally-billing/tally/chlocal"
	"github.com/tally-billing/tally/chstore"
	"github.com/tally-billing/tally/internal/retry"
	"github.com/tally-billing/tally/natsembed"
	"github.com/tally-billing/tally/pipeline"
)

func (d *Daemon) loadKeys() (*auth.Keyring, error) {
	path := d.cfg.KeysFile
	if path == "" {
		path = d.cfg.DevKeysPath()
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if _, err := auth.WriteDevFile(path); err != nil {
				return nil, err
			}
			d.log.Warn().Str("keys_file", path).Msg("created a dev keys file (loopback only); pass --keys-file in production")
		} else {
			d.log.Info().Str("keys_file", path).Msg("using the dev keys file")
		}
	}
	d.keysPath = path
	return auth.LoadFile(path)
}

func (d *Daemon) startNATS(ctx context.Context) error {
	url := d.cfg.NATSURL
	if url == "" {
		storeDir := filepath.Join(d.cfg.DataDir, "nats")
		// JetStream may grow by the free space less the disk guard's
		// minimum, so it stops (503 at ingest) before the disk is full.
		maxStore := d.disk.StoreLimit(dirSize(storeDir))
		srv, err := natsembed.Start(natsembed.Config{
			StoreDir:   storeDir,
			ListenAddr: d.cfg.NATSListen,
			MaxStore:   maxStore,
			Logger:     d.log,
		})
		if err != nil {
			return fmt.Errorf("starting embedded nats: %w", err)
		}
		d.natsSrv = srv
		url = srv.ClientURL()
		d.log.Info().Str("url", url).Int64("max_store_bytes", maxStore).Msg("embedded nats with jetstream started")
	}
	nc, err := nats.Connect(url,
		nats.Name("tally"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500*time.Millisecond),
		// No buffering while disconnected: a publish then fails at once and
		// ingest answers 503, instead of a 202 for bytes still in memory.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			d.log.Warn().Err(err).Msg("nats disconnected")
		}),
		nats.ReconnectHandler(func(*nats.Conn) { d.log.Info().Msg("nats reconnected") }),
	)
	if err != nil {
		return fmt.Errorf("connecting to nats: %w", err)
	}
	d.nc = nc
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("opening jetstream: %w", err)
	}
	d.js = js
	return d.applyTopology(ctx)
}

// applyTopology applies the JetStream topology, retrying for up to a
// minute: on a NATS cluster that has just formed, or lost a node,
// creating a replicated stream fails for a while ("insufficient
// resources", "temporarily unavailable"), and a replica should wait for
// it rather than exit. A topology that is not valid fails at once.
func (d *Daemon) applyTopology(ctx context.Context) error {
	if err := d.cfg.Topology.Validate(); err != nil {
		return err
	}
	tctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return retry.Until(tctx, d.log, "applying the JetStream topology", 250*time.Millisecond, 4*time.Second, func(ctx context.Context) error {
		return pipeline.ApplyTopology(ctx, d.js, d.cfg.Topology)
	})
}

func (d *Daemon) startClickHouse(ctx context.Context) error {
	dsn := d.cfg.ClickHouseDSN
	if dsn == "" {
		srv, err := chlocal.Start(ctx, chlocal.Config{
			LibPath:      d.cfg.ChdbLib,
			DataDir:      filepath.Join(d.cfg.DataDir, "clickhouse"),
			Executable:   d.cfg.LauncherExecutable,
			LauncherArgs: d.cfg.LauncherArgs,
			Env:          d.cfg.LauncherEnv,
			Logger:       d.log,
		})
		if err != nil {
			return fmt.Errorf("starting managed clickhouse: %w", err)
		}
		d.chSrv = srv
		dsn = srv.DSN()
		d.log.Info().Str("dsn", dsn).Str("log", srv.LogFile()).Msg("managed clickhouse started")
	}
	d.chDSN = dsn
	store, err := chstore.Open(ctx, chstore.Config{DSN: dsn, Cluster: d.cfg.ClickHouseCluster, Logger: d.log})
	if err != nil {
		return err
	}
	d.store = store
	if err := store.Migrate(ctx); err != nil {
		return fmt.Errorf("migrating clickhouse: %w", err)
	}
	return nil
}

// servePprof serves the profiling endpoints until ctx ends.
func (d *Daemon) servePprof(g *errgroup.Group, ctx context.Context) error {
	ln, err := net.Listen("tcp", d.cfg.PprofAddr)
	if err != nil {
		return fmt.Errorf("listening for pprof on %s: %w", d.cfg.PprofAddr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	g.Go(func() error {
		<-ctx.Done()
		return srv.Close()
	})
	g.Go(func() error {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serving pprof: %w", err)
		}
		return nil
	})
	d.log.Info().Str("addr", ln.Addr().String()).Msg("pprof serving")
	return nil
}

// ready reports whether events can be taken: JetStream must answer.
func (d *Daemon) ready(ctx context.Context) error {
	if !d.nc.IsConnected() {
		return errors.New("nats not connected")
	}
	if _, err := d.js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	return d.disk.Admit()
}

// dirSize is the size of the files under dir (0 if it does not exist).
func dirSize(dir string) uint64 {
	var n uint64
	_ = filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			if info, err := e.Info(); err == nil {
				n += uint64(info.Size())
			}
		}
		return nil
	})
	return n
}
