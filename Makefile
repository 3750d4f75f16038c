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

# The route API and nginx in the foreground (scripts/run.ts); until the nginx
# module and the filter are built, the route API alone.
run: deps
	node --import=tsx scripts/run.ts

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
