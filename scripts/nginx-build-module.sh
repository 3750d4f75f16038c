#!/usr/bin/env bash
# Build the nginx module (nginx/) for Debian's packaged nginx and put it at a fixed
# path, build/modules/ngx_http_set_backend.so, whatever CARGO_TARGET_DIR is.
# Prepares the configured nginx tree first (scripts/nginx-build-tree.sh).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/nginx-build-tree.sh"

export NGINX_BUILD_DIR="$root/build/nginx/objs"
cd "$root"
cargo build -j2 --release -p ngx-http-set-backend

target="${CARGO_TARGET_DIR:-$root/target}"
mkdir -p "$root/build/modules"
# Copy through a temporary name: a running nginx may have the old file mapped.
cp "$target/release/libngx_http_set_backend.so" "$root/build/modules/.ngx_http_set_backend.so.tmp"
mv -f "$root/build/modules/.ngx_http_set_backend.so.tmp" "$root/build/modules/ngx_http_set_backend.so"
echo "nginx module: $root/build/modules/ngx_http_set_backend.so"

# The tool that precompiles a filter for set_backend_filter (native code for this
# machine and this wasmtime), built with the same engine settings as the module.
cargo build -j2 --release -p set-backend-host --bin proxy-wasm-precompile
cp "$target/release/proxy-wasm-precompile" "$root/build/modules/.proxy-wasm-precompile.tmp"
mv -f "$root/build/modules/.proxy-wasm-precompile.tmp" "$root/build/modules/proxy-wasm-precompile"
echo "precompiler: $root/build/modules/proxy-wasm-precompile"
