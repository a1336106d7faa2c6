package financetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tally-billing/tally/aggregators"
	"github.com/tally-billing/tally/aggregators/rating"
	"github.com/tally-billing/tally/billing"
	"github.com/tally-billing/tally/chlocal"
	"github.com/tally-billing/tally/chlocal/chlocaltest"
	"github.com/tally-billing/tally/chstore"
	"github.com/tally-billing/tally/chstore/chstoretest"
	"github.com/tally-billing/tally/internal/moneytest"
	"github.com/tally-billing/tally/pricebook"
	"github.com/tally-billing/tally/schemas"
)

var chServer *chlocal.Server

func TestMain(m *testing.M) { chlocaltest.Main(m, "financetest", &chServer) }

// migrated returns a store on a new database with every migration applied.
func migrated(t *testing.T) *chstore.Store {
	return chstoretest.Migrated(t, chServer, "finance")
}

// TestNoFinanceViewReadsDescription reads every finance view's definition
// as ClickHouse stores it after the migrations: none may name
// `description`. The views of 0004 did (so this test fails without 0006).
func TestNoFinanceViewReadsDescription(t *testing.T) {
	st := migrated(t)
	rows, err := st.Conn().Query(context.Background(), `
SELECT name, create_table_query FROM system.tables
WHERE database = currentDatabase() AND engine = 'View' AND name LIKE 'finance\\_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name, sql string
		if err := rows.Scan(&name, &sql); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
		if strings.Contains(strings.ToLower(sql), "description") {
			t.Errorf("view %s reads a description: %s", name, sql)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// The 13 views of docs/finance.md, so the check above saw them all.
	if len(names) != 13 {
		t.Errorf("%d finance views: %v", len(names), names)
	}
	migs, err := chstore.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	read := 0
	for _, m := range migs {
		for _, s := range m.Statements {
			if strings.HasPrefix(s, "CREATE VIEW IF NOT EXISTS finance_") && strings.Contains(s, "l.description") {
				read++
			}
		}
	}
	if read != 2 { // finance_mrr_tenants and finance_ai_allowance in 0004
		t.Errorf("0004 has %d views reading l.description, want 2: the check above proves nothing", read)
	}
}

var (
	book = pricebook.Default()
	d    = moneytest.D
	ts   = moneytest.TS
)

func seatsAt(at string, st schemas.SeatType, prefix string, n int) []aggregators.SeatEvent {
	var out []aggregators.SeatEvent
	for i := 1; i <= n; i++ {
		out = append(out, aggregators.SeatEvent{Time: ts(at), Assigned: true, UserID: fmt.Sprintf("%s-%d", prefix, i), SeatType: string(st)})
	}
	return out
}

func sub(at, plan string, term schemas.Term, kind rating.ChangeKind, learners, authors int64) rating.SubscriptionChange {
	s := schemas.Subscription{Plan: plan, Term: term, Currency: moneytest.Cur("USD")}
	if term != schemas.TermMonthly {
		s.CommittedSeats = map[schemas.SeatType]int64{schemas.SeatLearner: learners, schemas.SeatAuthor: authors}
	}
	return rating.SubscriptionChange{At: ts(at), Kind: kind, Subscription: s}
}

// ratedInvoices rates, with the real engine, every kind of line there is:
// SPEC §3's Team and Business examples, an upgrade with credit lines, packs
// with overage, and a late-credit adjustment.
func ratedInvoices(t *testing.T) []rating.Invoice {
	t.Helper()
	var out []rating.Invoice
	month := func(tenant string, subs []rating.SubscriptionChange, u rating.Usage, p string) rating.Invoice {
		per, err := rating.ParsePeriod(p)
		if err != nil {
			t.Fatal(err)
		}
		res, err := rating.RateMonth(book, tenant, subs, u, per)
		if err != nil {
			t.Fatal(err)
		}
		return res.Invoice
	}
	team := []rating.SubscriptionChange{sub("2026-11-01", "team", schemas.TermMonthly, rating.Started, 0, 0)}
	teamUse := rating.Usage{
		Seats:   append(seatsAt("2026-11-02", schemas.SeatLearner, "l", 15), seatsAt("2026-11-03", schemas.SeatAuthor, "a", 2)...),
		Credits: []rating.CreditUsage{{At: ts("2026-11-05"), Credits: d("6000")}},
	}
	closed := month("t-team", team, teamUse, "2026-11")
	out = append(out, closed)
	// 250.5 late credits: the overage adjustment on December's invoice.
	teamUse.Credits = append(teamUse.Credits, rating.CreditUsage{At: ts("2026-11-20"), Credits: d("250.5")})
	adj, err := rating.Adjustments(closed, nil, month("t-team", team, teamUse, "2026-11"))
	if err != nil || len(adj) != 1 {
		t.Fatalf("adjustments %v %+v", err, adj)
	}
	dec := month("t-team", team, rating.Usage{}, "2026-12")
	dec.Append(adj...)
	out = append(out, dec)

	biz := []rating.SubscriptionChange{sub("2026-11-01", "business", schemas.TermAnnual, rating.Started, 100, 10),
		sub("2027-05-01", "business", schemas.TermAnnual, rating.Changed, 150, 10)}
	prepaid, err := rating.RatePrepaid(book, "t-biz", biz, ts("2026-11-01"), ts("2027-06-01"))
	if err != nil || len(prepaid) != 2 {
		t.Fatalf("prepaid %v %+v", err, prepaid)
	}
	out = append(out, prepaid...)
	out = append(out, month("t-biz", biz, rating.Usage{
		Seats:   seatsAt("2026-11-02", schemas.SeatLearner, "l", 120),
		Credits: []rating.CreditUsage{{At: ts("2026-11-10"), Credits: d("30000")}},
	}, "2026-11"))

	out = append(out, month("t-packs", []rating.SubscriptionChange{sub("2026-10-01", "team", schemas.TermMonthly, rating.Started, 0, 0)},
		rating.Usage{
			Credits: []rating.CreditUsage{{At: ts("2026-11-10"), Credits: d("8000.5")}},
			Packs: []rating.PackPurchase{
				{At: ts("2026-10-20"), PackID: "a", Credits: d("1000"), Price: d("12.00"), Currency: moneytest.Cur("USD")},
				{At: ts("2026-11-03"), PackID: "b", Credits: d("1000"), Price: d("12.00"), Currency: moneytest.Cur("USD")},
			},
		}, "2026-11"))
	return out
}

// factsText prints the facts of a stored line.
func factsText(l billing.Line) string {
	return fmt.Sprintf("%s %s plan=%s term=%s seat=%s meter=%s used=%s included=%s committed=%s from_packs=%s pack=%s",
		l.Kind, l.Item, l.Plan, l.Term, l.SeatType, l.Meter, l.Used.String(), l.Included.String(), l.Committed.String(),
		l.FromPacks.String(), l.PackCredits.String())
}

// backfilled is what 0006's backfill can know of a line from its
// description and item: the facts the old views parsed and a few more,
// not the plan and term of lines other than base, discount and monthly
// add-ons.
func backfilled(l billing.Line) billing.Line {
	kind := l.Kind
	if kind == "adjustment" {
		kind = l.Adjusts
	}
	out := l
	if kind != "base" {
		out.Plan = ""
	}
	if kind != "base" && kind != "discount" && (kind != "addon" || strings.Contains(l.Period, "/")) {
		out.Term = ""
	}
	return out
}

// TestBackfillGivesOldLinesTheirFacts stores lines rated by the real
// engine without their facts, as Tally stored them before 0006, runs the
// migration's backfill and reads them back: each has the facts the engine
// gave it (as far as the backfill knows them), and a line stored with its
// facts is not touched.
func TestBackfillGivesOldLinesTheirFacts(t *testing.T) {
	ctx := context.Background()
	st := migrated(t)
	var old, want []billing.Invoice
	for i, r := range ratedInvoices(t) {
		inv := billing.Invoice{ID: fmt.Sprintf("inv-%d", i), Tenant: r.Tenant, Period: r.Period, Kind: string(r.Kind),
			Currency: r.Currency.Code, Status: billing.StatusFinalized, IssuedAt: r.IssuedAt, Total: r.Total}
		w := inv
		for _, l := range r.Lines {
			f := l.Facts
			bl := billing.Line{Kind: string(l.Kind), Item: l.Item, Description: l.Description, Quantity: l.Quantity,
				UnitPrice: l.UnitPrice, Amount: l.Amount, Period: l.Period, Flags: l.Flags, Adjusts: string(l.Adjusts)}
			inv.Lines = append(inv.Lines, bl)
			bl.Plan, bl.Term, bl.SeatType, bl.Meter = f.Plan, string(f.Term), string(f.SeatType), string(f.Meter)
			bl.Used, bl.Included, bl.Committed, bl.FromPacks, bl.PackCredits = f.Used, f.Included, f.Committed, f.FromPacks, f.PackCredits
			w.Lines = append(w.Lines, backfilled(bl))
		}
		old, want = append(old, inv), append(want, w)
	}
	// A line written after the migration, with a fact the backfill would
	// not find in its text: it must keep it.
	fresh := billing.Invoice{ID: "inv-fresh", Tenant: "t-fresh", Period: "2026-11", Kind: "monthly", Currency: "USD",
		Status: billing.StatusFinalized, IssuedAt: ts("2026-12-01"), Lines: []billing.Line{{Kind: "seats", Item: "seats:learner",
			Description: "written by hand", Quantity: d("1"), UnitPrice: d("4"), Amount: d("4"), Period: "2026-11",
			Plan: "team", Term: "monthly", SeatType: "learner", Meter: "seats", Used: d("1")}}}
	if err := st.Invoices().SaveInvoices(ctx, append(old, fresh)); err != nil {
		t.Fatal(err)
	}
	migs, err := chstore.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(migs, func(m chstore.Migration) bool { return m.Name == "line_facts" })
	if i < 0 {
		t.Fatal("no migration line_facts")
	}
	var backfill string
	for _, s := range migs[i].Statements {
		if strings.Contains(s, "UPDATE") && strings.Contains(s, "WHERE meter = ''") {
			backfill = s
		}
	}
	if backfill == "" {
		t.Fatal("no backfill statement in 0006")
	}
	if err := st.Conn().Exec(ctx, backfill); err != nil {
		t.Fatalf("backfill: %v", err)
	}
	got, err := st.Invoices().Invoices(ctx, billing.InvoiceFilter{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]billing.Invoice{}
	for _, inv := range got {
		byID[inv.ID] = inv
	}
	lines := 0
	for _, w := range append(want, fresh) {
		g := byID[w.ID]
		if len(g.Lines) != len(w.Lines) {
			t.Fatalf("%s: %d lines, want %d", w.ID, len(g.Lines), len(w.Lines))
		}
		for j := range w.Lines {
			lines++
			if a, b := factsText(g.Lines[j]), factsText(w.Lines[j]); a != b {
				t.Errorf("%s line %d:\n got  %s\n want %s\n description %q", w.ID, j+1, a, b, w.Lines[j].Description)
			}
		}
	}
	// Every line kind the engine makes must be among the lines checked.
	kinds := map[string]bool{}
	for _, inv := range want {
		for _, l := range inv.Lines {
			kinds[l.Kind] = true
		}
	}
	for _, k := range []string{"base", "seats", "ai_overage", "ai_pack", "committed_seats", "discount", "adjustment"} {
		if !kinds[k] {
			t.Errorf("no %s line among the %d lines checked", k, lines)
		}
	}
}
