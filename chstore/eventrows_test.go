package chstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/rs/zerolog"
	"pgregory.net/rapid"

	"github.com/tally-billing/tally/chlocal"
	"github.com/tally-billing/tally/chlocal/chlocaltest"
	"github.com/tally-billing/tally/consumers"
	"github.com/tally-billing/tally/schemas"
	"github.com/tally-billing/tally/schemas/schemastest"
)

var chServer *chlocal.Server

func TestMain(m *testing.M) { chlocaltest.Main(m, "chstore", &chServer) }

// newDatabase returns a store on a new, empty database of chServer,
// closed when t ends.
func newDatabase(t testing.TB) *Store {
	t.Helper()
	ctx := context.Background()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "rows_" + hex.EncodeToString(b[:])
	admin, err := Open(ctx, Config{DSN: chServer.DSN(), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, Config{DSN: strings.TrimSuffix(chServer.DSN(), "/default") + "/" + name, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// readBack reads the events stored at seqs through the typed scan.
func readBack(ctx context.Context, t interface {
	Helper()
	Fatal(...any)
}, s *Store, seqs []uint64) map[uint64]*schemas.Event {
	t.Helper()
	kctx, err := withKeys(ctx, "wanted", "UInt64", seqs)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := s.conn.Query(kctx, "SELECT "+eventColumns+" FROM events WHERE stream_seq IN (SELECT key FROM wanted)")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := scanEvents(rows)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[uint64]*schemas.Event, len(stored))
	for _, se := range stored {
		if out[se.Seq] != nil {
			t.Fatal(fmt.Sprintf("stream sequence %d read twice", se.Seq))
		}
		out[se.Seq] = se.Event
	}
	return out
}

// decoded is e as the sink has it: encoded by an emitter and decoded.
func decoded(t *rapid.T, e *schemas.Event) *schemas.Event {
	raw, err := schemas.Encode(e)
	if err != nil {
		t.Fatalf("encoding %+v: %v", e, err)
	}
	d, err := schemas.Decode(raw)
	if err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
	return d
}

// sameEvent reports how got, read from typed columns, differs from want,
// the decoded original. Raw is left out (nil when read from columns), and
// decimals compare by value: the columns store them with 9 fraction
// digits, so "1.5" reads back as 1.500000000 (fmt prints both 1.5). The
// content hash, which is defined on values, must be equal too.
func sameEvent(got, want *schemas.Event) string {
	if got == nil {
		return "not read back"
	}
	describe := func(e *schemas.Event) string {
		c := *e
		c.Raw, c.Data = nil, nil
		return fmt.Sprintf("%+v %+v", c, e.Data)
	}
	if g, w := describe(got), describe(want); g != w {
		return fmt.Sprintf("read back\n  %s\nstored\n  %s", g, w)
	}
	if got.ContentHash() != want.ContentHash() {
		return "content hashes differ"
	}
	return ""
}

// TestTypedRowsRoundTrip stores events of every type through the sink's
// insert and reads them back through the typed scan: each reads back as
// the event the sink decoded.
func TestTypedRowsRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := newDatabase(t)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var seq uint64
	rapid.Check(t, func(t *rapid.T) {
		var batch []consumers.EventRow
		want := map[uint64]*schemas.Event{}
		for _, typ := range schemas.Types() {
			n := rapid.IntRange(1, 3).Draw(t, "n "+string(typ))
			for i := range n {
				e := schemastest.EventOf(typ).Draw(t, fmt.Sprintf("%s %d", typ, i))
				seq++
				e.ID = fmt.Sprintf("%s#%d", e.ID, seq) // every row its own identity
				d := decoded(t, e)
				batch = append(batch, consumers.EventRow{Event: d, Hash: d.ContentHash(), StreamSeq: seq})
				want[seq] = d
			}
		}
		if err := s.Events().InsertEvents(ctx, batch, consumers.InsertToken("rows", batch)); err != nil {
			t.Fatal(err)
		}
		seqs := make([]uint64, 0, len(want))
		for q := range want {
			seqs = append(seqs, q)
		}
		got := readBack(ctx, t, s, seqs)
		if len(got) != len(want) {
			t.Fatalf("read back %d events, stored %d", len(got), len(want))
		}
		for q, w := range want {
			if diff := sameEvent(got[q], w); diff != "" {
				t.Fatalf("event at %d (%s): %s", q, w.Type, diff)
			}
		}
	})
}

// TestTypedRowsFromPayload stores events as Tally did before migration
// 0009 (the columns of 0001 and the payload), then applies 0009: every
// event reads back through the typed scan as it was decoded, its new
// columns computed from the payload by their DEFAULT expressions. A row
// inserted after 0009 without the new columns (a replica not upgraded
// yet) reads back the same way.
func TestTypedRowsFromPayload(t *testing.T) {
	ctx := context.Background()
	s := newDatabase(t)
	migs, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	apply := func(before bool) {
		for _, m := range migs {
			if (m.Version < 9) != before {
				continue
			}
			for _, stmt := range m.Statements {
				if err := s.conn.Exec(ctx, stmt); err != nil {
					t.Fatalf("migration %d: %v", m.Version, err)
				}
			}
		}
	}
	apply(true)

	var seq uint64
	want := map[uint64]*schemas.Event{}
	insertOld := func() {
		var batch []*schemas.Event
		rapid.Check(t, func(rt *rapid.T) {
			for _, typ := range schemas.Types() {
				e := schemastest.EventOf(typ).Draw(rt, string(typ))
				e.ID = fmt.Sprintf("%s#%d", e.ID, len(batch))
				batch = append(batch, decoded(rt, e))
			}
		})
		// Drawn times span a century: allow one block so many partitions.
		ictx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_partitions_per_insert_block": 0}))
		b, err := s.conn.PrepareBatch(ictx, `INSERT INTO events
(source, id, type, subject, time, content_hash, credits, feature, model, user_id, seat_type, order_id, currency, amount, tax, payload, stream_seq)`)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range batch {
			seq++
			f := eventRowOf(e, seq) // the columns of 0001 are the ones they were
			h := e.ContentHash()
			if err := b.Append(e.Source, e.ID, string(e.Type), e.Subject, e.Time, string(h[:]), f.credits, f.feature, f.model,
				f.userID, f.seatType, f.orderID, f.currency, f.amount, f.tax, string(e.Raw), seq); err != nil {
				t.Fatal(err)
			}
			want[seq] = e
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	insertOld()
	apply(false)
	insertOld()

	seqs := make([]uint64, 0, len(want))
	for q := range want {
		seqs = append(seqs, q)
	}
	got := readBack(ctx, t, s, seqs)
	if len(got) != len(want) {
		t.Fatalf("read back %d events, stored %d", len(got), len(want))
	}
	for q, w := range want {
		if diff := sameEvent(got[q], w); diff != "" {
			t.Errorf("event at %d (%s, payload %s): %s", q, w.Type, w.Raw, diff)
		}
	}
}
