GO ?= go

.PHONY: test
# test: go vet + race tests against real PostgreSQL. Uses TEST_DATABASE_URL or
# DATABASE_URL when set, otherwise a throwaway cluster (see .ci/postgres.sh).
test:
	.ci/postgres.sh sh -c '$(GO) vet ./... && $(GO) test -race -timeout 20m ./...'
