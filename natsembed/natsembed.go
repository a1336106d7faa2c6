// Package natsembed runs a NATS server with JetStream inside the Tally
// process. It is the default when no external NATS URL is configured: the
// JetStream store lives in the data dir, so streams and consumer state survive
// a restart of the process. With a Cluster config the server is one node of
// a JetStream cluster (the e2e tests run three of them on loopback).
package natsembed

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"
)

// ErrNotReady is returned when the embedded server does not accept
// connections within the start timeout.
var ErrNotReady = errors.New("embedded nats server not ready")

// Config configures the embedded server.
type Config struct {
	// StoreDir is the JetStream file store directory. Required.
	StoreDir string
	// ListenAddr is host:port for client connections. Port 0 picks a free
	// port. Default 127.0.0.1:4222.
	ListenAddr string
	// MaxStore caps JetStream file storage in bytes (0 = server default:
	// a share of the free disk).
	MaxStore int64
	// MaxMemory caps JetStream memory storage in bytes. Default 256 MiB.
	MaxMemory int64
	// StartTimeout bounds the wait for readiness. Default 30s.
	StartTimeout time.Duration
	// ServerName names the server (default "tally-embedded"). Every node of
	// a cluster needs its own.
	ServerName string
	// Cluster makes the server one node of a JetStream cluster (optional).
	Cluster *ClusterConfig
	Logger  zerolog.Logger
}

// ClusterConfig joins the server to a NATS cluster. JetStream then runs
// clustered: streams with Replicas 3 keep working while one of three nodes
// is down.
type ClusterConfig struct {
	// Name of the cluster, the same on every node. Required.
	Name string
	// ListenAddr is host:port for route connections from the other nodes.
	// Required; port 0 picks a free port (only useful for a node that
	// others will not dial).
	ListenAddr string
	// Routes are the route URLs of the nodes to connect to, for example
	// nats-route://127.0.0.1:6222. Listing the node itself is harmless, so
	// every node can be given the same list.
	Routes []string
}

func (c *Config) setDefaults() {
	if c.ListenAddr == "" {
		c.ListenAddr = "127.0.0.1:4222"
	}
	if c.MaxMemory == 0 {
		c.MaxMemory = 256 << 20
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 30 * time.Second
	}
	if c.ServerName == "" && c.Cluster == nil {
		c.ServerName = "tally-embedded"
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.StoreDir == "" {
		return errors.New("natsembed: StoreDir is required")
	}
	if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		return fmt.Errorf("natsembed: listen address %q: %w", c.ListenAddr, err)
	}
	if c.Cluster != nil {
		if c.ServerName == "" {
			return errors.New("natsembed: a cluster node needs its own ServerName")
		}
		if c.Cluster.Name == "" {
			return errors.New("natsembed: cluster name is required")
		}
		if _, _, err := net.SplitHostPort(c.Cluster.ListenAddr); err != nil {
			return fmt.Errorf("natsembed: cluster listen address %q: %w", c.Cluster.ListenAddr, err)
		}
		for _, r := range c.Cluster.Routes {
			if _, err := routeURL(r); err != nil {
				return err
			}
		}
	}
	return nil
}

func routeURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("natsembed: route %q: %w", s, err)
	}
	if u.Scheme != "nats-route" && u.Scheme != "nats" {
		return nil, fmt.Errorf("natsembed: route %q: want nats-route://host:port", s)
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil {
		return nil, fmt.Errorf("natsembed: route %q: %w", s, err)
	}
	return u, nil
}

// hostPort splits addr into host and port, mapping port 0 to a random one.
func hostPort(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("natsembed: address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return "", 0, fmt.Errorf("natsembed: parsing port %q: %w", portStr, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// Server is a running embedded NATS server.
type Server struct {
	ns *server.Server
}

// Start starts the server and waits until it accepts connections.
func Start(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	host, port, err := hostPort(cfg.ListenAddr)
	if err != nil {
		return nil, err
	}
	opts := &server.Options{
		ServerName:         cfg.ServerName,
		Host:               host,
		Port:               port,
		JetStream:          true,
		StoreDir:           cfg.StoreDir,
		JetStreamMaxStore:  cfg.MaxStore,
		JetStreamMaxMemory: cfg.MaxMemory,
		NoSigs:             true,
		MaxPayload:         8 << 20,
	}
	if c := cfg.Cluster; c != nil {
		chost, cport, err := hostPort(c.ListenAddr)
		if err != nil {
			return nil, err
		}
		opts.Cluster = server.ClusterOpts{Name: c.Name, Host: chost, Port: cport}
		for _, r := range c.Routes {
			u, _ := routeURL(r) // checked by Validate
			opts.Routes = append(opts.Routes, u)
		}
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsembed: creating server: %w", err)
	}
	ns.SetLoggerV2(&logAdapter{log: cfg.Logger.With().Str("component", "nats").Logger()}, false, false, false)
	go ns.Start()
	if !ns.ReadyForConnections(cfg.StartTimeout) {
		ns.Shutdown()
		return nil, ErrNotReady
	}
	return &Server{ns: ns}, nil
}

// ClientURL is the URL clients connect to.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// Name is the server name, as JetStream reports it (for example as the
// leader of a stream).
func (s *Server) Name() string { return s.ns.Name() }

// ClusterAddr is the address the node takes routes on, or nil when the
// server is not clustered.
func (s *Server) ClusterAddr() net.Addr {
	if a := s.ns.ClusterAddr(); a != nil {
		return a
	}
	return nil
}

// Shutdown stops the server and waits until it has flushed its store.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// logAdapter forwards the server's log lines to zerolog.
type logAdapter struct{ log zerolog.Logger }

func (l *logAdapter) Noticef(format string, v ...any) { l.log.Debug().Msgf(format, v...) }
func (l *logAdapter) Warnf(format string, v ...any)   { l.log.Warn().Msgf(format, v...) }
func (l *logAdapter) Fatalf(format string, v ...any)  { l.log.Error().Msgf(format, v...) }
func (l *logAdapter) Errorf(format string, v ...any)  { l.log.Error().Msgf(format, v...) }
func (l *logAdapter) Debugf(format string, v ...any)  { l.log.Trace().Msgf(format, v...) }
func (l *logAdapter) Tracef(format string, v ...any)  { l.log.Trace().Msgf(format, v...) }
