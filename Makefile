# Hexward: `make run` serves the map with demo data on a private PostGIS;
# `make test` runs every test. Both install what is missing first.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
ADDR ?= 127.0.0.1:8080
SCALE ?= 1

.PHONY: run test deps ui build vet gotest fuzz e2e bench clean

run: build
	bin/hexward serve --demo --demo-scale $(SCALE) --addr $(ADDR)

test: build vet gotest fuzz e2e

deps:
	@scripts/deps.sh

ui: deps
	@HEXWARD_UI_NO_SYSTEM=1 scripts/ui-vendor.sh

build: ui
	go build -o bin/hexward ./cmd/hexward

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	go vet ./...

gotest:
	go test -race -count=1 -timeout 20m ./...

fuzz:
	scripts/fuzz.sh

e2e: build
	@scripts/ui-vendor.sh
	scripts/e2e.sh

bench: build
	scripts/bench.sh

clean:
	rm -rf bin .hexward
