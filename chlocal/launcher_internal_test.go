package chlocal

import (
	"slices"
	"testing"
	"time"
)

func TestLauncherArgsRoundTrip(t *testing.T) {
	want := launcherOptions{
		lib:             "/opt/chdb/libchdb.so",
		path:            "/var/lib/tally/clickhouse",
		tcpPort:         9000,
		httpPort:        8123,
		parentPID:       42,
		maxServerMemory: 1 << 30,
	}
	got, err := parseLauncherArgs(want.args())
	if err != nil {
		t.Fatalf("parsing %q: %v", want.args(), err)
	}
	if got != want {
		t.Fatalf("round trip = %+v, want %+v", got, want)
	}
}

func TestParseLauncherArgsRejects(t *testing.T) {
	valid := []string{"--lib=/l.so", "--path=/d", "--tcp-port=9000", "--http-port=8123"}
	if _, err := parseLauncherArgs(valid); err != nil {
		t.Fatalf("valid flags rejected: %v", err)
	}
	tests := map[string][]string{
		"no lib":          {"--path=/d", "--tcp-port=9000", "--http-port=8123"},
		"no path":         {"--lib=/l.so", "--tcp-port=9000", "--http-port=8123"},
		"no ports":        {"--lib=/l.so", "--path=/d"},
		"same ports":      {"--lib=/l.so", "--path=/d", "--tcp-port=9000", "--http-port=9000"},
		"port too large":  {"--lib=/l.so", "--path=/d", "--tcp-port=70000", "--http-port=8123"},
		"unknown flag":    append(slices.Clone(valid), "--verbose"),
		"positional word": append(slices.Clone(valid), "serve"),
		"zero memory":     append(slices.Clone(valid), "--max-server-memory=0"),
	}
	for name, args := range tests {
		if _, err := parseLauncherArgs(args); err == nil {
			t.Errorf("%s: %q accepted", name, args)
		}
	}
}

func TestClickhouseArgsShape(t *testing.T) {
	args := clickhouseArgs(launcherOptions{lib: "/l.so", path: "/d", tcpPort: 9000, httpPort: 8123, maxServerMemory: 1 << 30})
	// argv[0] is skipped as the program name, so the flag is repeated.
	if args[0] != "--interactive" || args[1] != "--interactive" {
		t.Errorf("argv starts %q, want --interactive twice", args[:2])
	}
	sep := slices.Index(args, "--")
	if sep < 0 {
		t.Fatalf("no -- in %q", args)
	}
	// Settings are only accepted before "--", server config keys only after.
	for _, a := range []string{"--async_insert=0", "--tcp_port=9000", "--http_port=8123", "--path=/d"} {
		if i := slices.Index(args, a); i < 0 || i > sep {
			t.Errorf("%s at %d, want before -- at %d", a, i, sep)
		}
	}
	if i := slices.Index(args, "--max_server_memory_usage=1073741824"); i < sep {
		t.Errorf("max_server_memory_usage at %d, want after -- at %d", i, sep)
	}
}

func TestBackoff(t *testing.T) {
	s := &Server{cfg: Config{RestartBackoff: 100 * time.Millisecond, MaxRestartBackoff: time.Second}}
	ms := time.Millisecond
	want := []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1000 * ms, 1000 * ms}
	for failures, w := range want {
		if got := s.backoff(failures); got != w {
			t.Errorf("backoff(%d) = %s, want %s", failures, got, w)
		}
	}
	if got := s.backoff(1000); got != time.Second {
		t.Errorf("backoff(1000) = %s, want the maximum", got)
	}
}
