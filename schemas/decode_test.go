package schemas_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tally-billing/tally/money"
	"github.com/tally-billing/tally/schemas"
)

// ev builds an event document with the given type and data.
func ev(typ, data string) string {
	return `{"specversion":"1.0","id":"evt-1","source":"svc/ai-tutor","type":"` + typ +
		`","subject":"tenant-42","time":"2026-11-03T10:15:00Z","data":` + data + `}`
}

// env builds an ai.credits.consumed event with the given envelope members
// (a JSON fragment, without braces) around a valid data object.
func env(members string) string {
	return `{` + members + `,"data":{"credits":"12.5","feature":"tutor"}}`
}

const validHead = `"specversion":"1.0","id":"evt-1","source":"svc/ai-tutor","type":"ai.credits.consumed","subject":"tenant-42","time":"2026-11-03T10:15:00Z"`

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func cur(t testing.TB, code string) money.Currency {
	t.Helper()
	c, err := money.LookupCurrency(code)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDecodeValid(t *testing.T) {
	usd, jpy, eur := cur(t, "USD"), cur(t, "JPY"), cur(t, "EUR")
	tests := []struct {
		name string
		raw  string
		typ  schemas.Type
		want schemas.Payload
	}{
		{"ai credits minimal", ev("ai.credits.consumed", `{"credits":"12.5","feature":"tutor"}`),
			schemas.TypeAICreditsConsumed, &schemas.AICreditsConsumed{Credits: d("12.5"), Feature: schemas.FeatureTutor}},
		{"ai credits full", ev("ai.credits.consumed", `{"credits":"0.000000001","feature":"co_author","user_id":"u-1","model":"gpt-x","provider":"openai"}`),
			schemas.TypeAICreditsConsumed, &schemas.AICreditsConsumed{Credits: d("0.000000001"), Feature: schemas.FeatureCoAuthor, UserID: "u-1", Model: "gpt-x", Provider: "openai"}},
		{"ai credits escapes", ev("ai.credits.consumed", `{"credits":"6250.5","feature":"\u0074ts","user_id":"\u00e9l\u00e8ve \ud83d\ude00 \"q\" \/"}`),
			schemas.TypeAICreditsConsumed, &schemas.AICreditsConsumed{Credits: d("6250.5"), Feature: schemas.FeatureTTS, UserID: "élève 😀 \"q\" /"}},
		{"pack purchased", ev("ai.credits.pack_purchased", `{"pack_id":"pack-10k","credits":"10000","price":"180.00","currency":"USD"}`),
			schemas.TypeAIPackPurchased, &schemas.AIPackPurchased{PackID: "pack-10k", Credits: d("10000"), Currency: usd, Price: d("180.00")}},
		{"pack purchased free JPY", ev("ai.credits.pack_purchased", `{"pack_id":"promo","credits":"500","price":"0","currency":"JPY"}`),
			schemas.TypeAIPackPurchased, &schemas.AIPackPurchased{PackID: "promo", Credits: d("500"), Currency: jpy, Price: d("0")}},
		{"seat assigned", ev("seat.assigned", `{"user_id":"u-7","seat_type":"learner"}`),
			schemas.TypeSeatAssigned, &schemas.SeatChange{UserID: "u-7", SeatType: schemas.SeatLearner}},
		{"seat released", ev("seat.released", `{"seat_type":"author","user_id":"u-8"}`),
			schemas.TypeSeatReleased, &schemas.SeatChange{UserID: "u-8", SeatType: schemas.SeatAuthor}},
		{"subscription monthly", ev("subscription.started", `{"plan":"team","term":"monthly","currency":"USD"}`),
			schemas.TypeSubscriptionStarted, &schemas.Subscription{Plan: "team", Term: schemas.TermMonthly, Currency: usd}},
		{"subscription annual", ev("subscription.started", `{"plan":"business","term":"annual","currency":"EUR","committed_seats":{"learner":"100","author":"10"},"addons":["white_label","data_residency"]}`),
			schemas.TypeSubscriptionStarted, &schemas.Subscription{Plan: "business", Term: schemas.TermAnnual, Currency: eur,
				CommittedSeats: map[schemas.SeatType]int64{schemas.SeatLearner: 100, schemas.SeatAuthor: 10}, Addons: []string{"white_label", "data_residency"}}},
		{"subscription multi-year", ev("subscription.changed", `{"plan":"enterprise","term":"multi_year","term_years":"3","currency":"USD","committed_seats":{"learner":"0","author":"0"},"addons":[]}`),
			schemas.TypeSubscriptionChanged, &schemas.Subscription{Plan: "enterprise", Term: schemas.TermMultiYear, TermYears: 3, Currency: usd,
				CommittedSeats: map[schemas.SeatType]int64{schemas.SeatLearner: 0, schemas.SeatAuthor: 0}}},
		{"subscription monthly with commitment", ev("subscription.changed", `{"plan":"starter","term":"monthly","currency":"USD","committed_seats":{"learner":"5","author":"1"}}`),
			schemas.TypeSubscriptionChanged, &schemas.Subscription{Plan: "starter", Term: schemas.TermMonthly, Currency: usd,
				CommittedSeats: map[schemas.SeatType]int64{schemas.SeatLearner: 5, schemas.SeatAuthor: 1}}},
		{"subscription canceled", ev("subscription.canceled", `{}`),
			schemas.TypeSubscriptionCanceled, &schemas.SubscriptionCanceled{}},
		{"subscription canceled reason", ev("subscription.canceled", `{"reason":"customer request"}`),
			schemas.TypeSubscriptionCanceled, &schemas.SubscriptionCanceled{Reason: "customer request"}},
		{"sale", ev("marketplace.sale.completed", `{"order_id":"o-1","buyer_id":"b-1","course_id":"c-1","gross":"59.00","tax":"9.00","currency":"USD"}`),
			schemas.TypeSaleCompleted, &schemas.SaleCompleted{OrderID: "o-1", BuyerID: "b-1", CourseID: "c-1", Currency: usd, Gross: d("59.00"), Tax: d("9.00")}},
		{"sale tax equals gross", ev("marketplace.sale.completed", `{"order_id":"o-2","buyer_id":"b-1","course_id":"c-1","gross":"1010","tax":"1010","currency":"JPY"}`),
			schemas.TypeSaleCompleted, &schemas.SaleCompleted{OrderID: "o-2", BuyerID: "b-1", CourseID: "c-1", Currency: jpy, Gross: d("1010"), Tax: d("1010")}},
		{"refund", ev("marketplace.refund.issued", `{"order_id":"o-1","refund_id":"r-1","amount":"29.5","currency":"USD"}`),
			schemas.TypeRefundIssued, &schemas.RefundIssued{OrderID: "o-1", RefundID: "r-1", Currency: usd, Amount: d("29.5")}},
		{"kyc verified", ev("provider.kyc.verified", `{"stripe_account":"acct_1Nv0FGQ9RKHgCVdK"}`),
			schemas.TypeKYCVerified, &schemas.KYCVerified{StripeAccount: "acct_1Nv0FGQ9RKHgCVdK"}},
		{"kyc revoked", ev("provider.kyc.revoked", `{"reason":"documents expired"}`),
			schemas.TypeKYCRevoked, &schemas.KYCRevoked{Reason: "documents expired"}},
		{"kyc revoked no reason", ev("provider.kyc.revoked", `{}`),
			schemas.TypeKYCRevoked, &schemas.KYCRevoked{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := schemas.Decode([]byte(tt.raw))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if e.Type != tt.typ || e.SpecVersion != "1.0" || e.ID != "evt-1" || e.Source != "svc/ai-tutor" || e.Subject != "tenant-42" {
				t.Fatalf("envelope = %+v", e)
			}
			if want := time.Date(2026, 11, 3, 10, 15, 0, 0, time.UTC); !e.Time.Equal(want) || e.Time.Location() != time.UTC {
				t.Fatalf("Time = %v; want %v in UTC", e.Time, want)
			}
			if string(e.Raw) != tt.raw {
				t.Fatalf("Raw = %q; want the input", e.Raw)
			}
			if !reflect.DeepEqual(e.Data, tt.want) {
				t.Fatalf("Data = %#v\nwant %#v", e.Data, tt.want)
			}
		})
	}
}

func TestDecodeEnvelopeVariants(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		time time.Time
	}{
		{"offset", env(`"specversion":"1.0","id":"a","source":"s","type":"ai.credits.consumed","subject":"t","time":"2026-11-03T11:15:00.5+01:00"`),
			time.Date(2026, 11, 3, 10, 15, 0, 5e8, time.UTC)},
		{"nanoseconds", env(`"specversion":"1.0","id":"a","source":"s","type":"ai.credits.consumed","subject":"t","time":"2026-11-03T10:15:00.123456789Z"`),
			time.Date(2026, 11, 3, 10, 15, 0, 123456789, time.UTC)},
		{"negative offset across midnight", env(`"specversion":"1.0","id":"a","source":"s","type":"ai.credits.consumed","subject":"t","time":"2026-10-31T23:30:00-05:30"`),
			time.Date(2026, 11, 1, 5, 0, 0, 0, time.UTC)},
		{"extensions and datacontenttype", env(validHead + `,"datacontenttype":"application/json","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","partitionkey":"tenant-42","sampled":true,"dataschema":"https://example.com/s"`),
			time.Date(2026, 11, 3, 10, 15, 0, 0, time.UTC)},
		{"leap day", env(`"specversion":"1.0","id":"a","source":"s","type":"ai.credits.consumed","subject":"t","time":"2028-02-29T00:00:00Z"`),
			time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"whitespace", " \n\t{ \"data\" : { \"feature\" : \"tutor\" , \"credits\" : \"1\" } , " + validHead + " }\r\n",
			time.Date(2026, 11, 3, 10, 15, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := schemas.Decode([]byte(tt.raw))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !e.Time.Equal(tt.time) || e.Time.Location() != time.UTC {
				t.Fatalf("Time = %v; want %v UTC", e.Time, tt.time)
			}
		})
	}
}

func TestDecodeInvalid(t *testing.T) {
	long := strings.Repeat("x", 257)
	deep := strings.Repeat(`[`, 40) + strings.Repeat(`]`, 40)
	wide := `{"specversion":"1.0"` + strings.Repeat(`,"x":"1"`, 1)
	for i := 0; i < 70; i++ {
		wide += `,"e` + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `":"v"`
	}
	wide += `}`
	tests := []struct {
		name  string
		raw   string
		field string
		msg   string
		err   error
	}{
		// JSON level.
		{"empty", ``, "", "invalid JSON: unexpected end of input", schemas.ErrMalformed},
		{"truncated", `{"specversion":"1.0"`, "", "invalid JSON", schemas.ErrMalformed},
		{"not json", `specversion=1.0`, "", "invalid JSON", schemas.ErrMalformed},
		{"array", `[` + ev("seat.assigned", `{}`) + `]`, "", "must be a JSON object, got an array", schemas.ErrMalformed},
		{"string", `"event"`, "", "must be a JSON object, got a string", schemas.ErrMalformed},
		{"trailing data", ev("seat.assigned", `{"user_id":"u","seat_type":"author"}`) + `{}`, "", "after the value", schemas.ErrMalformed},
		{"trailing comma", `{"specversion":"1.0",}`, "", "invalid JSON", schemas.ErrMalformed},
		{"single quotes", `{'specversion':'1.0'}`, "", "invalid JSON", schemas.ErrMalformed},
		{"invalid utf-8", env(strings.Replace(validHead, "evt-1", "evt\xff", 1)), "", "invalid UTF-8", schemas.ErrMalformed},
		{"lone surrogate", ev("ai.credits.consumed", `{"credits":"1","feature":"tutor","user_id":"\ud800"}`), "", "surrogate", schemas.ErrMalformed},
		{"raw control char in string", ev("ai.credits.consumed", "{\"credits\":\"1\",\"feature\":\"tutor\",\"user_id\":\"a\tb\"}"), "", "control character", schemas.ErrMalformed},
		{"bad escape", ev("ai.credits.consumed", `{"credits":"1","feature":"tutor","user_id":"\x41"}`), "", "bad escape", schemas.ErrMalformed},
		{"leading zero number", `{"x":01}`, "", "invalid JSON", schemas.ErrMalformed},
		{"duplicate attribute", `{"id":"a",` + validHead + `,"data":{}}`, "id", "duplicate key", schemas.ErrMalformed},
		{"duplicate data key", ev("ai.credits.consumed", `{"credits":"1","feature":"tutor","credits":"1000"}`), "data.credits", "duplicate key", schemas.ErrMalformed},
		{"duplicate after escape", ev("ai.credits.consumed", `{"credits":"1","feature":"tutor","cr\u0065dits":"1000"}`), "data.credits", "duplicate key", schemas.ErrMalformed},
		{"too deep", `{"x":` + deep + `}`, "", "nested deeper than", schemas.ErrMalformed},
		{"too wide", wide, "", "more than 64 members", schemas.ErrMalformed},

		// Envelope.
		{"specversion missing", env(`"id":"a","source":"s","type":"ai.credits.consumed","subject":"t","time":"2026-11-03T10:15:00Z"`), "specversion", "is required", schemas.ErrMissingField},
		{"specversion 0.3", env(strings.Replace(validHead, `"1.0"`, `"0.3"`, 1)), "specversion", `must be "1.0" (CloudEvents 1.0), got "0.3"`, schemas.ErrInvalidValue},
		{"specversion number", env(strings.Replace(validHead, `"1.0"`, `1.0`, 1)), "specversion", `got 1.0`, schemas.ErrInvalidValue},
		{"id missing", env(`"specversion":"1.0","source":"s","type":"ai.credits.consumed","subject":"t","time":"2026-11-03T10:15:00Z"`), "id", "is required", schemas.ErrMissingField},
		{"id empty", env(strings.Replace(validHead, `"evt-1"`, `""`, 1)), "id", "must be a non-empty string of at most 256 bytes with no control characters", schemas.ErrInvalidValue},
		{"id too long", env(strings.Replace(validHead, `"evt-1"`, `"`+long+`"`, 1)), "id", "at most 256 bytes", schemas.ErrInvalidValue},
		{"id control char", env(strings.Replace(validHead, `"evt-1"`, `"evt\u0000"`, 1)), "id", "no control characters", schemas.ErrInvalidValue},
		{"id C1 control char", env(strings.Replace(validHead, `"evt-1"`, `"evt\u0085"`, 1)), "id", "no control characters", schemas.ErrInvalidValue},
		{"id number", env(strings.Replace(validHead, `"evt-1"`, `17`, 1)), "id", "got 17", schemas.ErrInvalidValue},
		{"source missing", env(`"specversion":"1.0","id":"a","type":"ai.credits.consumed","subject":"t","time":"2026-11-03T10:15:00Z"`), "source", "is required", schemas.ErrMissingField},
		{"source null", env(strings.Replace(validHead, `"svc/ai-tutor"`, `null`, 1)), "source", "got null", schemas.ErrInvalidValue},
		{"type missing", env(`"specversion":"1.0","id":"a","source":"s","subject":"t","time":"2026-11-03T10:15:00Z"`), "type", "is required", schemas.ErrMissingField},
		{"type unknown", env(strings.Replace(validHead, `"ai.credits.consumed"`, `"ai.credit.consumed"`, 1)), "type", `unknown event type "ai.credit.consumed"; expected one of ai.credits.consumed,`, schemas.ErrUnknownType},
		{"type wrong case", env(strings.Replace(validHead, `"ai.credits.consumed"`, `"AI.Credits.Consumed"`, 1)), "type", `unknown event type "AI.Credits.Consumed"`, schemas.ErrUnknownType},
		{"subject missing", env(`"specversion":"1.0","id":"a","source":"s","type":"ai.credits.consumed","time":"2026-11-03T10:15:00Z"`), "subject", "is required", schemas.ErrMissingField},
		{"subject empty", env(strings.Replace(validHead, `"tenant-42"`, `""`, 1)), "subject", "non-empty", schemas.ErrInvalidValue},
		{"time missing", env(`"specversion":"1.0","id":"a","source":"s","type":"ai.credits.consumed","subject":"t"`), "time", "is required", schemas.ErrMissingField},
		{"time without offset", env(strings.Replace(validHead, `10:15:00Z`, `10:15:00`, 1)), "time", `must be an RFC 3339 timestamp with a UTC offset, like 2026-11-01T12:00:00Z, got "2026-11-03T10:15:00"`, schemas.ErrInvalidValue},
		{"time with space", env(strings.Replace(validHead, `T10`, ` 10`, 1)), "time", "RFC 3339", schemas.ErrInvalidValue},
		{"time lowercase t", env(strings.Replace(validHead, `T10`, `t10`, 1)), "time", "RFC 3339", schemas.ErrInvalidValue},
		{"time 30 February", env(strings.Replace(validHead, `2026-11-03`, `2026-02-30`, 1)), "time", "RFC 3339", schemas.ErrInvalidValue},
		{"time 29 February of a common year", env(strings.Replace(validHead, `2026-11-03`, `2027-02-29`, 1)), "time", "RFC 3339", schemas.ErrInvalidValue},
		{"time leap second", env(strings.Replace(validHead, `10:15:00Z`, `23:59:60Z`, 1)), "time", "RFC 3339", schemas.ErrInvalidValue},
		{"time hour 24", env(strings.Replace(validHead, `10:15:00Z`, `24:00:00Z`, 1)), "time", "RFC 3339", schemas.ErrInvalidValue},
		{"time ten fraction digits", env(strings.Replace(validHead, `10:15:00Z`, `10:15:00.1234567891Z`, 1)), "time", "RFC 3339", schemas.ErrInvalidValue},
		{"time offset out of range", env(strings.Replace(validHead, `10:15:00Z`, `10:15:00+24:00`, 1)), "time", "RFC 3339", schemas.ErrInvalidValue},
		{"time unix seconds", env(strings.Replace(validHead, `"2026-11-03T10:15:00Z"`, `1793700000`, 1)), "time", "got 1793700000", schemas.ErrInvalidValue},
		{"time epoch", env(strings.Replace(validHead, `2026-11-03T10:15:00Z`, `1970-01-01T00:00:00Z`, 1)), "time", "must not be before 2000-01-01T00:00:00Z", schemas.ErrInvalidValue},
		{"datacontenttype", env(validHead + `,"datacontenttype":"text/plain"`), "datacontenttype", `must be "application/json" when present, got "text/plain"`, schemas.ErrInvalidValue},
		{"extension uppercase", env(validHead + `,"traceParent":"x"`), "traceParent", "unknown attribute; extension attribute names are 1 to 20 lowercase letters or digits", schemas.ErrUnknownField},
		{"extension too long", env(validHead + `,"averyveryverylongextension":"x"`), "averyveryverylongextension", "unknown attribute", schemas.ErrUnknownField},
		{"extension underscore", env(validHead + `,"trace_id":"x"`), "trace_id", "unknown attribute", schemas.ErrUnknownField},
		{"extension object", env(validHead + `,"meta":{"a":"b"}`), "meta", "extension attribute must be a string or a boolean, got an object", schemas.ErrInvalidValue},
		{"extension number", env(validHead + `,"retries":3`), "retries", "got 3", schemas.ErrInvalidValue},
		{"extension null", env(validHead + `,"retries":null`), "retries", "got null", schemas.ErrInvalidValue},
		{"data_base64", `{` + validHead + `,"data_base64":"eyJ9"}`, "data_base64", "binary data is not accepted", schemas.ErrUnknownField},
		{"data missing", `{` + validHead + `}`, "data", "is required", schemas.ErrMissingField},
		{"data null", `{` + validHead + `,"data":null}`, "data", "must be a JSON object, got null", schemas.ErrInvalidValue},
		{"data string", `{` + validHead + `,"data":"{\"credits\":\"1\"}"}`, "data", "must be a JSON object, got", schemas.ErrInvalidValue},
		{"envelope errors come in attribute order", `{"type":"nope","data":5}`, "specversion", "is required", schemas.ErrMissingField},

		// ai.credits.consumed.
		{"credits JSON number", ev("ai.credits.consumed", `{"credits":12.5,"feature":"tutor"}`), "data.credits", "must be a decimal string, not a JSON number, got 12.5", schemas.ErrJSONNumber},
		{"credits JSON integer", ev("ai.credits.consumed", `{"feature":"tutor","credits":100}`), "data.credits", "not a JSON number", schemas.ErrJSONNumber},
		{"JSON number in unknown field", ev("ai.credits.consumed", `{"credits":"1","feature":"tutor","tokens":1500}`), "data.tokens", "not a JSON number", schemas.ErrJSONNumber},
		{"credits 1e3", ev("ai.credits.consumed", `{"credits":"1e3","feature":"tutor"}`), "data.credits", `must be a decimal string > 0 with at most 9 fraction digits`, schemas.ErrInvalidValue},
		{"credits -1", ev("ai.credits.consumed", `{"credits":"-1","feature":"tutor"}`), "data.credits", `must be a decimal string > 0 with at most 9 fraction digits (and at most 18 integer digits), got "-1"`, schemas.ErrInvalidValue},
		{"credits 01.", ev("ai.credits.consumed", `{"credits":"01.","feature":"tutor"}`), "data.credits", `got "01."`, schemas.ErrInvalidValue},
		{"credits .5", ev("ai.credits.consumed", `{"credits":".5","feature":"tutor"}`), "data.credits", `got ".5"`, schemas.ErrInvalidValue},
		{"credits leading space", ev("ai.credits.consumed", `{"credits":" 1","feature":"tutor"}`), "data.credits", `got " 1"`, schemas.ErrInvalidValue},
		{"credits plus sign", ev("ai.credits.consumed", `{"credits":"+1","feature":"tutor"}`), "data.credits", `got "+1"`, schemas.ErrInvalidValue},
		{"credits comma", ev("ai.credits.consumed", `{"credits":"1,5","feature":"tutor"}`), "data.credits", `got "1,5"`, schemas.ErrInvalidValue},
		{"credits empty", ev("ai.credits.consumed", `{"credits":"","feature":"tutor"}`), "data.credits", `got ""`, schemas.ErrInvalidValue},
		{"credits zero", ev("ai.credits.consumed", `{"credits":"0","feature":"tutor"}`), "data.credits", `> 0`, schemas.ErrInvalidValue},
		{"credits zero with fraction", ev("ai.credits.consumed", `{"credits":"0.000","feature":"tutor"}`), "data.credits", `got "0.000"`, schemas.ErrInvalidValue},
		{"credits ten fraction digits", ev("ai.credits.consumed", `{"credits":"1.0000000001","feature":"tutor"}`), "data.credits", `at most 9 fraction digits`, schemas.ErrInvalidValue},
		{"credits nineteen integer digits", ev("ai.credits.consumed", `{"credits":"1000000000000000000","feature":"tutor"}`), "data.credits", `at most 18 integer digits`, schemas.ErrInvalidValue},
		{"credits bool", ev("ai.credits.consumed", `{"credits":true,"feature":"tutor"}`), "data.credits", `got true`, schemas.ErrInvalidValue},
		{"credits missing", ev("ai.credits.consumed", `{"feature":"tutor"}`), "data.credits", "is required", schemas.ErrMissingField},
		{"feature unknown", ev("ai.credits.consumed", `{"credits":"1","feature":"chat"}`), "data.feature", `must be one of tutor, co_author, translate, tts, image, insight, search, other, got "chat"`, schemas.ErrInvalidValue},
		{"feature missing", ev("ai.credits.consumed", `{"credits":"1"}`), "data.feature", "is required", schemas.ErrMissingField},
		{"unknown data field", ev("ai.credits.consumed", `{"credit":"1","feature":"tutor"}`), "data.credit", "unknown field; expected credits, feature, user_id, model, provider", schemas.ErrUnknownField},
		{"user_id empty", ev("ai.credits.consumed", `{"credits":"1","feature":"tutor","user_id":""}`), "data.user_id", "omit the field when there is none", schemas.ErrInvalidValue},
		{"model null", ev("ai.credits.consumed", `{"credits":"1","feature":"tutor","model":null}`), "data.model", "got null", schemas.ErrInvalidValue},

		// ai.credits.pack_purchased.
		{"price too many digits", ev("ai.credits.pack_purchased", `{"pack_id":"p","credits":"1000","price":"10.001","currency":"USD"}`), "data.price", `must be a decimal string >= 0 with at most 2 fraction digits for USD (and at most 18 integer digits), got "10.001"`, schemas.ErrInvalidValue},
		{"price JPY fraction", ev("ai.credits.pack_purchased", `{"pack_id":"p","credits":"1000","price":"1800.5","currency":"JPY"}`), "data.price", `at most 0 fraction digits for JPY`, schemas.ErrInvalidValue},
		{"price negative", ev("ai.credits.pack_purchased", `{"pack_id":"p","credits":"1000","price":"-1.00","currency":"USD"}`), "data.price", `>= 0`, schemas.ErrInvalidValue},
		{"price JSON number", ev("ai.credits.pack_purchased", `{"pack_id":"p","credits":"1000","price":18.00,"currency":"USD"}`), "data.price", `not a JSON number`, schemas.ErrJSONNumber},
		{"currency lowercase", ev("ai.credits.pack_purchased", `{"pack_id":"p","credits":"1000","price":"18.00","currency":"usd"}`), "data.currency", `must be an active ISO 4217 currency code of 3 uppercase letters, got "usd"`, schemas.ErrInvalidValue},
		{"currency unknown", ev("ai.credits.pack_purchased", `{"pack_id":"p","credits":"1000","price":"18.00","currency":"XYZ"}`), "data.currency", `got "XYZ"`, schemas.ErrInvalidValue},
		{"currency missing", ev("ai.credits.pack_purchased", `{"pack_id":"p","credits":"1000","price":"18.00"}`), "data.currency", `is required`, schemas.ErrMissingField},
		{"pack credits zero", ev("ai.credits.pack_purchased", `{"pack_id":"p","credits":"0","price":"18.00","currency":"USD"}`), "data.credits", `> 0`, schemas.ErrInvalidValue},
		{"pack_id missing", ev("ai.credits.pack_purchased", `{"credits":"1","price":"18.00","currency":"USD"}`), "data.pack_id", `is required`, schemas.ErrMissingField},

		// seat.*.
		{"seat_type unknown", ev("seat.assigned", `{"user_id":"u","seat_type":"guest"}`), "data.seat_type", `must be one of learner, author, got "guest"`, schemas.ErrInvalidValue},
		{"seat user missing", ev("seat.released", `{"seat_type":"learner"}`), "data.user_id", `is required`, schemas.ErrMissingField},
		{"seat extra field", ev("seat.released", `{"user_id":"u","seat_type":"learner","count":"2"}`), "data.count", `unknown field; expected user_id, seat_type`, schemas.ErrUnknownField},

		// subscription.*.
		{"term_years on annual", ev("subscription.started", `{"plan":"team","term":"annual","term_years":"2","currency":"USD","committed_seats":{"learner":"1","author":"1"}}`), "data.term_years", `must be omitted unless term is "multi_year", got "2"`, schemas.ErrInvalidValue},
		{"term_years missing", ev("subscription.started", `{"plan":"team","term":"multi_year","currency":"USD","committed_seats":{"learner":"1","author":"1"}}`), "data.term_years", `is required when term is "multi_year"`, schemas.ErrMissingField},
		{"term_years 6", ev("subscription.started", `{"plan":"team","term":"multi_year","term_years":"6","currency":"USD","committed_seats":{"learner":"1","author":"1"}}`), "data.term_years", `must be "2", "3", "4" or "5", got "6"`, schemas.ErrInvalidValue},
		{"term_years 1", ev("subscription.started", `{"plan":"team","term":"multi_year","term_years":"1","currency":"USD","committed_seats":{"learner":"1","author":"1"}}`), "data.term_years", `got "1"`, schemas.ErrInvalidValue},
		{"term_years number", ev("subscription.started", `{"plan":"team","term":"multi_year","term_years":3,"currency":"USD","committed_seats":{"learner":"1","author":"1"}}`), "data.term_years", `not a JSON number`, schemas.ErrJSONNumber},
		{"committed_seats missing on annual", ev("subscription.started", `{"plan":"business","term":"annual","currency":"USD"}`), "data.committed_seats", `is required when term is "annual"`, schemas.ErrMissingField},
		{"committed_seats missing on multi_year", ev("subscription.changed", `{"plan":"business","term":"multi_year","term_years":"3","currency":"USD"}`), "data.committed_seats", `is required when term is "multi_year"`, schemas.ErrMissingField},
		{"committed_seats number", ev("subscription.started", `{"plan":"business","term":"annual","currency":"USD","committed_seats":{"learner":100,"author":"10"}}`), "data.committed_seats.learner", `not a JSON number`, schemas.ErrJSONNumber},
		{"committed_seats fraction", ev("subscription.started", `{"plan":"business","term":"annual","currency":"USD","committed_seats":{"learner":"1.5","author":"10"}}`), "data.committed_seats.learner", `must be a whole-number string >= 0 of at most 9 digits, got "1.5"`, schemas.ErrInvalidValue},
		{"committed_seats negative", ev("subscription.started", `{"plan":"business","term":"annual","currency":"USD","committed_seats":{"learner":"100","author":"-1"}}`), "data.committed_seats.author", `got "-1"`, schemas.ErrInvalidValue},
		{"committed_seats huge", ev("subscription.started", `{"plan":"business","term":"annual","currency":"USD","committed_seats":{"learner":"1000000000","author":"1"}}`), "data.committed_seats.learner", `at most 9 digits`, schemas.ErrInvalidValue},
		{"committed_seats unknown seat type", ev("subscription.started", `{"plan":"business","term":"annual","currency":"USD","committed_seats":{"learner":"100","author":"10","admin":"1"}}`), "data.committed_seats.admin", `unknown seat type; expected learner or author`, schemas.ErrUnknownField},
		{"committed_seats incomplete", ev("subscription.started", `{"plan":"business","term":"annual","currency":"USD","committed_seats":{"learner":"100"}}`), "data.committed_seats.author", `is required; use "0" for none`, schemas.ErrMissingField},
		{"committed_seats array", ev("subscription.started", `{"plan":"business","term":"annual","currency":"USD","committed_seats":["100"]}`), "data.committed_seats", `must be an object`, schemas.ErrInvalidValue},
		{"plan uppercase", ev("subscription.started", `{"plan":"Team","term":"monthly","currency":"USD"}`), "data.plan", `must be a plan key of 1 to 64 lowercase letters, digits or '_', got "Team"`, schemas.ErrInvalidValue},
		{"plan missing", ev("subscription.started", `{"term":"monthly","currency":"USD"}`), "data.plan", `is required`, schemas.ErrMissingField},
		{"term unknown", ev("subscription.started", `{"plan":"team","term":"weekly","currency":"USD"}`), "data.term", `must be one of monthly, annual, multi_year, got "weekly"`, schemas.ErrInvalidValue},
		{"subscription currency", ev("subscription.started", `{"plan":"team","term":"monthly","currency":"EURO"}`), "data.currency", `got "EURO"`, schemas.ErrInvalidValue},
		{"addons duplicate", ev("subscription.started", `{"plan":"team","term":"monthly","currency":"USD","addons":["white_label","white_label"]}`), "data.addons[1]", `duplicate add-on "white_label"`, schemas.ErrInvalidValue},
		{"addons bad key", ev("subscription.started", `{"plan":"team","term":"monthly","currency":"USD","addons":["White-Label"]}`), "data.addons[0]", `must be an add-on key`, schemas.ErrInvalidValue},
		{"addons number", ev("subscription.started", `{"plan":"team","term":"monthly","currency":"USD","addons":["a",2]}`), "data.addons[1]", `not a JSON number`, schemas.ErrJSONNumber},
		{"addons string", ev("subscription.started", `{"plan":"team","term":"monthly","currency":"USD","addons":"hipaa_baa"}`), "data.addons", `must be a list of add-on keys, got "hipaa_baa"`, schemas.ErrInvalidValue},

		// subscription.canceled.
		{"canceled unknown field", ev("subscription.canceled", `{"reason":"x","at":"2026-11-03"}`), "data.at", "unknown field; expected reason", schemas.ErrUnknownField},
		{"canceled empty reason", ev("subscription.canceled", `{"reason":""}`), "data.reason", "omit the field when there is none", schemas.ErrInvalidValue},

		// marketplace.
		{"tax above gross", ev("marketplace.sale.completed", `{"order_id":"o","buyer_id":"b","course_id":"c","gross":"59.00","tax":"59.01","currency":"USD"}`), "data.tax", `must not exceed gross (59.00), got "59.01"`, schemas.ErrInvalidValue},
		{"gross too many digits", ev("marketplace.sale.completed", `{"order_id":"o","buyer_id":"b","course_id":"c","gross":"59.001","tax":"0","currency":"USD"}`), "data.gross", `at most 2 fraction digits for USD`, schemas.ErrInvalidValue},
		{"gross BHD four digits", ev("marketplace.sale.completed", `{"order_id":"o","buyer_id":"b","course_id":"c","gross":"5.0001","tax":"0","currency":"BHD"}`), "data.gross", `at most 3 fraction digits for BHD`, schemas.ErrInvalidValue},
		{"tax missing", ev("marketplace.sale.completed", `{"order_id":"o","buyer_id":"b","course_id":"c","gross":"59.00","currency":"USD"}`), "data.tax", `is required`, schemas.ErrMissingField},
		{"order_id missing", ev("marketplace.sale.completed", `{"buyer_id":"b","course_id":"c","gross":"59.00","tax":"9.00","currency":"USD"}`), "data.order_id", `is required`, schemas.ErrMissingField},
		{"sale gross JSON number", ev("marketplace.sale.completed", `{"order_id":"o","buyer_id":"b","course_id":"c","gross":59,"tax":"9.00","currency":"USD"}`), "data.gross", `not a JSON number`, schemas.ErrJSONNumber},
		{"refund zero", ev("marketplace.refund.issued", `{"order_id":"o","refund_id":"r","amount":"0.00","currency":"USD"}`), "data.amount", `must be a decimal string > 0 with at most 2 fraction digits for USD`, schemas.ErrInvalidValue},
		{"refund currency unknown", ev("marketplace.refund.issued", `{"order_id":"o","refund_id":"r","amount":"1.00","currency":"XAU"}`), "data.currency", `got "XAU"`, schemas.ErrInvalidValue},
		{"refund_id missing", ev("marketplace.refund.issued", `{"order_id":"o","amount":"1.00","currency":"USD"}`), "data.refund_id", `is required`, schemas.ErrMissingField},

		// provider.kyc.*.
		{"stripe account prefix only", ev("provider.kyc.verified", `{"stripe_account":"acct_"}`), "data.stripe_account", `must be a Stripe connected account id, "acct_" followed by letters and digits`, schemas.ErrInvalidValue},
		{"stripe account customer id", ev("provider.kyc.verified", `{"stripe_account":"cus_123"}`), "data.stripe_account", `got "cus_123"`, schemas.ErrInvalidValue},
		{"stripe account dash", ev("provider.kyc.verified", `{"stripe_account":"acct_12-3"}`), "data.stripe_account", `got "acct_12-3"`, schemas.ErrInvalidValue},
		{"stripe account missing", ev("provider.kyc.verified", `{}`), "data.stripe_account", `is required`, schemas.ErrMissingField},
		{"kyc revoked control char", ev("provider.kyc.revoked", `{"reason":"a\nb"}`), "data.reason", `no control characters`, schemas.ErrInvalidValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := schemas.Decode([]byte(tt.raw))
			if err == nil {
				t.Fatalf("Decode accepted %s: %+v", tt.raw, e)
			}
			var fe *schemas.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Decode error %T %v is not a *FieldError", err, err)
			}
			if fe.Field != tt.field {
				t.Errorf("Field = %q; want %q (error: %v)", fe.Field, tt.field, err)
			}
			if !strings.Contains(fe.Message, tt.msg) {
				t.Errorf("Message = %q; want it to contain %q", fe.Message, tt.msg)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("error %v does not wrap %v", err, tt.err)
			}
			if want := fe.Field + ": " + fe.Message; fe.Field != "" && err.Error() != want {
				t.Errorf("Error() = %q; want %q", err.Error(), want)
			}
		})
	}
}

func TestCheckTime(t *testing.T) {
	now := time.Date(2026, 11, 3, 10, 10, 0, 0, time.UTC)
	e, err := schemas.Decode([]byte(ev("seat.assigned", `{"user_id":"u","seat_type":"learner"}`))) // 10:15:00Z
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		now  time.Time
		ok   bool
	}{
		{"exactly at the limit", now, true},
		{"one nanosecond past the limit", now.Add(-time.Nanosecond), false},
		{"in the past", now.Add(time.Hour), true},
		{"sixty days late", now.Add(60 * 24 * time.Hour), true},
		{"limit in another zone", now.In(time.FixedZone("X", -7*3600)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.CheckTime(tt.now, schemas.MaxFutureSkew)
			if tt.ok {
				if err != nil {
					t.Fatalf("CheckTime: %v", err)
				}
				return
			}
			var fe *schemas.FieldError
			if !errors.As(err, &fe) || fe.Field != "time" || !errors.Is(err, schemas.ErrFutureTime) || !strings.Contains(fe.Message, "must not be more than 5m0s ahead") {
				t.Fatalf("CheckTime = %v; want a future-time error on time", err)
			}
		})
	}
}

func TestDecodeDoesNotRetainInput(t *testing.T) {
	raw := []byte(ev("ai.credits.consumed", `{"credits":"1","feature":"tutor","user_id":"u-1"}`))
	e, err := schemas.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := string(raw)
	for i := range raw {
		raw[i] = 'X'
	}
	if string(e.Raw) != want || e.ID != "evt-1" || e.Data.(*schemas.AICreditsConsumed).UserID != "u-1" {
		t.Fatalf("event changed with the caller's buffer: %+v", e)
	}
}

func TestIdentityMsgID(t *testing.T) {
	a := schemas.Identity{Source: "svc/a", ID: "1"}
	if got := a.MsgID(); len(got) != 64 || strings.Trim(got, "0123456789abcdef") != "" {
		t.Fatalf("MsgID = %q; want 64 lowercase hex digits", got)
	}
	if a.MsgID() != (schemas.Identity{Source: "svc/a", ID: "1"}).MsgID() {
		t.Fatal("MsgID is not stable")
	}
	distinct := []schemas.Identity{
		{Source: "svc/a", ID: "1"}, {Source: "svc/a1", ID: ""}, {Source: "svc/", ID: "a1"},
		{Source: "svc/a", ID: "2"}, {Source: "svc/b", ID: "1"},
	}
	seen := map[string]schemas.Identity{}
	for _, id := range distinct {
		if prev, dup := seen[id.MsgID()]; dup {
			t.Fatalf("MsgID(%+v) == MsgID(%+v)", id, prev)
		}
		seen[id.MsgID()] = id
	}
	e, err := schemas.Decode([]byte(ev("seat.assigned", `{"user_id":"u","seat_type":"learner"}`)))
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Identity(); got != (schemas.Identity{Source: "svc/ai-tutor", ID: "evt-1"}) {
		t.Fatalf("Identity = %+v", got)
	}
}

func TestSplitBatch(t *testing.T) {
	a := ev("seat.assigned", `{"user_id":"u","seat_type":"learner"}`)
	b := ev("ai.credits.consumed", `{"credits":"1","feature":"tutor"}`)
	tests := []struct {
		name string
		raw  string
		want []string
		err  error
	}{
		{"two", "[" + a + "," + b + "]", []string{a, b}, nil},
		{"whitespace", " [\n " + a + " ,\n\t" + b + "\n] \n", []string{a, b}, nil},
		{"empty", "[]", []string{}, nil},
		{"bad elements are kept for Decode", `[{"x":1}, 5, "s", null]`, []string{`{"x":1}`, `5`, `"s"`, `null`}, nil},
		{"object", a, nil, schemas.ErrNotBatch},
		{"empty input", "", nil, schemas.ErrNotBatch},
		{"syntax error inside", "[" + a + `,{"x":]`, nil, schemas.ErrMalformed},
		{"missing comma", "[" + a + " " + b + "]", nil, schemas.ErrMalformed},
		{"unterminated", "[" + a, nil, schemas.ErrMalformed},
		{"trailing", "[" + a + "] x", nil, schemas.ErrMalformed},
		{"trailing comma", "[" + a + ",]", nil, schemas.ErrMalformed},
		{"invalid utf-8", "[\"\xff\"]", nil, schemas.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := schemas.SplitBatch([]byte(tt.raw))
			if tt.err != nil {
				var fe *schemas.FieldError
				if !errors.Is(err, tt.err) || !errors.As(err, &fe) {
					t.Fatalf("SplitBatch = %q, %v; want %v", got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("SplitBatch: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("SplitBatch returned %d elements; want %d", len(got), len(tt.want))
			}
			for i := range got {
				if string(got[i]) != tt.want[i] {
					t.Fatalf("element %d = %s; want %s", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// A large batch is split without the per-container limit that applies
// inside one event.
func TestSplitBatchThousand(t *testing.T) {
	one := ev("ai.credits.consumed", `{"credits":"1","feature":"tutor"}`)
	raw := "[" + strings.TrimSuffix(strings.Repeat(one+",", 1000), ",") + "]"
	got, err := schemas.SplitBatch([]byte(raw))
	if err != nil || len(got) != 1000 {
		t.Fatalf("SplitBatch = %d elements, %v", len(got), err)
	}
	for _, el := range got {
		if _, err := schemas.Decode(el); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTypes(t *testing.T) {
	types := schemas.Types()
	if len(types) != 15 { // 11 of SPEC §1, 4 of §6
		t.Fatalf("Types() has %d types; want 15", len(types))
	}
	types[0] = "mutated"
	if schemas.Types()[0] != schemas.TypeAICreditsConsumed {
		t.Fatal("Types() returns shared storage")
	}
	for _, typ := range schemas.Types() {
		if !typ.Known() {
			t.Fatalf("%s not Known", typ)
		}
	}
	if schemas.Type("ai.credits").Known() {
		t.Fatal("unknown type is Known")
	}
	if !schemas.TypeRefundIssued.ProviderSubject() || schemas.TypeSeatAssigned.ProviderSubject() || schemas.TypeSellerEnrolled.ProviderSubject() {
		t.Fatal("ProviderSubject wrong")
	}
}
