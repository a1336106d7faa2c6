package grafana_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/chstore"
)

// expectedColumns are the columns every panel returns, in order.
var expectedColumns = map[string][]string{
	"MRR and ARR, latest closed month in range":          {"period", "mrr", "arr"},
	"MRR by plan and term":                               {"time", "plan_term", "mrr"},
	"ARR by plan and term":                               {"time", "plan_term", "arr"},
	"MRR and ARR by month, plan and term":                {"period", "plan", "term", "tenants", "mrr", "arr"},
	"Billed in range":                                    {"billed", "invoices"},
	"Billed revenue by line kind":                        {"time", "line_kind", "amount"},
	"Billed revenue by period, plan, term and line kind": {"period", "plan", "term", "invoice_kind", "kind", "adjusts", "invoices", "tenants", "lines", "amount"},
	"Discounts":                          {"period", "plan", "term", "credit", "rate", "invoices", "tenants", "discounted_fees", "discount_given"},
	"AI credits by feature":              {"time", "feature", "credits"},
	"AI credits by feature and model":    {"feature", "model", "tenants", "events", "credits"},
	"AI allowance and overage by month":  {"period", "tenants", "credits_consumed", "allowance_used", "from_packs", "overage_credits", "overage_billed"},
	"Marketplace in range":               {"gmv", "refunds", "net", "platform_fee", "take_rate"},
	"GMV, net, platform fee and refunds": {"time", "gmv", "net", "platform_fee", "provider_share", "refunds"},
	"Marketplace by month":               {"period", "sales", "refund_count", "gmv", "refunds", "tax", "net", "platform_fee", "provider_share", "take_rate"},
	"Owed to providers now":              {"owed_to_providers", "held", "available", "negative_balance"},
	"Provider liabilities":               {"provider", "as_of_period", "held", "available", "paid", "owed_to_providers", "negative_balance"},
	"Invoices issued in range by status": {"status", "invoice_kind", "invoices", "total", "not_in_stripe"},
	"Latest invoices": {"issued_at", "invoice_id", "tenant", "period", "invoice_kind", "plan", "term", "total", "status",
		"status_reason", "stripe_customer_id", "stripe_invoice_id"},
	"Latest payouts": {"as_of", "payout_id", "provider", "amount", "status", "status_reason", "account", "stripe_transfer_id", "failed_at"},
	"Unbilled usage": {"period", "tenant", "period_closed", "ai_events", "ai_credits", "seat_events", "pack_events"},
}

// The seeded data (USD unless said otherwise), and what the panels must show
// for October–December 2026, worked by hand from docs/finance.md:
//
//   - tenant-a: subscription.started team/monthly 2026-10-20; 6,000 AI
//     credits (tutor, gpt-4o) in November; monthly invoice 2026-11 issued
//     2026-12-01: base:team 199.00 and ai_overage 20.00 (1,000 credits over
//     5,000 included), send_failed (card declined), no Stripe invoice.
//   - tenant-b: business/annual from 2026-10-05; upfront invoice issued that
//     day: base 12 × 1,299.00 = 15,588.00, discount:annual 20 % = −3,117.60,
//     net 12,470.40, sent (in_up_b). MRR 12,470.40 ÷ 12 = 1,039.20 in every
//     month October 2026 – September 2027.
//   - tenant-c: 100 AI credits (search, no model) in November, no invoice:
//     unbilled in a closed month.
//   - tenant-d: a draft invoice of 999.00 for 2026-11 (drafts count nowhere).
//   - closed_periods: 2026-11.
//   - prov-x (USD): order o-1 on 2026-11-03, gross 59.00, tax 9.00, fee
//     7.50, share 42.50 held, released 2026-11-20, paid out 42.50 on
//     2026-11-30 (po-1, tr_1); order o-2 on 2026-11-25, gross 99.00, tax
//     15.00, fee 12.60, share 71.40 held.
//     GMV 158.00, net 158 − 24 = 134.00, fee 20.10, take rate 0.15; owed now:
//     held 71.40, available 42.50 − 42.50 = 0.
//   - prov-y (EUR): order o-3 gross 49.00, tax 7.82, fee 6.18, share 35.00
//     held: only the currency variable's list and the EUR view show it.
//
// MRR of the latest closed month (2026-11): team 199.00 + business 1,039.20
// = 1,238.20; ARR 14,858.40. Billed with periods in range: 12,470.40 +
// 219.00 = 12,689.40 on 2 invoices.
var expectedRows = map[string][]string{
	"MRR and ARR, latest closed month in range": {"2026-11 1238.2 14858.4"},
	"MRR by plan and term": {
		"2026-10-01T00:00:00Z business / annual 1039.2",
		"2026-11-01T00:00:00Z business / annual 1039.2",
		"2026-11-01T00:00:00Z team / monthly 199",
		"2026-12-01T00:00:00Z business / annual 1039.2",
	},
	"MRR and ARR by month, plan and term": {
		"2026-12 business annual 1 1039.2 12470.4",
		"2026-11 business annual 1 1039.2 12470.4",
		"2026-11 team monthly 1 199 2388",
		"2026-10 business annual 1 1039.2 12470.4",
	},
	"Billed in range": {"12689.4 2"},
	"Billed revenue by period, plan, term and line kind": {
		"2026-11 team monthly monthly ai_overage  1 1 1 20",
		"2026-11 team monthly monthly base  1 1 1 199",
		"2026-10 business annual upfront base  1 1 1 15588",
		"2026-10 business annual upfront discount  1 1 1 -3117.6",
	},
	"Discounts": {"2026-10 business annual 0 0.2 1 1 15588 3117.6"},
	"AI credits by feature and model": {
		"tutor gpt-4o 1 1 6000",
		"search (none) 1 1 100",
	},
	"AI allowance and overage by month": {"2026-11 2 6100 5000 0 1000 20"},
	"Marketplace in range":              {"158 0 134 20.1 0.15"},
	"Marketplace by month":              {"2026-11 2 0 158 0 24 134 20.1 113.9 0.15"},
	"Owed to providers now":             {"71.4 71.4 0 0"},
	"Provider liabilities":              {"prov-x 2026-11 71.4 0 42.5 71.4 0"},
	"Invoices issued in range by status": {
		"send_failed monthly 1 219 1",
		"sent upfront 1 12470.4 0",
	},
	"Latest invoices": {
		"2026-12-01T00:00:00Z inv-a-2026-11 tenant-a 2026-11 monthly team monthly 219 send_failed card declined cus_a ",
		"2026-10-05T00:00:00Z inv-b-up tenant-b 2026-10 upfront business annual 12470.4 sent  cus_b in_up_b",
	},
	"Latest payouts": {"2026-11-30T00:00:00Z po-1 prov-x 42.5 paid  acct_x tr_1 "},
	"Unbilled usage": {"2026-11 tenant-c 1 1 100 0 0"},
}

// seed is the data described above.
var seed = []string{
	`INSERT INTO events (source, id, type, subject, time, content_hash, credits, feature, model, user_id, seat_type,
        order_id, currency, amount, tax, payload, stream_seq) VALUES
 ('billing', 'sub-a', 'subscription.started', 'tenant-a', '2026-10-20 00:00:00', 'hash-sub-a-00000', 0, '', '', '', '', '', '', 0, 0,
  '{"data":{"plan":"team","term":"monthly","currency":"USD"}}', 1),
 ('billing', 'sub-b', 'subscription.started', 'tenant-b', '2026-10-05 00:00:00', 'hash-sub-b-00000', 0, '', '', '', '', '', '', 0, 0,
  '{"data":{"plan":"business","term":"annual","currency":"USD"}}', 2),
 ('ai-tutor', 'ai-1', 'ai.credits.consumed', 'tenant-a', '2026-11-10 12:00:00', 'hash-ai-1-000000', 6000, 'tutor', 'gpt-4o', 'u-1', '', '', '', 0, 0, '{}', 3),
 ('search', 'ai-2', 'ai.credits.consumed', 'tenant-c', '2026-11-12 08:00:00', 'hash-ai-2-000000', 100, 'search', '', 'u-2', '', '', '', 0, 0, '{}', 4)`,
	`INSERT INTO invoices (invoice_id, tenant, period, kind, currency, price_book_version, subtotal, discount, total,
        status, status_reason, stripe_customer_id, stripe_invoice_id, issued_at, version) VALUES
 ('inv-a-2026-11', 'tenant-a', '2026-11', 'monthly', 'USD', 'v1', 219, 0, 219, 'finalized', '', '', '', '2026-12-01 00:00:00', 1),
 ('inv-a-2026-11', 'tenant-a', '2026-11', 'monthly', 'USD', 'v1', 219, 0, 219, 'send_failed', 'card declined', 'cus_a', '', '2026-12-01 00:00:00', 2),
 ('inv-b-up', 'tenant-b', '2026-10', 'upfront', 'USD', 'v1', 15588, 3117.6, 12470.4, 'sent', '', 'cus_b', 'in_up_b', '2026-10-05 00:00:00', 2),
 ('inv-d-2026-11', 'tenant-d', '2026-11', 'monthly', 'USD', 'v1', 999, 0, 999, 'draft', '', '', '', '2026-12-01 00:00:00', 1)`,
	// Lines as Tally writes them: the facts in their columns (the views
	// read those, never the description).
	`INSERT INTO invoice_lines (invoice_id, line_no, tenant, kind, item, adjusts, description, quantity, unit_price, amount, period, flags,
        plan, term, meter, used, included, from_packs) VALUES
 ('inv-a-2026-11', 1, 'tenant-a', 'base', 'base:team', '', 'team base fee 2026-11', 1, 199, 199, '2026-11', [],
  'team', 'monthly', 'subscription', 0, 0, 0),
 ('inv-a-2026-11', 2, 'tenant-a', 'ai_overage', 'ai_overage', '', 'AI credits 2026-11: 6000 consumed, 5000 included, 0 from packs, 1000 over', 1000, 0.02, 20, '2026-11', [],
  'team', 'monthly', 'ai_credits', 6000, 5000, 0),
 ('inv-b-up', 1, 'tenant-b', 'base', 'base:business', '', 'business base fee (annual term), 2026-10-05 to 2027-10-05', 12, 1299, 15588,
  '2026-10-05T00:00:00Z/2027-10-05T00:00:00Z', [], 'business', 'annual', 'subscription', 0, 0, 0),
 ('inv-b-up', 2, 'tenant-b', 'discount', 'discount:annual', '', 'annual term discount 20 % on recurring fees', 15588, -0.2, -3117.6,
  '2026-10-05T00:00:00Z/2027-10-05T00:00:00Z', [], 'business', 'annual', 'subscription', 0, 0, 0),
 ('inv-d-2026-11', 1, 'tenant-d', 'base', 'base:team', '', 'draft', 1, 999, 999, '2026-11', [], 'team', 'monthly', 'subscription', 0, 0, 0)`,
	`INSERT INTO closed_periods (period, closed_at, invoices) VALUES ('2026-11', '2026-12-01 00:10:00', 1)`,
	`INSERT INTO ledger (entry_id, provider, currency, kind, bucket, amount, at, order_id, refund_id, payout_id, revises) VALUES
 ('e1', 'prov-x', 'USD', 'sale', '', 59, '2026-11-03 10:00:00', 'o-1', '', '', ''),
 ('e2', 'prov-x', 'USD', 'tax', '', 9, '2026-11-03 10:00:00', 'o-1', '', '', ''),
 ('e3', 'prov-x', 'USD', 'fee', '', 7.5, '2026-11-03 10:00:00', 'o-1', '', '', ''),
 ('e4', 'prov-x', 'USD', 'share', 'held', 42.5, '2026-11-03 10:00:00', 'o-1', '', '', ''),
 ('e5', 'prov-x', 'USD', 'hold_release', 'available', 42.5, '2026-11-20 10:00:00', 'o-1', '', '', ''),
 ('e6', 'prov-x', 'USD', 'sale', '', 99, '2026-11-25 10:00:00', 'o-2', '', '', ''),
 ('e7', 'prov-x', 'USD', 'tax', '', 15, '2026-11-25 10:00:00', 'o-2', '', '', ''),
 ('e8', 'prov-x', 'USD', 'fee', '', 12.6, '2026-11-25 10:00:00', 'o-2', '', '', ''),
 ('e9', 'prov-x', 'USD', 'share', 'held', 71.4, '2026-11-25 10:00:00', 'o-2', '', '', ''),
 ('e10', 'prov-y', 'EUR', 'sale', '', 49, '2026-11-05 10:00:00', 'o-3', '', '', ''),
 ('e11', 'prov-y', 'EUR', 'tax', '', 7.82, '2026-11-05 10:00:00', 'o-3', '', '', ''),
 ('e12', 'prov-y', 'EUR', 'fee', '', 6.18, '2026-11-05 10:00:00', 'o-3', '', '', ''),
 ('e13', 'prov-y', 'EUR', 'share', 'held', 35, '2026-11-05 10:00:00', 'o-3', '', '', '')`,
	`INSERT INTO payouts (payout_id, provider, currency, amount, as_of, account, status, status_reason, stripe_transfer_id, failed_at, version) VALUES
 ('po-1', 'prov-x', 'USD', 42.5, '2026-11-30 00:00:00', 'acct_x', 'pending', '', '', 0, 1),
 ('po-1', 'prov-x', 'USD', 42.5, '2026-11-30 00:00:00', 'acct_x', 'paid', '', 'tr_1', 0, 2)`,
	`INSERT INTO payout_statement_lines (payout_id, line_no, kind, ref, description, at, amount) VALUES
 ('po-1', 1, 'sale', 'o-1', 'o-1 share', '2026-11-03 10:00:00', 42.5)`,
}

// newDatabase creates a database with Tally's migrations and the seed.
func newDatabase(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "grafana_" + hex.EncodeToString(b[:])
	st, err := chstore.Open(ctx, chstore.Config{DSN: chServer.DSN()})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Conn().Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	st.Close()
	dsn := strings.TrimSuffix(chServer.DSN(), "/default") + "/" + name
	st, err = chstore.Open(ctx, chstore.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrating: %v", err)
	}
	for i, q := range seed {
		if err := st.Conn().Exec(ctx, q); err != nil {
			t.Fatalf("seed statement %d: %v", i+1, err)
		}
	}
	return name
}

// connect opens a connection the way the provisioned data source does, with
// the file's environment references set to the test server.
func connect(t *testing.T, database string) driver.Conn {
	t.Helper()
	opts, err := clickhouse.ParseDSN(chServer.DSN())
	if err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(opts.Addr[0])
	if err != nil {
		t.Fatal(err)
	}
	s := loadDatasource(t, map[string]string{
		"CLICKHOUSE_HOST": host, "CLICKHOUSE_PORT": port, "CLICKHOUSE_PROTOCOL": "native", "CLICKHOUSE_SECURE": "false",
		"CLICKHOUSE_DATABASE": database, "CLICKHOUSE_USER": "default", "CLICKHOUSE_PASSWORD": "",
	})
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:     []string{net.JoinHostPort(s.Host, strconv.FormatInt(s.Port, 10))},
		Protocol: clickhouse.Native,
		Auth:     clickhouse.Auth{Database: s.Database, Username: s.User, Password: s.Password},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

type result struct {
	columns []string
	types   []string
	rows    []string // each row's values joined by spaces
}

func query(ctx context.Context, conn driver.Conn, sql string) (result, error) {
	var r result
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return r, err
	}
	defer rows.Close()
	cts := rows.ColumnTypes()
	for _, ct := range cts {
		r.columns = append(r.columns, ct.Name())
		r.types = append(r.types, ct.DatabaseTypeName())
	}
	for rows.Next() {
		vals := make([]any, len(cts))
		for i, ct := range cts {
			vals[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(vals...); err != nil {
			return r, err
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = formatValue(reflect.ValueOf(v).Elem().Interface())
		}
		r.rows = append(r.rows, strings.Join(parts, " "))
	}
	return r, rows.Err()
}

func formatValue(v any) string {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return "NULL"
		}
		return formatValue(rv.Elem().Interface())
	}
	switch x := v.(type) {
	case decimal.Decimal:
		return x.String()
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	default:
		return fmt.Sprint(x)
	}
}

// The time range the figures are worked for: October–December 2026, as the
// time picker sends it (to = the last second of December), and a range with
// none of the seeded data.
var (
	rangeFrom = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	rangeTo   = time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC)
	emptyFrom = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	emptyTo   = time.Date(2020, 3, 31, 23, 59, 59, 0, time.UTC)
)

func TestDashboardQueriesOnTallySchema(t *testing.T) {
	d := loadDashboard(t)
	db := newDatabase(t)
	conn := connect(t, db)
	ctx := context.Background()
	vars := map[string]string{"currency": "USD"}

	// The currency variable lists the currencies of invoices and sales.
	for _, v := range d.Templating.List {
		sql, _ := v.Query.(string)
		r, err := query(ctx, conn, expandMacros(sql, rangeFrom, rangeTo, vars))
		if err != nil {
			t.Fatalf("variable %s: %v\n%s", v.Name, err, sql)
		}
		if v.Name == "currency" && !slices.Equal(r.rows, []string{"EUR", "USD"}) {
			t.Errorf("currency variable lists %q, want EUR and USD", r.rows)
		}
	}

	for _, p := range queryPanels(d) {
		for _, tg := range p.Targets {
			sql := expandMacros(tg.RawSQL, rangeFrom, rangeTo, vars)
			if strings.Contains(sql, "$") {
				t.Errorf("panel %q: unexpanded reference left in\n%s", p.Title, sql)
				continue
			}
			r, err := query(ctx, conn, sql)
			if err != nil {
				t.Errorf("panel %q: %v\n%s", p.Title, err, sql)
				continue
			}
			if want := expectedColumns[p.Title]; !slices.Equal(r.columns, want) {
				t.Errorf("panel %q: columns %q, want %q", p.Title, r.columns, want)
			}
			// Money stays decimal up to Grafana: no Float column anywhere.
			for i, typ := range r.types {
				if strings.Contains(typ, "Float") {
					t.Errorf("panel %q: column %s is %s; money must stay Decimal", p.Title, r.columns[i], typ)
				}
			}
			if p.Type == "timeseries" && (len(r.types) == 0 || !strings.HasPrefix(r.types[0], "DateTime")) {
				t.Errorf("panel %q: a time series needs a DateTime first column, got %q", p.Title, r.types)
			}
			if len(r.rows) == 0 {
				t.Errorf("panel %q: no rows on the seeded data", p.Title)
			}
			if want, ok := expectedRows[p.Title]; ok && !slices.Equal(r.rows, want) {
				t.Errorf("panel %q:\n got  %q\n want %q", p.Title, r.rows, want)
			}

			// Outside the seeded months the time-bound panels are empty
			// (stats: zero), so they do follow the time range.
			if slices.Contains(notTimeBound, p.Title) {
				continue
			}
			e, err := query(ctx, conn, expandMacros(tg.RawSQL, emptyFrom, emptyTo, vars))
			if err != nil {
				t.Errorf("panel %q, empty range: %v", p.Title, err)
				continue
			}
			if p.Type != "stat" {
				if len(e.rows) != 0 {
					t.Errorf("panel %q: %d rows for 2020, want none: %q", p.Title, len(e.rows), e.rows)
				}
				continue
			}
			for _, row := range e.rows {
				for _, f := range strings.Fields(row) {
					if n, err := decimal.NewFromString(f); err == nil && !n.IsZero() {
						t.Errorf("panel %q: %q for 2020, want zeros", p.Title, row)
					}
				}
			}
		}
	}

	// The currency variable filters: EUR shows prov-y's sale only.
	for _, p := range queryPanels(d) {
		if p.Title != "Marketplace in range" {
			continue
		}
		r, err := query(ctx, conn, expandMacros(p.Targets[0].RawSQL, rangeFrom, rangeTo, map[string]string{"currency": "EUR"}))
		if err != nil {
			t.Fatal(err)
		}
		// net 49 − 7.82 = 41.18; take rate 6.18 ÷ 41.18 = 0.150072850 (9
		// decimals, truncated as ClickHouse divides decimals).
		if want := []string{"49 0 41.18 6.18 0.15007285"}; !slices.Equal(r.rows, want) {
			t.Errorf("EUR marketplace: %q, want %q", r.rows, want)
		}
	}
}
