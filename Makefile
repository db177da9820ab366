GO ?= go

.PHONY: test demo build bench lint

# test: go vet + race tests against a real PostgreSQL and headless Chromium.
# Uses TEST_DATABASE_URL or DATABASE_URL when set, otherwise a throwaway
# cluster (.ci/postgres.sh); installs Debian's chromium when missing
# (.ci/chromium.sh).
test:
	.ci/chromium.sh
	.ci/postgres.sh sh -c '$(GO) vet ./... && $(GO) test -race -timeout 20m ./...'

# demo: two simulated nights with a silent vendor update, on the embedded
# PostgreSQL (installs Debian's postgresql package first when missing).
demo:
	.ci/postgres-binaries.sh
	$(GO) run ./cmd/driftwatch demo

build:
	$(GO) build -o bin/driftwatch ./cmd/driftwatch

lint:
	$(GO) vet ./...
	test -z "$$(gofmt -l $$(git ls-files '*.go'))"

bench:
	bench/run.sh
