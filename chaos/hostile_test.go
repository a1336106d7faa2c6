package chaos

// Bad input at volume: malformed, oversized and hostile requests mixed
// into a valid load. Every valid event must land exactly once; every
// hostile request must get a 4xx (503 is allowed under load; never 202,
// never another 5xx); the daemon must stay up with its memory bounded.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tally-billing/tally/internal/tallyproc"
	"github.com/tally-billing/tally/pipeline"
)

// hostileReq is one bad request.
type hostileReq struct {
	kind        string
	method      string
	path        string
	contentType string
	key         string // "" sends no Authorization header
	body        []byte
}

// rssBound is the memory tally run may use under the hostile load: a
// generous bound (the daemon holds at most a few 1 MiB bodies at a time).
const rssBound = 1 << 30

// pid is the daemon's process id.
func (p *Tally) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.p.Pid()
}

// hostileGen makes the bad requests; n selects the kind, rng the details.
func hostileGen(rng *rand.Rand, n int, p *Tally, now time.Time) hostileReq {
	at := now.Add(-time.Hour).Format(time.RFC3339)
	event := func(id, subject, data string) string {
		return `{"specversion":"1.0","id":"` + id + `","source":"hostile","type":"ai.credits.consumed","subject":"` + subject +
			`","time":"` + at + `","data":` + data + `}`
	}
	good := event(fmt.Sprintf("h-%d", n), "hostile-t", `{"credits":"1.5","feature":"tutor"}`)
	batch := pipeline.ContentTypeBatch
	r := hostileReq{method: http.MethodPost, path: "/v1/events", contentType: batch, key: p.IngestKey}
	switch n % 16 {
	case 0: // deep nesting inside data
		depth := 1000 + rng.IntN(100000)
		r.kind, r.body = "deep-nesting", []byte("["+event(fmt.Sprintf("h-%d", n), "hostile-t", strings.Repeat(`{"a":`, depth)+"1"+strings.Repeat("}", depth))+"]")
	case 1: // deep nesting of bare arrays
		depth := 1000 + rng.IntN(200000)
		r.kind, r.body = "deep-arrays", []byte(strings.Repeat("[", depth)+strings.Repeat("]", depth))
	case 2: // huge string field, under the body limit
		r.kind, r.body = "huge-string", []byte("["+event(strings.Repeat("x", 200_000+rng.IntN(700_000)), "hostile-t", `{"credits":"1","feature":"tutor"}`)+"]")
	case 3: // invalid UTF-8 in the subject
		r.kind, r.body = "invalid-utf8", []byte("["+event(fmt.Sprintf("h-%d", n), "t\xff\xfe"+string(rune('a'+rng.IntN(26))), `{"credits":"1","feature":"tutor"}`)+"]")
	case 4: // wrong content types
		r.kind = "content-type"
		r.contentType = []string{"text/plain", "application/xml", "multipart/form-data; boundary=x", "", "application/x-www-form-urlencoded", "image/png"}[rng.IntN(6)]
		r.body = []byte("[" + good + "]")
	case 5: // truncated body
		b := "[" + good + "]"
		r.kind, r.body = "truncated", []byte(b[:1+rng.IntN(len(b)-2)])
	case 6: // bad auth: none, unknown, the finance key
		r.kind = "bad-auth"
		r.key = []string{"", "sk_nope_" + strconv.Itoa(n), p.FinanceKey, strings.Repeat("k", 10000)}[rng.IntN(4)]
		r.body = []byte("[" + good + "]")
	case 7: // wrong method or path
		r.kind = "method"
		r.method = []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPatch}[rng.IntN(4)]
		r.body = []byte("[" + good + "]")
	case 8: // numbers where strings are required, nulls, wrong types
		r.kind = "wrong-types"
		r.body = []byte("[" + []string{
			event(fmt.Sprintf("h-%d", n), "hostile-t", `{"credits":1.5,"feature":"tutor"}`),
			event(fmt.Sprintf("h-%d", n), "hostile-t", `{"credits":null}`),
			event(fmt.Sprintf("h-%d", n), "hostile-t", `"not an object"`),
			event(fmt.Sprintf("h-%d", n), "hostile-t", `{"credits":"-5","feature":"tutor"}`),
			event(fmt.Sprintf("h-%d", n), "hostile-t", `{"credits":"1e400","feature":"tutor"}`),
			`{"specversion":"1.0","id":"` + fmt.Sprintf("h-%d", n) + `"}`,
		}[rng.IntN(6)] + "]")
	case 9: // too many events in one batch
		r.kind = "big-batch"
		var b bytes.Buffer
		b.WriteByte('[')
		for i := range pipeline.MaxBatchEvents + 1 + rng.IntN(50) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{}`)
		}
		b.WriteByte(']')
		r.body = b.Bytes()
	case 10: // events from the far future, unknown types, empty ids
		r.kind = "bad-fields"
		future := strings.Replace(good, at, now.AddDate(1, 0, 0).Format(time.RFC3339), 1)
		r.body = []byte("[" + []string{future, strings.Replace(good, "ai.credits.consumed", "ai.credits.stolen", 1),
			strings.Replace(good, fmt.Sprintf(`"id":"h-%d"`, n), `"id":""`, 1)}[rng.IntN(3)] + "]")
	case 11: // garbage bytes, NULs, trailing data
		r.kind = "garbage"
		g := make([]byte, 1+rng.IntN(4096))
		for i := range g {
			g[i] = byte(rng.IntN(256))
		}
		r.body = []byte([]string{string(g), "[" + good + "]garbage", "[" + good + ",]", "\x00\x00\x00", "[" + strings.Replace(good, "{", "{\x00", 1) + "]"}[rng.IntN(5)])
	case 12: // one valid event among invalid ones: the whole batch is refused
		r.kind = "mixed-batch"
		r.body = []byte("[" + good + `,{"specversion":"1.0"}]`)
	case 13: // duplicate keys with conflicting values
		r.kind = "duplicate-keys"
		r.body = []byte("[" + strings.Replace(good, `"subject":"hostile-t"`, `"subject":"hostile-t","subject":{"x":1}`, 1) + "]")
	case 14: // an empty body, an empty batch, a lone value
		r.kind = "empty"
		r.body = []byte([]string{"", "[]", "null", "0", `""`, "{}"}[rng.IntN(6)])
	default: // over the body limit (1 MiB): now and then only, they are heavy
		if rng.IntN(8) == 0 {
			r.kind, r.body = "oversized", bytes.Repeat([]byte(" "), pipeline.MaxBodyBytes+1+rng.IntN(1<<20))
			r.body[0] = '['
		} else {
			r.kind, r.body = "bad-escapes", []byte("["+strings.Replace(good, "hostile-t", `hostile\ud800-\u00`, 1)+"]")
		}
	}
	return r
}

// hostileStats counts what the hostile senders saw, per kind.
type hostileStats struct {
	mu       sync.Mutex
	byStatus map[string]map[int]int // kind → status → count
	connErrs map[string]int
}

func (s *hostileStats) add(kind string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byStatus[kind] == nil {
		s.byStatus[kind] = map[int]int{}
	}
	s.byStatus[kind][status]++
}

// slowloris opens a connection, sends a request's headers and then its
// body one byte at a time, every interval; it returns the status line's
// code, or 0 if the server closed the connection first.
func slowloris(ctx context.Context, addr, key string, body []byte, interval time.Duration) (int, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/events HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		addr, key, pipeline.ContentTypeBatch, len(body))
	for _, b := range body {
		if ctx.Err() != nil {
			return 0, nil
		}
		if _, err := conn.Write([]byte{b}); err != nil {
			return 0, nil // the server gave up on us: fine
		}
		time.Sleep(interval)
	}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, nil
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestHostileInput mixes TALLY_CHAOS_HOSTILE (default TALLY_CHAOS_EVENTS/2
// within [10,000, 100,000]: 10,000 in CI, 100,000 under make chaos) hostile
// requests, a few slow-body connections among them, into a valid load of
// TALLY_CHAOS_EVENTS/4 events, and checks statuses, exactly-once storage
// of the valid events, that tally run stays up, and its peak memory.
func TestHostileInput(t *testing.T) {
	hostile := envInt(t, "TALLY_CHAOS_HOSTILE", min(max(chaosEvents(t)/2, 10000), 100000))
	events := max(chaosEvents(t)/4, 1000)
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 3))
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout(events, 0)+time.Duration(hostile)*5*time.Millisecond)
	defer cancel()
	month := lastMonth()

	p := StartTally(t, TallyConfig{})
	pid := p.pid()
	ledger := NewLedger()
	h1, h2 := NewHTTPSender(p, ledger), NewHTTPSender(p, ledger)
	// Paced to last about as long as the hostile requests (a few hundred
	// a second here), so the two are mixed.
	load := RunLoad(ctx, NewGen(s, 5, month), LoadConfig{Events: events, BatchSize: 100, Rate: max(events/max(hostile/400, 5), 100), HTTP: []*HTTPSender{h1, h2}})
	done, loadErr := waitLoad(load)

	// Memory, sampled while everything runs.
	var peakRSS atomic.Int64
	memDone, memStop := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(memDone)
		for {
			if rss, _, err := tallyproc.Memory(pid); err == nil && rss > peakRSS.Load() {
				peakRSS.Store(rss)
			}
			select {
			case <-ctx.Done():
				return
			case <-memStop:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()

	// A few slow bodies, for the whole hostile phase.
	addr := strings.TrimPrefix(p.BaseURL, "http://")
	var slowWG sync.WaitGroup
	slowStatus := make([]int, 4)
	for i := range slowStatus {
		slowWG.Add(1)
		go func() {
			defer slowWG.Done()
			body := []byte(`[{"specversion":"1.0","id":"slow-` + strconv.Itoa(i) + `","source":"hostile","type":"nope"}]`)
			code, err := slowloris(ctx, addr, p.IngestKey, body, 100*time.Millisecond)
			if err != nil {
				t.Errorf("slow body %d: %v", i, err)
			}
			slowStatus[i] = code
		}()
	}

	stats := &hostileStats{byStatus: map[string]map[int]int{}, connErrs: map[string]int{}}
	reqs := make(chan hostileReq, 64)
	go func() {
		defer close(reqs)
		for n := range hostile {
			select {
			case reqs <- hostileGen(rng, n, p, time.Now().UTC()):
			case <-ctx.Done():
				return
			}
		}
	}()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 8}}
	var wg sync.WaitGroup
	var bad atomic.Int64
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range reqs {
				req, err := http.NewRequestWithContext(ctx, r.method, p.BaseURL+r.path, bytes.NewReader(r.body))
				if err != nil {
					t.Errorf("%s: %v", r.kind, err)
					continue
				}
				if r.contentType != "" {
					req.Header.Set("Content-Type", r.contentType)
				}
				if r.key != "" {
					req.Header.Set("Authorization", "Bearer "+r.key)
				}
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					// The server may close the connection on a body over
					// the limit before reading it all.
					stats.mu.Lock()
					stats.connErrs[r.kind]++
					stats.mu.Unlock()
					if r.kind != "oversized" && bad.Add(1) <= 5 {
						t.Errorf("%s: %v", r.kind, err)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
				resp.Body.Close()
				stats.add(r.kind, resp.StatusCode)
				ok := resp.StatusCode >= 400 && resp.StatusCode < 500 || resp.StatusCode == http.StatusServiceUnavailable
				if !ok && bad.Add(1) <= 10 {
					t.Errorf("hostile %s request (%d bytes): status %d", r.kind, len(r.body), resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	slowWG.Wait()
	<-done
	close(memStop)
	if *loadErr != nil {
		t.Fatalf("valid load: %v", *loadErr)
	}
	<-memDone
	if !p.Running() {
		t.Fatal("tally run exited under hostile input")
	}
	_, hwm, err := tallyproc.Memory(pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("hostile: %d requests; statuses by kind %v; connection errors %v; slow bodies %v", hostile, stats.byStatus, stats.connErrs, slowStatus)
	t.Logf("valid load: %d events acknowledged; %s | %s", ledger.Len(), h1.Stats.String(), h2.Stats.String())
	t.Logf("tally run memory: peak VmRSS sampled %d MiB, VmHWM %d MiB (bound %d MiB)", peakRSS.Load()>>20, hwm>>20, rssBound>>20)
	if hwm > rssBound {
		t.Errorf("VmHWM %d MiB over the bound of %d MiB", hwm>>20, rssBound>>20)
	}
	for i, code := range slowStatus {
		if code != 0 && (code < 400 || code >= 500) {
			t.Errorf("slow body %d: status %d, want a 4xx or a closed connection", i, code)
		}
	}
	total := 0
	for _, m := range stats.byStatus {
		for _, n := range m {
			total += n
		}
	}
	if total < hostile*9/10 {
		t.Errorf("only %d of %d hostile requests got an answer", total, hostile)
	}

	WaitDrained(t, ctx, p.NATSURL())
	ch := OpenClickHouse(t, p.ClickHouseDSN())
	CheckStored(t, ctx, ch, ledger)
	if n := mustUint64(t, ctx, ch, "SELECT count() FROM events WHERE source IN ('hostile', '') OR startsWith(subject, 'hostile')"); n != 0 {
		t.Errorf("%d hostile events stored", n)
	}
}
