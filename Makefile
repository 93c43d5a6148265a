# needsbot — the README's commands, spelled out.
GO ?= go

.PHONY: test check fmt vet lint try update bench fuzz

## test: everything CI runs (gofmt, vet, lint, race tests against real Redis and Postgres)
test: check
	$(GO) test -race -count=1 ./...

## check: the quick static checks
check: fmt vet lint

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

lint:
	$(GO) run ./cmd/needsbot lint

## try: run needsbot locally without a Telegram token
try:
	$(GO) run ./cmd/needsbot try

## update: rewrite golden transcripts after an intended change
update:
	$(GO) test ./... -run Golden -update

## bench: the engine and storage benchmarks
bench:
	$(GO) test -run XXX -bench . -benchmem ./dialog/ ./storage/...

## fuzz: a minute of each fuzzer
fuzz:
	$(GO) test ./dialog -run XXX -fuzz FuzzParseExpr -fuzztime 60s
	$(GO) test ./dialog -run XXX -fuzz FuzzStep -fuzztime 60s
