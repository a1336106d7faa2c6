package chstore

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/schemas"
)

// The events table holds every field of an event as a typed column
// (migrations 0001, 0009 and 0012). This file is the one mapping between an
// event and its row: the sink writes the columns of eventRowOf, and every
// query that reads events back selects eventColumns and builds the event
// with eventRow.event, without decoding `payload`.

// eventColumns are the columns of an event row, in the order of
// eventRow.fields. A query reading events selects them
// ("SELECT " + eventColumns + " FROM events ...") and scans with scanEvents.
var eventColumns = strings.Join(eventColumnNames, ", ")

var eventColumnNames = []string{
	"stream_seq", "source", "id", "type", "subject", "time",
	"credits", "feature", "model", "user_id", "ai_provider", // ai.credits.consumed
	"pack_id", "currency", "amount", // ai.credits.pack_purchased (credits, price in amount)
	"seat_type",                                                         // seat.* (user_id)
	"plan", "term", "term_years", "committed_seats", "addons", "reason", // subscription.* (currency)
	"order_id", "buyer_id", "course_id", "tax", "refund_id", // marketplace.* (currency, amount)
	"stripe_account",              // provider.kyc.* (reason)
	"flag", "enabled", "provider", // tenant.feature_flag.set; marketplace.seller.* (tenant.ai_cap.set: credits)
}

// marketplaceColumns are eventColumns for a query reading only
// marketplace events (sales, refunds, KYC changes): a column none of them
// uses is not read but selected as its empty value, which is what such a
// row holds there. A read of a few rows spread over many parts costs a
// file and a block per column and part, so the fewer the better.
var marketplaceColumns = func() string {
	unused := map[string]string{
		"credits": "toDecimal128(0, 9)", "feature": "''", "model": "''", "user_id": "''", "ai_provider": "''",
		"pack_id": "''", "seat_type": "''", "plan": "''", "term": "''", "term_years": "toUInt8(0)",
		"committed_seats": "CAST(map(), 'Map(LowCardinality(String), Int64)')", "addons": "CAST([], 'Array(String)')",
	}
	cols := make([]string, len(eventColumnNames))
	for i, name := range eventColumnNames {
		cols[i] = name
		if empty, ok := unused[name]; ok {
			cols[i] = empty + " AS " + name
		}
	}
	return strings.Join(cols, ", ")
}()

// eventInsert is the sink's insert: the row's columns, then what only the
// sink writes.
var eventInsert = "INSERT INTO events (" + eventColumns + ", content_hash, payload)"

// eventRow is one row of the events table as Go values. Columns a type
// does not use hold their zero value.
type eventRow struct {
	seq                                uint64
	source, id, typ, subject           string
	time                               time.Time
	credits, amount, tax               decimal.Decimal
	feature, model, userID, aiProvider string
	packID, currency, seatType         string
	plan, term                         string
	termYears                          uint8
	committedSeats                     map[string]int64
	addons                             []string
	reason, orderID, buyerID, courseID string
	refundID, stripeAccount            string
	flag, provider                     string
	enabled                            uint8
}

// fields returns a pointer to each field, in the order of
// eventColumnNames: the destinations of a scan and the sources of an
// insert.
func (r *eventRow) fields() []any {
	return []any{
		&r.seq, &r.source, &r.id, &r.typ, &r.subject, &r.time,
		&r.credits, &r.feature, &r.model, &r.userID, &r.aiProvider,
		&r.packID, &r.currency, &r.amount,
		&r.seatType,
		&r.plan, &r.term, &r.termYears, &r.committedSeats, &r.addons, &r.reason,
		&r.orderID, &r.buyerID, &r.courseID, &r.tax, &r.refundID,
		&r.stripeAccount,
		&r.flag, &r.enabled, &r.provider,
	}
}

// eventRowOf is the row of e, stored at stream sequence seq.
func eventRowOf(e *schemas.Event, seq uint64) eventRow {
	r := eventRow{seq: seq, source: e.Source, id: e.ID, typ: string(e.Type), subject: e.Subject, time: e.Time}
	switch d := e.Data.(type) {
	case *schemas.AICreditsConsumed:
		r.credits, r.feature, r.model, r.userID, r.aiProvider = d.Credits, string(d.Feature), d.Model, d.UserID, d.Provider
	case *schemas.AIPackPurchased:
		r.packID, r.credits, r.currency, r.amount = d.PackID, d.Credits, d.Currency.Code, d.Price
	case *schemas.SeatChange:
		r.userID, r.seatType = d.UserID, string(d.SeatType)
	case *schemas.Subscription:
		r.plan, r.term, r.termYears, r.currency, r.addons = d.Plan, string(d.Term), uint8(d.TermYears), d.Currency.Code, d.Addons
		if d.CommittedSeats != nil {
			r.committedSeats = make(map[string]int64, len(d.CommittedSeats))
			for seat, n := range d.CommittedSeats {
				r.committedSeats[string(seat)] = n
			}
		}
	case *schemas.SubscriptionCanceled:
		r.reason = d.Reason
	case *schemas.SaleCompleted:
		r.orderID, r.buyerID, r.courseID, r.currency, r.amount, r.tax = d.OrderID, d.BuyerID, d.CourseID, d.Currency.Code, d.Gross, d.Tax
	case *schemas.RefundIssued:
		r.orderID, r.refundID, r.currency, r.amount = d.OrderID, d.RefundID, d.Currency.Code, d.Amount
	case *schemas.KYCVerified:
		r.stripeAccount = d.StripeAccount
	case *schemas.KYCRevoked:
		r.reason = d.Reason
	case *schemas.FeatureFlagSet:
		r.flag = d.Flag
		if d.Enabled {
			r.enabled = 1
		}
	case *schemas.AICapSet:
		r.credits = d.MonthlyCredits
	case *schemas.SellerEnrollment:
		r.provider = d.Provider
	}
	return r
}

// event builds the event the row holds. Raw is nil: the typed columns are
// read, never the payload. Decimals carry the columns' scale (9 fraction
// digits): the same values as the decoded event's, spelt with zeros.
func (r *eventRow) event() (*schemas.Event, error) {
	e := &schemas.Event{SpecVersion: schemas.SpecVersion, ID: r.id, Source: r.source, Type: schemas.Type(r.typ),
		Subject: r.subject, Time: r.time.UTC()}
	cur := func() (money.Currency, error) {
		c, err := money.LookupCurrency(r.currency)
		if err != nil {
			return money.Currency{}, fmt.Errorf("stored event %d (%s): %w", r.seq, r.typ, err)
		}
		return c, nil
	}
	var err error
	switch e.Type {
	case schemas.TypeAICreditsConsumed:
		e.Data = &schemas.AICreditsConsumed{Credits: r.credits, Feature: schemas.Feature(r.feature), UserID: r.userID,
			Model: r.model, Provider: r.aiProvider}
	case schemas.TypeAIPackPurchased:
		d := &schemas.AIPackPurchased{PackID: r.packID, Credits: r.credits, Price: r.amount}
		d.Currency, err = cur()
		e.Data = d
	case schemas.TypeSeatAssigned, schemas.TypeSeatReleased:
		e.Data = &schemas.SeatChange{UserID: r.userID, SeatType: schemas.SeatType(r.seatType)}
	case schemas.TypeSubscriptionStarted, schemas.TypeSubscriptionChanged:
		d := &schemas.Subscription{Plan: r.plan, Term: schemas.Term(r.term), TermYears: int32(r.termYears)}
		if len(r.committedSeats) > 0 {
			d.CommittedSeats = make(map[schemas.SeatType]int64, len(r.committedSeats))
			for seat, n := range r.committedSeats {
				d.CommittedSeats[schemas.SeatType(seat)] = n
			}
		}
		if len(r.addons) > 0 {
			d.Addons = slices.Clone(r.addons)
		}
		d.Currency, err = cur()
		e.Data = d
	case schemas.TypeSubscriptionCanceled:
		e.Data = &schemas.SubscriptionCanceled{Reason: r.reason}
	case schemas.TypeSaleCompleted:
		d := &schemas.SaleCompleted{OrderID: r.orderID, BuyerID: r.buyerID, CourseID: r.courseID, Gross: r.amount, Tax: r.tax}
		d.Currency, err = cur()
		e.Data = d
	case schemas.TypeRefundIssued:
		d := &schemas.RefundIssued{OrderID: r.orderID, RefundID: r.refundID, Amount: r.amount}
		d.Currency, err = cur()
		e.Data = d
	case schemas.TypeKYCVerified:
		e.Data = &schemas.KYCVerified{StripeAccount: r.stripeAccount}
	case schemas.TypeKYCRevoked:
		e.Data = &schemas.KYCRevoked{Reason: r.reason}
	case schemas.TypeFeatureFlagSet:
		e.Data = &schemas.FeatureFlagSet{Flag: r.flag, Enabled: r.enabled == 1}
	case schemas.TypeAICapSet:
		e.Data = &schemas.AICapSet{MonthlyCredits: r.credits}
	case schemas.TypeSellerEnrolled, schemas.TypeSellerLeft:
		e.Data = &schemas.SellerEnrollment{Provider: r.provider}
	default:
		return nil, fmt.Errorf("stored event %d: unknown type %q", r.seq, r.typ)
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

// scanEvents scans rows selecting eventColumns (and nothing else) into
// stored events, in the rows' order, and closes rows.
func scanEvents(rows driver.Rows) ([]schemas.StoredEvent, error) {
	defer rows.Close()
	var out []schemas.StoredEvent
	var r eventRow
	dest := r.fields()
	for rows.Next() {
		r = eventRow{}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("scanning event: %w", err)
		}
		e, err := r.event()
		if err != nil {
			return nil, err
		}
		out = append(out, schemas.StoredEvent{Seq: r.seq, Event: e})
	}
	return out, rows.Err()
}

// eventBlock holds a block of event rows column by column: the driver's
// per-row Append converts every value through reflection, a column at a
// time it does not.
type eventBlock struct {
	cols             []any // a *[]T per column of eventColumnNames
	row              eventRow
	src              []any // row.fields()
	hashes, payloads []string
}

func newEventBlock(n int) *eventBlock {
	b := &eventBlock{hashes: make([]string, 0, n), payloads: make([]string, 0, n)}
	b.src = b.row.fields()
	b.cols = make([]any, len(b.src))
	for i, f := range b.src {
		switch f.(type) {
		case *string:
			b.cols[i] = ptr(make([]string, 0, n))
		case *uint64:
			b.cols[i] = ptr(make([]uint64, 0, n))
		case *uint8:
			b.cols[i] = ptr(make([]uint8, 0, n))
		case *time.Time:
			b.cols[i] = ptr(make([]time.Time, 0, n))
		case *decimal.Decimal:
			b.cols[i] = ptr(make([]decimal.Decimal, 0, n))
		case *map[string]int64:
			b.cols[i] = ptr(make([]map[string]int64, 0, n))
		case *[]string:
			b.cols[i] = ptr(make([][]string, 0, n))
		default:
			panic(fmt.Sprintf("chstore: event column %s of Go type %T has no column builder", eventColumnNames[i], f))
		}
	}
	return b
}

func ptr[T any](v T) *T { return &v }

// add appends the row of e, with its content hash and stream sequence.
func (b *eventBlock) add(e *schemas.Event, hash [16]byte, seq uint64) {
	b.row = eventRowOf(e, seq)
	for i, f := range b.src {
		switch v := f.(type) {
		case *string:
			appendTo(b.cols[i], *v)
		case *uint64:
			appendTo(b.cols[i], *v)
		case *uint8:
			appendTo(b.cols[i], *v)
		case *time.Time:
			appendTo(b.cols[i], *v)
		case *decimal.Decimal:
			appendTo(b.cols[i], *v)
		case *map[string]int64:
			m := *v
			if m == nil {
				m = noSeats // read only by the driver: one empty map for every row
			}
			appendTo(b.cols[i], m)
		case *[]string:
			s := *v
			if s == nil {
				s = []string{}
			}
			appendTo(b.cols[i], s)
		}
	}
	b.hashes = append(b.hashes, string(hash[:]))
	b.payloads = append(b.payloads, rawString(e.Raw))
}

// noSeats is the committed_seats value of every row without seats.
var noSeats = map[string]int64{}

// rawString is the payload as a string without copying it: an event's Raw
// is never written after decoding (schemas.Decode keeps its own copy of
// the input), and the driver copies the string into the block it sends.
func rawString(raw []byte) string {
	return unsafe.String(unsafe.SliceData(raw), len(raw))
}

func appendTo[T any](col any, v T) {
	c := col.(*[]T)
	*c = append(*c, v)
}

// send appends the block to batch (prepared with eventInsert) and sends it.
func (b *eventBlock) send(batch driver.Batch) error {
	cols := make([]any, 0, len(b.cols)+2)
	for _, c := range b.cols {
		cols = append(cols, deref(c))
	}
	return sendColumns(batch, "events", append(cols, b.hashes, b.payloads)...)
}

// deref turns a *[]T of newEventBlock into its []T.
func deref(col any) any {
	switch c := col.(type) {
	case *[]string:
		return *c
	case *[]uint64:
		return *c
	case *[]uint8:
		return *c
	case *[]time.Time:
		return *c
	case *[]decimal.Decimal:
		return *c
	case *[]map[string]int64:
		return *c
	case *[][]string:
		return *c
	}
	panic(fmt.Sprintf("chstore: no column of type %T", col))
}
