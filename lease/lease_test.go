package lease

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/tally-billing/tally/natsembed"
)

func TestLeaseElectsOneHolder(t *testing.T) {
	ctx := context.Background()
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), ListenAddr: "127.0.0.1:0", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)

	now := time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	a, err := New(ctx, js, Config{Key: "job", Holder: "a", TTL: time.Minute, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(ctx, js, Config{Key: "job", Holder: "b", TTL: time.Minute, Now: clock})
	if err != nil {
		t.Fatal(err)
	}

	ta, held, err := a.Acquire(ctx)
	if err != nil || !held {
		t.Fatalf("a: %v %v", held, err)
	}
	if _, held, _ := b.Acquire(ctx); held {
		t.Fatal("b took a lease a holds")
	}
	now = now.Add(30 * time.Second)
	ta2, held, err := a.Acquire(ctx) // renew
	if err != nil || !held || ta2 == ta {
		t.Fatalf("a renewing: token %d→%d held %v %v", ta, ta2, held, err)
	}
	if err := a.Check(ctx, ta); !errors.Is(err, ErrLost) {
		t.Fatalf("an old token must not pass the fence: %v", err)
	}
	if err := a.Check(ctx, ta2); err != nil {
		t.Fatalf("the current token: %v", err)
	}

	// a stops renewing: after the TTL b takes over and a's token is fenced.
	now = now.Add(61 * time.Second)
	tb, held, err := b.Acquire(ctx)
	if err != nil || !held {
		t.Fatalf("b after expiry: %v %v", held, err)
	}
	if err := a.Check(ctx, ta2); !errors.Is(err, ErrLost) {
		t.Fatalf("a's token after b took over: %v", err)
	}
	if _, held, _ := a.Acquire(ctx); held {
		t.Fatal("a took back a lease b holds")
	}

	// b releases at shutdown: a gets it at once.
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Check(ctx, tb); !errors.Is(err, ErrLost) {
		t.Fatalf("b's token after release: %v", err)
	}
	if _, held, _ := a.Acquire(ctx); !held {
		t.Fatal("a could not take a released lease")
	}
}
