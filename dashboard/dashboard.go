// Package dashboard serves Tally's finance dashboard: a static page (HTML,
// CSS and our own JavaScript, embedded in the binary) that asks for a
// finance API key, keeps it in the browser's sessionStorage and draws the
// figures of GET /v1/reports/trend with Chart.js (docs/finance.md); and
// tenant.html, one tenant's entitlements from GET
// /v1/tenants/{t}/entitlements: plan, matrix, seat and AI credit gauges
// (docs/entitlements.md).
//
// Chart.js is not committed: `make chartjs` (a prerequisite of build, run
// and test) fetches the pinned version with npm pack into web/vendor/,
// which is gitignored. Built without it, the page still shows the figures
// and tables and says that the charts are missing and how to fix it.
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
)

// ChartLibrary is the path of Chart.js inside the page's files.
const ChartLibrary = "vendor/chart.umd.min.js"

//go:embed web
var embedded embed.FS

// Files returns the page's files, rooted at the page (index.html, app.js, …).
func Files() fs.FS {
	sub, err := fs.Sub(embedded, "web")
	if err != nil {
		panic(err) // "web" is a valid, embedded directory
	}
	return sub
}

// HasChartLibrary reports whether Chart.js was embedded when the binary
// was built.
func HasChartLibrary() bool {
	_, err := fs.Stat(Files(), ChartLibrary)
	return err == nil
}

// contentSecurityPolicy lets the page load only its own files and talk
// only to its own origin: a finance key in sessionStorage is worth
// protecting from injected scripts.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the page's files at the root of the requests it is given
// (mount it behind http.StripPrefix). It needs no API key: the page asks
// for one and sends it to the API itself.
func Handler() http.Handler {
	files := http.FileServerFS(Files())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
