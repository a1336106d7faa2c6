# Tally — make targets. `make run` and `make test` are all a new user needs.
SHELL := /bin/bash

CHDB_PKG     := @chdb/lib-linux-x64-gnu@26.7.3-stable.1
CHDB_DIR     := .cache/chdb
CHDB_LIB     := $(CHDB_DIR)/package/libchdb.so
BIN          := bin/tally
VERSION      ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GO_TEST_FLAGS ?= -race -count=1 -timeout 45m
FUZZ_TIME    ?= 30s
BENCH_EVENTS ?= 1000000

.PHONY: all build chdb run test test-short fuzz bench vet fmt clean

all: build

build:
	go build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/tally

# libchdb.so (ClickHouse 26.7 as a library) for the managed local server.
chdb: $(CHDB_LIB)

$(CHDB_LIB):
	@mkdir -p $(CHDB_DIR)
	@echo "fetching $(CHDB_PKG) (178 MB download, 566 MB unpacked) into $(CHDB_DIR)"
	cd $(CHDB_DIR) && rm -f chdb-lib-*.tgz && npm pack --silent $(CHDB_PKG) >/dev/null
	cd $(CHDB_DIR) && tar xzf chdb-lib-linux-x64-gnu-*.tgz && rm -f chdb-lib-linux-x64-gnu-*.tgz
	@test -f $@

# Run Tally on its embedded defaults: embedded NATS, managed ClickHouse,
# dev keys, all in ./.tally.
run: chdb build
	./$(BIN) run

test: chdb
	go vet ./...
	go test $(GO_TEST_FLAGS) ./...
	go test -run='^$$' -fuzz=FuzzDecode -fuzztime=20s ./schemas/

fuzz:
	go test -run='^$$' -fuzz=FuzzDecode -fuzztime=$(FUZZ_TIME) ./schemas/

bench: chdb build
	go run ./cmd/tally-bench -events $(BENCH_EVENTS)

vet:
	go vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin .tally
