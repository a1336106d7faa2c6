package dashboard

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
)

// response is what the tests read of an answer besides its body.
type response struct {
	StatusCode int
	Header     http.Header
}

// get serves path and returns the answer with its body, read and closed.
func get(t *testing.T, path string) (response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	res := rec.Result()
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{StatusCode: res.StatusCode, Header: res.Header}, string(body)
}

func TestThePageIsServedWithoutAKey(t *testing.T) {
	res, body := get(t, "/")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, want := range []string{`<script src="` + ChartLibrary + `" defer>`, `<script src="common.js" defer>`, `<script src="app.js" defer>`, `href="style.css"`,
		"built without the chart library", "<code>make build</code>", `id="keyform"`} {
		if !strings.Contains(body, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("X-Content-Type-Options: %q", res.Header.Get("X-Content-Type-Options"))
	}
	for path, ctype := range map[string]string{"/common.js": "text/javascript", "/app.js": "text/javascript", "/style.css": "text/css"} {
		res, _ := get(t, path)
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), ctype) {
			t.Errorf("GET %s: %d %s, want 200 %s", path, res.StatusCode, res.Header.Get("Content-Type"), ctype)
		}
	}
	if res, _ := get(t, "/no-such-file.js"); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET a missing file: %d, want 404", res.StatusCode)
	}
}

// Our own files load nothing from another origin and format money from
// the API's decimal strings, never with float formatting.
func TestOwnFilesStayLocalAndDecimal(t *testing.T) {
	err := fs.WalkDir(Files(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(path, "vendor/") {
			return err
		}
		data, err := fs.ReadFile(Files(), path)
		if err != nil {
			return err
		}
		if m := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/`).Find(data); m != nil {
			t.Errorf("%s refers to another origin: %s", path, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, script := range []string{"common.js", "app.js", "tenant.js"} {
		src, err := fs.ReadFile(Files(), script)
		if err != nil {
			t.Fatal(err)
		}
		for _, banned := range []string{"parseFloat", "toFixed", "toLocaleString", "Intl.NumberFormat", "innerHTML"} {
			if strings.Contains(string(src), banned) {
				t.Errorf("%s uses %s", script, banned)
			}
		}
	}
}

// The entitlements page of one tenant is served without a key too, loads
// only the shared script and its own, and the finance page links to it.
func TestTheTenantPageIsServed(t *testing.T) {
	res, body := get(t, "/tenant.html")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /tenant.html: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, want := range []string{`<script src="common.js" defer>`, `<script src="tenant.js" defer>`, `id="keyform"`, `id="gauges"`, `id="matrix"`, `href="./"`} {
		if !strings.Contains(body, want) {
			t.Errorf("tenant.html lacks %q", want)
		}
	}
	if res, _ := get(t, "/tenant.js"); res.StatusCode != http.StatusOK {
		t.Errorf("GET /tenant.js: %d", res.StatusCode)
	}
	if _, index := get(t, "/"); !strings.Contains(index, `href="tenant.html"`) {
		t.Error("the finance page does not link to the tenant page")
	}
}

// The embedded Chart.js is the file on disk when the test was built, and
// its version is the one the Makefile pins.
func TestChartLibrary(t *testing.T) {
	_, statErr := os.Stat("web/" + ChartLibrary)
	if HasChartLibrary() != (statErr == nil) {
		t.Fatalf("HasChartLibrary() = %v, but stat of web/%s: %v", HasChartLibrary(), ChartLibrary, statErr)
	}
	if !HasChartLibrary() {
		if res, _ := get(t, "/"+ChartLibrary); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET the missing library: %d, want 404 (the page then says how to fix it)", res.StatusCode)
		}
		t.Logf("built without %s: run `make chartjs` to test the embedded library too", ChartLibrary)
		return
	}
	makefile, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^CHARTJS_VERSION\s*:=\s*(\S+)`).FindSubmatch(makefile)
	if m == nil {
		t.Fatal("the Makefile pins no CHARTJS_VERSION")
	}
	res, body := get(t, "/"+ChartLibrary)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("GET %s: %d %s", ChartLibrary, res.StatusCode, res.Header.Get("Content-Type"))
	}
	if want := "Chart.js v" + string(m[1]) + "\n"; !strings.Contains(body[:min(len(body), 200)], want) {
		t.Errorf("embedded library header %q, want %q", body[:min(len(body), 80)], want)
	}
}
