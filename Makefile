# Portcullis. Every target installs or fetches what it needs through the Go
# toolchain; nothing relies on a tool installed by hand.

GO        ?= go
BIN       := bin/portcullis
DATA_DIR  ?= $(CURDIR)/data
LISTEN    ?= 127.0.0.1:9200
ES_PORT   ?= 9201
ES_URL    ?= http://127.0.0.1:$(ES_PORT)
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all build run test opa-test lint fuzz bench clean es-up es-down

all: build

## build: compile bin/portcullis
build:
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/portcullis

## run: serve the gateway on $(LISTEN) in front of $(ES_URL), embedded NATS under $(DATA_DIR)
run: build
	@curl -fsS -m 2 $(ES_URL)/_cluster/health >/dev/null 2>&1 || ES_PORT=$(ES_PORT) scripts/elasticsearch up >/dev/null
	$(BIN) serve --listen $(LISTEN) --upstream $(ES_URL) --data-dir $(DATA_DIR)

## test: the whole suite: Rego unit tests, vet, Go tests (race detector on)
test: opa-test lint
	$(GO) test -race -count=1 -timeout 30m ./...

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

## bench: the benchmarks (see BENCHMARKS.md for method)
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

## es-up / es-down: the local Elasticsearch node (scripts/elasticsearch)
es-up:
	ES_PORT=$(ES_PORT) scripts/elasticsearch up
es-down:
	ES_PORT=$(ES_PORT) scripts/elasticsearch down

clean:
	rm -rf bin
