# Portcullis. Every target installs or fetches what it needs through the Go
# toolchain; nothing relies on a tool installed by hand.

GO        ?= go
BIN       := bin/portcullis
DATA_DIR  ?= $(CURDIR)/data
LISTEN    ?= 127.0.0.1:9200
ES_PORT   ?= 9201
ES_URL    ?= http://127.0.0.1:$(ES_PORT)
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all build run test opa-test lint fuzz bench bench-load clean es-up es-down

all: build

## build: compile bin/portcullis
build:
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/portcullis

## run: serve the gateway on $(LISTEN) in front of $(ES_URL), embedded NATS under $(DATA_DIR)
run: build
	@curl -fsS -m 2 $(ES_URL)/_cluster/health >/dev/null 2>&1 || ES_PORT=$(ES_PORT) scripts/elasticsearch up >/dev/null
	$(BIN) serve --listen $(LISTEN) --upstream $(ES_URL) --data-dir $(DATA_DIR)

## test: the whole suite: Rego tests, vet, Go tests (race detector on) against
## real NATS (embedded), a real Elasticsearch node (scripts/elasticsearch) and
## a real OpenLDAP slapd (scripts/ldap-test-server, which the LDAP tests call:
## it apt-installs Debian's slapd when missing, ~6s here).
## Under CI=true a node that cannot start fails the run; elsewhere its tests
## are skipped with a warning. The allocation tests run once more without
## the race detector, which changes allocation counts.
test: opa-test lint
	@started=; \
	if ES_PORT=$(ES_PORT) scripts/elasticsearch status >/dev/null 2>&1; then es_url=$$(ES_PORT=$(ES_PORT) scripts/elasticsearch url); \
	elif es_url=$$(ES_PORT=$(ES_PORT) scripts/elasticsearch up); then started=1; \
	elif [ "$$CI" = true ]; then echo "make test: Elasticsearch could not start (see above)" >&2; exit 1; \
	else echo "!!! make test: no Elasticsearch node: the tests that need one are SKIPPED" >&2; es_url=; fi; \
	PORTCULLIS_TEST_ES_URL=$$es_url $(GO) test -race -count=1 -timeout 40m ./... && \
	$(GO) test -count=1 -run 'Alloc' ./gateway/ ./gateway/canon/ ./gateway/classify/ ./projector/ ./policy/; rc=$$?; \
	if [ -n "$$started" ] && [ "$$CI" = true ]; then ES_PORT=$(ES_PORT) scripts/elasticsearch down; fi; \
	exit $$rc

## opa-test: the Rego unit tests of rego/ (opa test semantics, run by the binary's own OPA)
opa-test:
	$(GO) run ./cmd/portcullis policy test rego/

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## fuzz: run every fuzz test briefly (FUZZTIME=30s by default)
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## bench: the Go benchmarks of BENCHMARKS.md, exactly these (BENCH), each
## for BENCHTIME, with -benchmem; the output is also written to BENCH_OUT.
## Profile one with e.g. go test -run '^$$' -bench BenchmarkDecision -cpuprofile cpu.out ./policy/
BENCH_OUT ?= bench/results/bench.txt
BENCHTIME ?= 1s
BENCH := ^(BenchmarkDecision|BenchmarkSetRoles|BenchmarkClassifySearch|BenchmarkClassifyBulk1MB|BenchmarkBasicCacheHit|BenchmarkFold|BenchmarkTokenLookup1M)$$
BENCH_PKGS := ./policy/ ./gateway/classify/ ./gateway/ ./projector/
bench:
	@mkdir -p $(dir $(BENCH_OUT))
	@( $(GO) test -run='^$$' -bench='$(BENCH)' -benchmem -benchtime=$(BENCHTIME) -count=1 -p=1 -timeout 30m $(BENCH_PKGS); \
	  echo $$? >$(BENCH_OUT).rc ) 2>&1 | tee $(BENCH_OUT); \
	rc=$$(cat $(BENCH_OUT).rc); rm -f $(BENCH_OUT).rc; \
	echo "make bench: results in $(BENCH_OUT)"; exit $$rc

## bench-load: the load harness (bench/load): upstream alone, bare fasthttp
## proxy, the bare proxy recording every outcome (bench/outcomeproxy), nginx
## auth_basic (apt-installed when missing) and Portcullis, side by side on
## loopback; the report goes to bench/results/load.md.
## BENCH_LOAD_FLAGS passes flags, e.g. -quick, -duration 10s, -conns 64.
BENCH_LOAD_FLAGS ?=
bench-load: build
	$(GO) build -o bin/bench-load ./bench/load
	bin/bench-load -portcullis $(BIN) $(BENCH_LOAD_FLAGS)

## es-up / es-down: the local Elasticsearch node (scripts/elasticsearch)
es-up:
	ES_PORT=$(ES_PORT) scripts/elasticsearch up
es-down:
	ES_PORT=$(ES_PORT) scripts/elasticsearch down

## bench-audit: audit documents per second into the real Elasticsearch against
## a raw BulkIndexer loop over the same documents, alternating in one run, the
## ratio of the medians (bench/audit; method in bench/RESULTS-audit.md). The
## node is PORTCULLIS_TEST_ES_URL, else $(ES_URL) (started when it does not
## answer). Flags: BENCH_AUDIT_FLAGS="-n 50000 -rounds 5".
BENCH_AUDIT_FLAGS ?=
.PHONY: bench-audit
bench-audit:
	@es_url=$${PORTCULLIS_TEST_ES_URL:-$(ES_URL)}; \
	if ! curl -fsS -m 2 "$$es_url/_cluster/health" >/dev/null 2>&1; then \
	  if [ -n "$$PORTCULLIS_TEST_ES_URL" ]; then echo "make bench-audit: no Elasticsearch at $$es_url" >&2; exit 1; fi; \
	  es_url=$$(ES_PORT=$(ES_PORT) scripts/elasticsearch up) || exit 1; \
	fi; \
	PORTCULLIS_TEST_ES_URL=$$es_url $(GO) run ./bench/audit $(BENCH_AUDIT_FLAGS)

clean:
	rm -rf bin

.PHONY: bench-coldstart bench-revocation bench-memory

## bench-coldstart: start-up with 1M state events, with and without a snapshot (bench/coldstart)
bench-coldstart: build
	$(GO) run ./bench/coldstart -bin $(BIN)

## bench-revocation: p50/p99/max from a logout or key invalidation on one replica to refusal on another
bench-revocation:
	$(GO) test -run='^$$' -bench=Revocation -benchtime=1x ./cmd/portcullis/

## bench-memory: bytes per live token with 1M tokens; snapshot codec against encoding/gob
bench-memory:
	$(GO) test -run='^$$' -bench='TokenMemory|SnapshotCodec' -benchtime=1x -benchmem ./projector/
