#!/usr/bin/env bash
# Routing throughput and latency of Debian's nginx with the module, 1 and 2 workers,
# requests spread over 1,000 hosts (all cached after a warm-up), in one run:
#   (a) static upstream + keepalive        — the limit
#   (b) static proxy_pass, no keepalive
#   (c) set_backend + set_backend_balancer + keepalive
#   (d) set_backend + proxy_pass http://$backend$request_uri   (the seed's form)
# The backend is a second nginx answering 200 from memory; the route API is a stub
# on a unix socket (the real one is measured in bench/api-resolve.ts).
# Needs: wrk, build/modules/ngx_http_set_backend.so, build/resolver.wasm.
# Usage: scripts/nginx-bench.sh [seconds per run, default 10]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secs="${1:-10}"
module="${SET_BACKEND_MODULE:-$root/build/modules/ngx_http_set_backend.so}"
filter="${SET_BACKEND_FILTER:-$root/build/resolver.wasm}"
for f in "$module" "$filter" /usr/bin/wrk; do
  [[ -e "$f" ]] || { echo "nginx-bench: missing $f" >&2; exit 1; }
done

dir="$(mktemp -d /tmp/set-backend-bench.XXXXXX)"
chmod 755 "$dir"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [[ -f "$dir/front.pid" ]] && kill "$(cat "$dir/front.pid")" 2>/dev/null || true
  [[ -f "$dir/back.pid" ]] && kill "$(cat "$dir/back.pid")" 2>/dev/null || true
  sleep 0.3
  rm -rf "$dir"
}
trap cleanup EXIT

back=18901
user=""; [[ $(id -u) -eq 0 ]] && user="user root root;"

cat >"$dir/back.conf" <<CONF
$user
worker_processes 1;
pid $dir/back.pid;
error_log $dir/back.log warn;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$back reuseport backlog=4096; location / { return 200 "ok\n"; } } }
CONF
nginx -p "$dir" -c "$dir/back.conf"

# Route API stub: every host resolves to the backend; /changes is an idle long-poll.
cat >"$dir/api.mjs" <<JS
import http from "node:http";
import fs from "node:fs";
const s = http.createServer((req, res) => {
  const m = /^\/resolve\/(.+)$/.exec(req.url);
  if (m) { res.setHeader("content-type", "application/json");
    return res.end(JSON.stringify({ host: m[1], backend: "127.0.0.1:$back", match: "exact", pattern: m[1] })); }
  if (req.url.startsWith("/changes")) { setTimeout(() => res.end('{"seq":0,"changes":[]}'), 20000); return; }
  res.statusCode = 404; res.end();
});
s.listen("$dir/api.sock", () => fs.chmodSync("$dir/api.sock", 0o666));
JS
node "$dir/api.mjs" & pids+=($!)
for _ in $(seq 50); do [[ -S "$dir/api.sock" ]] && break; sleep 0.1; done

cat >"$dir/hosts.lua" <<'LUA'
local i = 0
request = function()
  i = i % 1000 + 1
  return wrk.format("GET", "/", { ["Host"] = "site" .. i .. ".example.com" })
end
LUA

front_conf() {
  cat <<CONF
load_module $module;
$user
worker_processes $1;
pid $dir/front.pid;
error_log $dir/front.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  set_backend_filter $filter;
  set_backend_shared_zone bench 64m;
  set_backend_cluster route_api unix:$dir/api.sock;
  upstream static { server 127.0.0.1:$back; keepalive 256; }
  upstream routed { set_backend_balancer; keepalive 256; }
  server { listen 127.0.0.1:18911; location / { proxy_pass http://static; proxy_http_version 1.1; proxy_set_header Connection ""; } }
  server { listen 127.0.0.1:18912; location / { proxy_pass http://127.0.0.1:$back; } }
  server { listen 127.0.0.1:18913; location / { set_backend \$backend; proxy_pass http://routed; proxy_http_version 1.1; proxy_set_header Connection ""; } }
  server { listen 127.0.0.1:18914; location / { set_backend \$backend; proxy_pass http://\$backend\$request_uri; } }
}
CONF
}

run() { # port → "req/s p50 p99"
  wrk -t1 -c32 -d"${secs}s" --latency -s "$dir/hosts.lua" "http://127.0.0.1:$1/" >"$dir/wrk.out"
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$dir/wrk.out")
  p50=$(awk '$1=="50%" {print $2}' "$dir/wrk.out")
  p99=$(awk '$1=="99%" {print $2}' "$dir/wrk.out")
  local errs; errs=$(awk '/Non-2xx|Socket errors/ {print}' "$dir/wrk.out")
  echo "$rps $p50 $p99 ${errs:+($errs)}"
}

echo "| workers | setup | req/s | ratio | p50 | p99 |"
echo "| --- | --- | --- | --- | --- | --- |"
for workers in 1 2; do
  front_conf "$workers" >"$dir/front.conf"
  [[ -f "$dir/front.pid" ]] && { kill "$(cat "$dir/front.pid")"; sleep 0.5; }
  nginx -p "$dir" -c "$dir/front.conf"
  sleep 0.5
  # Warm the shared cache: every host once through the routed ports.
  wrk -t1 -c4 -d2s -s "$dir/hosts.lua" http://127.0.0.1:18913/ >/dev/null
  declare -A res=()
  for p in 18911 18912 18913 18914; do res[$p]="$(run $p)"; done
  base_a=$(echo "${res[18911]}" | cut -d' ' -f1); base_b=$(echo "${res[18912]}" | cut -d' ' -f1)
  for p in 18911 18912 18913 18914; do
    read -r rps p50 p99 rest <<<"${res[$p]}"
    case $p in
      18911) name="(a) static + keepalive"; ratio="1.00 × a";;
      18912) name="(b) static, no keepalive"; ratio="1.00 × b";;
      18913) name="(c) set_backend balancer + keepalive"; ratio="$(awk -v x="$rps" -v y="$base_a" 'BEGIN{printf "%.2f × a", x/y}')";;
      18914) name="(d) set_backend + proxy_pass \$backend"; ratio="$(awk -v x="$rps" -v y="$base_b" 'BEGIN{printf "%.2f × b", x/y}')";;
    esac
    echo "| $workers | $name | $rps | $ratio | $p50 | $p99 | $rest"
  done
  unset res
done
grep -v '\[notice\]' "$dir/front.log" | tail -5 >&2 || true
