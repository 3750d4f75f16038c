#!/usr/bin/env bash
# Builds the project's native parts in one cargo invocation, so that cargo
# unifies their features and compiles wasmtime once for all of them:
#   build/modules/ngx_http_set_backend.so    the nginx module (Debian's nginx 1.22.1)
#   build/modules/proxy-wasm-precompile      ahead-of-time compiler for filters
#   host/node/proxy-wasm-host.linux-x64-gnu.node   the host's Node binding (napi-rs)
# Separate `cargo build -p` runs would each select a different feature set and
# rebuild wasmtime (minutes each on two cores).
# Prepares the configured nginx tree first (scripts/nginx-build-tree.sh).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/nginx-build-tree.sh"

export NGINX_BUILD_DIR="$root/build/nginx/objs"
cd "$root"
cargo build --release -p ngx-http-set-backend -p set-backend-host -p set-backend-host-node

target="${CARGO_TARGET_DIR:-$root/target}/release"
mkdir -p "$root/build/modules"

# Copy through a temporary name, then rename: a running nginx or Node may have
# the old file mapped.
install_file() {
  cp "$1" "$2.tmp"
  mv -f "$2.tmp" "$2"
  echo "built $2"
}
install_file "$target/libngx_http_set_backend.so" "$root/build/modules/ngx_http_set_backend.so"
install_file "$target/proxy-wasm-precompile" "$root/build/modules/proxy-wasm-precompile"
# What `napi build --platform` would do on Linux x64: the cdylib under the
# loader's name (host/node/index.js). Its types are hand-written (index.d.ts).
install_file "$target/libset_backend_host_node.so" "$root/host/node/proxy-wasm-host.linux-x64-gnu.node"
