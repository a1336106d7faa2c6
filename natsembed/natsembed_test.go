package natsembed

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/internal/testnet"
)

func TestValidate(t *testing.T) {
	ok := Config{StoreDir: "/tmp/x", ListenAddr: "127.0.0.1:0"}
	cluster := func(c ClusterConfig) Config {
		cfg := ok
		cfg.ServerName = "n1"
		cfg.Cluster = &c
		return cfg
	}
	for name, c := range map[string]struct {
		cfg  Config
		want string
	}{
		"single":         {ok, ""},
		"no store":       {Config{ListenAddr: "127.0.0.1:0"}, "StoreDir"},
		"bad listen":     {Config{StoreDir: "/tmp/x", ListenAddr: "nope"}, "listen address"},
		"cluster":        {cluster(ClusterConfig{Name: "c", ListenAddr: "127.0.0.1:0", Routes: []string{"nats-route://127.0.0.1:6222"}}), ""},
		"cluster noname": {cluster(ClusterConfig{ListenAddr: "127.0.0.1:0"}), "cluster name"},
		"cluster listen": {cluster(ClusterConfig{Name: "c", ListenAddr: "6222"}), "cluster listen"},
		"bad route":      {cluster(ClusterConfig{Name: "c", ListenAddr: "127.0.0.1:0", Routes: []string{"http://127.0.0.1:6222"}}), "route"},
		"route no port":  {cluster(ClusterConfig{Name: "c", ListenAddr: "127.0.0.1:0", Routes: []string{"nats-route://127.0.0.1"}}), "route"},
		"node unnamed": {Config{StoreDir: "/tmp/x", ListenAddr: "127.0.0.1:0",
			Cluster: &ClusterConfig{Name: "c", ListenAddr: "127.0.0.1:0"}}, "ServerName"},
	} {
		c.cfg.setDefaults()
		err := c.cfg.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want one about %q", name, err, c.want)
		}
	}
}

// TestThreeNodeCluster starts three clustered nodes on loopback, keeps an
// R3 stream, stops the stream's leader and checks that the two others
// elect a new one and keep every message, old and new.
func TestThreeNodeCluster(t *testing.T) {
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	clusterAddrs := []string{testnet.FreeAddr(t), testnet.FreeAddr(t), testnet.FreeAddr(t)}
	var routes []string
	for _, a := range clusterAddrs {
		routes = append(routes, "nats-route://"+a)
	}
	dir := t.TempDir()
	nodes := map[string]*Server{}
	var urls []string
	for i, ca := range clusterAddrs {
		name := fmt.Sprintf("n%d", i+1)
		s, err := Start(Config{
			StoreDir:   filepath.Join(dir, name),
			ListenAddr: "127.0.0.1:0",
			ServerName: name,
			Cluster:    &ClusterConfig{Name: "tally-test", ListenAddr: ca, Routes: routes},
			Logger:     log,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Shutdown)
		if s.Name() != name || s.ClusterAddr() == nil || s.ClusterAddr().String() != ca {
			t.Fatalf("node %s: name %q, cluster address %v, want %s", name, s.Name(), s.ClusterAddr(), ca)
		}
		nodes[name] = s
		urls = append(urls, s.ClientURL())
	}

	// A comma-separated list of every node, as Tally's --nats-url takes it.
	nc, err := nats.Connect(strings.Join(urls, ","), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stream jetstream.Stream
	retry(t, ctx, "creating an R3 stream", func(ctx context.Context) error {
		stream, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 3})
		return err
	})
	for i := range 10 {
		retry(t, ctx, "publishing", func(ctx context.Context) error {
			_, err := js.Publish(ctx, "t.x", []byte("m"), jetstream.WithMsgID(fmt.Sprint("before-", i)))
			return err
		})
	}
	var leader string
	retry(t, ctx, "reading the stream leader", func(ctx context.Context) error {
		info, err := stream.Info(ctx)
		if err != nil {
			return err
		}
		if info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) != 2 {
			return fmt.Errorf("cluster info %+v", info.Cluster)
		}
		leader = info.Cluster.Leader
		return nil
	})
	if nodes[leader] == nil {
		t.Fatalf("leader %q is none of the nodes", leader)
	}
	nodes[leader].Shutdown()

	for i := range 10 {
		retry(t, ctx, "publishing after the leader stopped", func(ctx context.Context) error {
			_, err := js.Publish(ctx, "t.x", []byte("m"), jetstream.WithMsgID(fmt.Sprint("after-", i)))
			return err
		})
	}
	retry(t, ctx, "reading the new leader", func(ctx context.Context) error {
		info, err := stream.Info(ctx)
		if err != nil {
			return err
		}
		if info.Cluster == nil || info.Cluster.Leader == "" || info.Cluster.Leader == leader {
			return fmt.Errorf("leader still %q", leader)
		}
		if info.State.Msgs != 20 {
			t.Fatalf("%d messages in the stream after the failover, want 20", info.State.Msgs)
		}
		return nil
	})
}

// retry calls f until it succeeds or ctx ends. Each call gets its own
// short deadline: a JetStream request sent while no leader is elected gets
// no answer.
func retry(t *testing.T, ctx context.Context, what string, f func(ctx context.Context) error) {
	t.Helper()
	for {
		actx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := f(actx)
		cancel()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
