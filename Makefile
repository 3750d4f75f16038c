# set-backend — build entry points. `make run` starts the system, `make test`
# runs every test; both install and build what is missing first.

STATE_DIR ?= $(CURDIR)/.run
export STATE_DIR
# The ngx crate generates its bindings from Debian's configured nginx tree.
export NGINX_BUILD_DIR := $(CURDIR)/build/nginx/objs
CARGO_TARGET_DIR ?= $(CURDIR)/target
export CARGO_TARGET_DIR
# Two cores: one compile job each.
export CARGO_BUILD_JOBS ?= 2

FILTER := build/resolver.wasm
MODULE := build/modules/ngx_http_set_backend.so
BINDING := host/node/proxy-wasm-host.linux-x64-gnu.node
HOST_SOURCES := Cargo.toml Cargo.lock $(shell find host -name '*.rs' -o -name Cargo.toml 2>/dev/null)
NGINX_SOURCES := $(HOST_SOURCES) $(shell find nginx -name '*.rs' -o -name Cargo.toml 2>/dev/null) scripts/build-native.sh
WASM_SOURCES := asconfig.json $(shell find wasm/src -name '*.ts' 2>/dev/null)

.PHONY: all deps build run api test typecheck lint test-api test-cli test-ui test-wasm test-rust test-binding test-filter \
        test-nginx test-e2e bench bench-deps bench-api bench-import bench-host bench-routing bench-zone bench-longtail clean \
        etcd-deps fleet test-fleet bench-fleet

all: build

# Node packages, reinstalled only when the lockfile changes.
node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund

deps: node_modules/.package-lock.json
	@scripts/system-deps.sh

build: deps $(FILTER) $(MODULE) $(BINDING)

$(FILTER): $(WASM_SOURCES) node_modules/.package-lock.json
	npx asc --config asconfig.json --target release

# One cargo invocation builds the module, the precompiler and the Node binding,
# so that wasmtime is compiled once for all three (scripts/build-native.sh).
$(MODULE) $(BINDING) &: $(NGINX_SOURCES)
	scripts/build-native.sh

# The route API and nginx in the foreground (scripts/run.ts).
run: build
	node --import=tsx scripts/run.ts

api: deps
	node --import=tsx api/src/main.ts

test: typecheck lint test-api test-cli test-ui test-wasm test-rust test-binding test-filter test-nginx test-e2e test-fleet test-packages

typecheck: deps
	npx tsc --noEmit -p .

# Formatting and clippy for the two Rust crates, warnings as errors; the crates deny
# unsafe blocks without a SAFETY comment and public unsafe fns without a
# `# Safety` section. Release profile, as the module's build: clippy reuses its
# build scripts (nginx-sys' bindings) and proc macros instead of building them again.
lint:
	@scripts/nginx-build-tree.sh
	cargo fmt --check -p set-backend-host -p ngx-http-set-backend
	cargo clippy --release -p set-backend-host -p ngx-http-set-backend --all-targets -- -D warnings

test-api: deps
	npx ava 'api/**/*.test.ts'

# The set-backend command (cli/) run as a process against a real route API.
test-cli: deps
	npx ava --serial --concurrency=2 'tests/cli/*.test.ts'

# The admin page (/ui) in Debian's Chromium, driven by playwright-core, which
# never downloads a browser of its own.
test-ui: deps
	@scripts/system-deps.sh chromium
	npx ava 'tests/ui/*.test.ts'

test-wasm: deps $(FILTER)
	node wasm/scripts/check-module.mjs
	npx asp --config wasm/as-pect.config.js --as-config wasm/as-pect.asconfig.json
	npx asc --config wasm/vectors.asconfig.json

# host/'s tests select a different feature set than the module's build, so they
# cannot reuse its release artifacts: they build in the (faster to compile) dev
# profile. The module's unit tests reuse its release build.
test-rust: deps $(MODULE)
	cargo test -p set-backend-host
	cargo test --release -p ngx-http-set-backend

test-binding: $(BINDING)
	npx ava host/node/binding.test.ts

test-filter: $(BINDING) test-wasm
	npx ava 'tests/filter/**/*.test.ts'

test-nginx: $(MODULE) $(FILTER)
	npx ava --concurrency=1 'tests/nginx/*.test.ts'

# One file at a time (here and for tests/nginx): each file runs nginx on ports picked free, and
# concurrent files raced for them (an intermittent ECONNREFUSED seen in CI runs).
test-e2e: build
	npx ava --concurrency=1 'tests/e2e/*.test.ts'

# A fleet of edges on etcd (docs/fleet.md): Debian's etcd for the cluster, then
# two edges (route API + nginx each) in the foreground (scripts/fleet.ts).
etcd-deps:
	@scripts/system-deps.sh etcd-server etcd-client

fleet: build etcd-deps
	node --import=tsx scripts/fleet.ts

# Real etcd members and real nginx edges; one file at a time, each starts its own cluster.
test-fleet: build etcd-deps
	npx ava --concurrency=1 --timeout=5m 'tests/fleet/*.test.ts'

# Release packaging (docs/deploy.md): the Debian packages into build/deb/, the
# container image into buildah's storage and build/image/, and the tests that
# install both on this machine (as root; everything is purged afterwards).
.PHONY: deb image test-packages

deb: build
	@scripts/system-deps.sh dpkg-dev binutils lintian
	packaging/build-debs.sh

image: deb
	@scripts/system-deps.sh buildah debootstrap dpkg-repack
	packaging/image/build.sh

test-packages: deb image
	@scripts/system-deps.sh systemd
	npx ava --concurrency=1 --timeout=10m 'tests/packages/*.test.ts'

bench: bench-api bench-import bench-host bench-routing

# The alternatives the routing benchmark compares against, and its tools.
bench-deps:
	@scripts/system-deps.sh wrk haproxy libnginx-mod-http-lua lua-resty-core gnuplot-nox valgrind

bench-routing: build bench-deps
	node --import=tsx bench/routing/run.ts

# Zipf-distributed Host headers over 1,000,000 routes: hit rate and cost of the long tail.
bench-longtail: build bench-deps
	node --import=tsx bench/longtail/run.ts

bench-api: deps
	node --import=tsx bench/api-resolve.ts

bench-import: deps
	node --import=tsx bench/import-memory.ts

# How many routes the shared cache zone holds (ZONE=2m by default).
bench-zone: $(MODULE) $(FILTER)
	node --import=tsx bench/zone-capacity.ts

bench-fleet: build etcd-deps
	node --import=tsx bench/fleet.ts

bench-host: deps
	cargo bench -p set-backend-host --bench filter_call

clean:
	rm -rf build target host/node/*.node

# Soak and fuzz (tests/soak/, docs/benchmarks.md#soak): make run's system with a
# full cache zone under mixed traffic, route changes every few ms and reloads,
# then Host headers fuzzed over raw sockets. `make test` runs the short form
# (60 s of traffic, 2,000 fuzz cases; the ABI fuzz's short rounds are in
# test-rust); `make soak` the long one. Each prints its seed: SOAK_SEED,
# FUZZ_SEED and ABI_FUZZ_SEED replay a run.
.PHONY: soak test-soak
test: test-soak
test-soak: build
	npx ava --concurrency=1 --timeout=10m 'tests/soak/*.test.ts'

SOAK_SECONDS ?= 600
FUZZ_CASES ?= 50000
ABI_FUZZ_ROUNDS ?= 100
ABI_FUZZ_CALLS ?= 100
soak: build
	ABI_FUZZ_ROUNDS=$(ABI_FUZZ_ROUNDS) ABI_FUZZ_CALLS=$(ABI_FUZZ_CALLS) cargo test -p set-backend-host --test abi_fuzz -- --nocapture
	SOAK_SECONDS=$(SOAK_SECONDS) npx ava --concurrency=1 --timeout=$$(($(SOAK_SECONDS) + 600))s tests/soak/soak.test.ts
	FUZZ_CASES=$(FUZZ_CASES) npx ava --concurrency=1 --timeout=30m tests/soak/host-fuzz.test.ts
