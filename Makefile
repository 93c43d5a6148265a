# needsbot — the README's commands, spelled out.
GO ?= go

.PHONY: test check fmt vet staticcheck lint try update bench fuzz

## test: everything CI runs (gofmt, vet, lint, race tests against real Redis and Postgres).
## -p 2 -parallel 2: two packages at a time, two parallel tests each, whatever the
## machine's cores (the defaults are the core count): the Postgres connections the
## suites hold at once (32 at the peak on 2 cores, session 13) then do not grow with the
## machine toward the server's max_connections (100 by default).
test: check
	$(GO) test -race -count=1 -p 2 -parallel 2 -timeout 45m ./...

## check: the quick static checks
check: fmt vet staticcheck lint

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	$(GO) vet -tags prod ./...

## staticcheck: honnef.co/go/tools at a pinned version, fetched through the
## module proxy like any module (nothing else to install); config: staticcheck.conf
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
staticcheck:
	$(GO) run $(STATICCHECK) ./...

lint:
	$(GO) run ./cmd/needsbot lint

## try: run needsbot locally without a Telegram token
try:
	$(GO) run ./cmd/needsbot try

## update: rewrite golden files and reference images after an intended change
## (review the diff). -update is internal/golden's flag, so it goes only to the
## packages whose tests import internal/golden; the tests that write goldens
## have "Golden" or "References" in their names.
GOLDEN_PKGS = $(GO) list -f '{{.ImportPath}}{{range .TestImports}} {{.}}{{end}}{{range .XTestImports}} {{.}}{{end}}' ./... \
	| awk '/ github.com\/needsbot\/needsbot\/internal\/golden( |$$)/ {print $$1}'
update:
	$(GO) test -count=1 -run 'Golden|References' $$($(GOLDEN_PKGS)) -update

## bench: the engine and storage benchmarks
bench:
	$(GO) test -run XXX -bench . -benchmem ./dialog/ ./dialog/xpath/ ./storage/...

## fuzz: a minute of each fuzzer
fuzz:
	$(GO) test ./dialog/xpath -run XXX -fuzz FuzzParse -fuzztime 60s
	$(GO) test ./dialog -run XXX -fuzz FuzzStep -fuzztime 60s
	$(GO) test ./internal/tghtml -run XXX -fuzz FuzzEscapePlain -fuzztime 60s
