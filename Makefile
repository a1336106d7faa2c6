# Tally — make targets. `make run` and `make test` are all a new user needs.
SHELL := /bin/bash

CHDB_PKG     := @chdb/lib-linux-x64-gnu@26.7.3-stable.1
CHDB_DIR     := .cache/chdb
CHDB_LIB     := $(CHDB_DIR)/package/libchdb.so
BIN          := bin/tally
CHARTJS_VERSION := 4.6.1
CHARTJS_SHA256  := 87364cc2b2a76a6684929e7d6b80b18a897794db38400caff1fcf1791c6925d2
CHARTJS_DIR     := dashboard/web/vendor
CHARTJS_JS      := $(CHARTJS_DIR)/chart.umd.min.js
VERSION      ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GO_TEST_FLAGS ?= -race -count=1 -timeout 45m
FUZZ_TIME    ?= 30s
FUZZ_MINIMIZE ?= 500x
BENCH_EVENTS ?= 1000000
CHAOS_EVENTS ?= 1000000
CHAOS_KILLS  ?= 10
# What the tests run besides Go: Chromium for the dashboard's browser test
# (e2e/dashboard_test.go), curl and jq for the README walkthrough
# (walkthrough/). Each is a command name or a path.
CHROMIUM     ?= $(shell command -v chromium || echo /usr/bin/chromium)
CURL         ?= curl
JQ           ?= jq
# golangci-lint (.golangci.yml), pinned in tools/golangci-lint.mod and not
# in go.mod, so that its own dependencies never move the product's. `go
# tool` builds it from the module proxy the first time (minutes on two
# cores), from the build cache after that.
LINT         := go tool -modfile=tools/golangci-lint.mod golangci-lint
# The fast suite (make test-unit) is every package but these, whose tests
# start ClickHouse, `tally run` processes or Chromium: chaos/, e2e/ and
# walkthrough/ (real daemons), chlocal/ (the managed ClickHouse), chstore/
# with every package below it (a local ClickHouse; a cluster in
# chstore/clustertest/), deploy/ (ClickHouse with the deploy DDL, Grafana's
# queries). An in-process NATS, httptest servers and stripe-mock
# (stripesync/) are fine.
SLOW_PKGS    := chaos|chlocal|chstore|deploy|e2e|walkthrough
UNIT_TEST_FLAGS ?= -race -count=1 -timeout 10m

.PHONY: all build chdb chartjs test-deps run-deps run test test-unit lint fuzz bench chaos vet fmt clean

all: build

build: chartjs
	go build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/tally

# libchdb.so (ClickHouse 26.7 as a library) for the managed local server.
chdb: $(CHDB_LIB)

$(CHDB_LIB):
	@mkdir -p $(CHDB_DIR)
	@echo "fetching $(CHDB_PKG) (178 MB download, 566 MB unpacked) into $(CHDB_DIR)"
	cd $(CHDB_DIR) && rm -f chdb-lib-*.tgz && npm pack --silent $(CHDB_PKG) >/dev/null
	cd $(CHDB_DIR) && tar xzf chdb-lib-linux-x64-gnu-*.tgz && rm -f chdb-lib-linux-x64-gnu-*.tgz
	@test -f $@

# Chart.js for the finance dashboard (dashboard/): embedded in the binary
# by go:embed, fetched with npm at a pinned version and checked against its
# SHA-256, never committed (the folder is gitignored).
chartjs: $(CHARTJS_JS)

$(CHARTJS_JS):
	@echo "fetching chart.js@$(CHARTJS_VERSION) into $(CHARTJS_DIR)"
	rm -rf $(CHARTJS_DIR)/.fetch && mkdir -p $(CHARTJS_DIR)/.fetch
	cd $(CHARTJS_DIR)/.fetch && npm pack --silent chart.js@$(CHARTJS_VERSION) >/dev/null && \
		tar xzf chart.js-$(CHARTJS_VERSION).tgz package/dist/chart.umd.min.js package/LICENSE.md
	echo "$(CHARTJS_SHA256)  $(CHARTJS_DIR)/.fetch/package/dist/chart.umd.min.js" | sha256sum --check --quiet
	mv $(CHARTJS_DIR)/.fetch/package/LICENSE.md $(CHARTJS_DIR)/chart.js.LICENSE.md
	mv $(CHARTJS_DIR)/.fetch/package/dist/chart.umd.min.js $@
	rm -rf $(CHARTJS_DIR)/.fetch

# system_deps checks the system packages named in $(1) ("command:package"
# pairs) and, when one is missing, installs it with apt-get if make runs as
# root (as in CI); otherwise it stops at once with the one command to run.
# $(2) says what needs them.
define system_deps
	@pkgs=""; \
	for pair in $(1); do \
		command -v "$${pair%%:*}" >/dev/null || pkgs="$$pkgs $${pair##*:}"; \
	done; \
	if [ -z "$$pkgs" ]; then exit 0; fi; \
	install="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends$$pkgs"; \
	if ! command -v apt-get >/dev/null; then \
		echo "$(2) need$$pkgs: install it with the system's package manager, then run make again" >&2; exit 1; \
	elif [ "$$(id -u)" != 0 ]; then \
		echo "$(2) need$$pkgs, which only root can install; run this, then make again:" >&2; \
		echo "  sudo sh -c '$$install'" >&2; exit 1; \
	fi; \
	echo "installing$$pkgs for $(2)"; \
	sh -c "$$install"
endef

# The system packages the tests need (see CHROMIUM above).
test-deps:
	$(call system_deps,$(CHROMIUM):chromium $(CURL):curl $(JQ):jq,the tests)

# curl and jq, which the README's "Try it" blocks use beside `make run`.
run-deps:
	$(call system_deps,$(CURL):curl $(JQ):jq,the README's examples)

# Run Tally on its embedded defaults: embedded NATS, managed ClickHouse,
# dev keys, all in ./.tally.
run: run-deps chdb build
	./$(BIN) run

# go mod download fetches every module first, stripe-mock (a tool in
# go.mod, built by the tests that need it) among them.
test: test-deps chdb chartjs
	go mod download
	go vet ./...
	$(LINT) run ./...
	go test $(GO_TEST_FLAGS) ./...
	go test -run='^$$' -fuzz=FuzzDecode -fuzztime=200000x ./schemas/

# The fast suite: no ClickHouse, no child tally, no browser (see SLOW_PKGS).
test-unit:
	go test $(UNIT_TEST_FLAGS) $$(go list ./... | grep -vE "^$$(go list -m)/($(SLOW_PKGS))(/|\$$)")

lint:
	$(LINT) run ./...

# Every fuzz target of the repo (found with go test -list), FUZZ_TIME each.
# FUZZ_MINIMIZE caps the minimizing of each new input (in runs), which
# would otherwise eat a slow target's whole FUZZ_TIME.
# Go 1.26's fuzz coordinator can fail a run with a bare "context deadline
# exceeded" at the -fuzztime deadline (go.dev/issue/75804); with no failing
# input written that is not a finding, so the loop goes on.
fuzz:
	@set -o pipefail; \
	pkgs=$$(go list -f '{{range .TestGoFiles}}{{$$.Dir}}/{{.}} {{end}}{{range .XTestGoFiles}}{{$$.Dir}}/{{.}} {{end}}' ./... | \
		xargs grep -l '^func Fuzz' | xargs -n1 dirname | sort -u); \
	targets=$$(go test -list '^Fuzz' $$pkgs | awk '/^Fuzz/ {n[++c] = $$1; next} /^ok/ {for (i = 1; i <= c; i++) print $$2, n[i]; c = 0}') || exit 1; \
	test -n "$$targets" || { echo "no fuzz targets found"; exit 1; }; \
	echo "$$targets" | while read -r pkg name; do \
		echo "== $$name ($$pkg) for $(FUZZ_TIME)"; \
		if out=$$(go test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZ_TIME) -fuzzminimizetime=$(FUZZ_MINIMIZE) $$pkg 2>&1); then \
			echo "$$out" | grep '^fuzz: elapsed' | tail -n 1; \
		elif echo "$$out" | grep -q 'context deadline exceeded' && ! echo "$$out" | grep -q 'Failing input written'; then \
			echo "$$out" | tail -n 5; echo "   (deadline race of the Go fuzz coordinator, no failing input: not a finding)"; \
		else \
			echo "$$out" | tail -n 40; exit 1; \
		fi; \
	done

bench: chdb build
	go run ./cmd/tally-bench -events $(BENCH_EVENTS)

# The fault suite (chaos/) at full size: real `tally run` processes killed
# under load. `make test` runs it too, at a small default size.
chaos: chdb
	TALLY_CHAOS_EVENTS=$(CHAOS_EVENTS) TALLY_CHAOS_KILLS=$(CHAOS_KILLS) go test -count=1 -v -timeout 180m ./chaos/

vet:
	go vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin .tally
