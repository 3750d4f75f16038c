# set-backend — build entry points. `make run` starts the system, `make test`
# runs every test; both install what is missing first.

STATE_DIR ?= $(CURDIR)/.run
export STATE_DIR

.PHONY: all deps run api test test-api typecheck bench bench-api clean

all: deps

# Node packages, reinstalled only when the lockfile changes.
node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund

deps: node_modules/.package-lock.json
	@scripts/system-deps.sh

# Until the nginx module lands, `make run` starts the route API alone.
run: deps
	@echo "make run: starting the route API (the nginx parts are not wired in yet); Ctrl-C stops it"
	node --import=tsx api/src/main.ts

api: deps
	node --import=tsx api/src/main.ts

typecheck: deps
	npx tsc --noEmit -p .

test-api: deps
	npx ava 'api/**/*.test.ts'

test: typecheck test-api

bench: bench-api

bench-api: deps
	node --import=tsx bench/api-resolve.ts

clean:
	rm -rf build target node_modules/.cache
