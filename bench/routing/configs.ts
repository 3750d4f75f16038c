// The configurations under test. Every front end listens on the same port, runs
// alone, and proxies to the same backend nginx; only the routing differs.
import { fileURLToPath } from "node:url";

export const BACKEND_A = 28901; // every route points here
export const BACKEND_B = 28902; // routes moved by the propagation test point here
export const FRONT = 28910;

export type SetupId =
  | "static-ka"
  | "static"
  | "map"
  | "lua-access"
  | "lua-balancer"
  | "haproxy"
  | "ours-balancer"
  | "ours-variable";

export interface Setup {
  id: SetupId;
  label: string;
  /** The limit it is compared with: the same transport, with no lookup. */
  kind: "nginx" | "haproxy";
  /** Routes come from the route API (warm-up fills a cache), not from configuration. */
  usesApi: boolean;
}

export const SETUPS: Setup[] = [
  { id: "static-ka", label: "(1a) static upstream + keepalive", kind: "nginx", usesApi: false },
  { id: "static", label: "(1b) static proxy_pass, no keepalive", kind: "nginx", usesApi: false },
  { id: "map", label: "(2) nginx map + proxy_pass http://$backend", kind: "nginx", usesApi: false },
  { id: "lua-access", label: "(3) Lua access_by_lua + shared dict + proxy_pass http://$backend", kind: "nginx", usesApi: true },
  { id: "lua-balancer", label: "(4) Lua balancer_by_lua + shared dict + keepalive", kind: "nginx", usesApi: true },
  { id: "haproxy", label: "(5) HAProxy map + set-dst + http-reuse", kind: "haproxy", usesApi: false },
  { id: "ours-balancer", label: "(6a) set_backend balancer + keepalive", kind: "nginx", usesApi: true },
  { id: "ours-variable", label: "(6b) set_backend + proxy_pass http://$backend$request_uri", kind: "nginx", usesApi: true },
];

export interface Paths {
  dir: string;
  module: string;
  filter: string;
  /** The filter as WebAssembly: valgrind's virtual CPU lacks features the precompiled one was compiled for. */
  wasmFilter: string;
  apiSocket: string;
  mapFile: string;
  haproxyMap: string;
  haproxySocket: string;
}

const LUA_DIR = fileURLToPath(new URL("./lua/", import.meta.url));
const runAsRoot = process.getuid?.() === 0 ? "user root root;" : "";

export function backendConf(p: Paths): string {
  return `${runAsRoot}
worker_processes 1;
pid ${p.dir}/backend.pid;
error_log ${p.dir}/backend.error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 10000000;
  server { listen 127.0.0.1:${BACKEND_A} backlog=4096; location / { return 200 "a\\n"; } }
  server { listen 127.0.0.1:${BACKEND_B} backlog=4096; location / { return 200 "b\\n"; } }
}
`;
}

const KEEPALIVE_PROXY = `proxy_http_version 1.1; proxy_set_header Connection "";`;

function location(setup: SetupId): string {
  switch (setup) {
    case "static-ka":
      return `proxy_pass http://static; ${KEEPALIVE_PROXY}`;
    case "static":
      return `proxy_pass http://127.0.0.1:${BACKEND_A};`;
    case "map":
      return `proxy_pass http://$backend;`;
    case "lua-access":
      return `set $backend ""; access_by_lua_block { require("bench_router").access() } proxy_pass http://$backend;`;
    case "lua-balancer":
      return `set $backend ""; access_by_lua_block { require("bench_router").access() } proxy_pass http://lua_routed; ${KEEPALIVE_PROXY}`;
    case "ours-balancer":
      return `set_backend $backend; proxy_pass http://routed; ${KEEPALIVE_PROXY}`;
    case "ours-variable":
      return `set_backend $backend; proxy_pass http://$backend$request_uri;`;
    case "haproxy":
      throw new Error("HAProxy is not an nginx setup");
  }
}

function httpBlockExtras(setup: SetupId, p: Paths): string {
  switch (setup) {
    case "static-ka":
      return `upstream static { server 127.0.0.1:${BACKEND_A}; keepalive 256; }`;
    case "map":
      // Sized for 1,000,000 names (nginx refuses to start if the hash does not fit).
      return `map_hash_max_size 4194304; map_hash_bucket_size 128;
  map $host $backend { include ${p.mapFile}; }`;
    case "lua-access":
    case "lua-balancer":
      return `lua_package_path "${LUA_DIR}?.lua;;";
  lua_shared_dict routes 64m;
  upstream route_api { server unix:${p.apiSocket}; keepalive 16; }
  upstream lua_routed { server 0.0.0.1; balancer_by_lua_block { require("bench_router").balance() } keepalive 256; }`;
    case "ours-balancer":
    case "ours-variable":
      return `set_backend_filter ${p.filter};
  set_backend_filter_config '{"resolver_cluster": "route_api"}';
  set_backend_filter_timeout 10ms;
  set_backend_shared_zone set_backend 64m;
  set_backend_cluster route_api unix:${p.apiSocket};
  upstream routed { set_backend_balancer; keepalive 256; }`;
    default:
      return "";
  }
}

function modules(setup: SetupId, p: Paths): string {
  if (setup === "lua-access" || setup === "lua-balancer") {
    return "load_module /usr/lib/nginx/modules/ndk_http_module.so;\nload_module /usr/lib/nginx/modules/ngx_http_lua_module.so;";
  }
  if (setup === "ours-balancer" || setup === "ours-variable") return `load_module ${p.module};`;
  return "";
}

export function nginxConf(setup: SetupId, workers: number, p: Paths): string {
  // The Lua setups' lookup location: /_resolve/<host> → the route API's /resolve/<host>.
  const resolveLocation =
    setup === "lua-access" || setup === "lua-balancer"
      ? `location /_resolve/ { internal; rewrite ^/_resolve/(.*)$ /resolve/$1 break; proxy_pass http://route_api; ${KEEPALIVE_PROXY} }`
      : "";
  return `${modules(setup, p)}
${runAsRoot}
worker_processes ${workers};
pid ${p.dir}/front.pid;
error_log ${p.dir}/front.error.log ${process.env.BENCH_NGINX_LOG ?? "warn"};
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 10000000;
  client_body_temp_path ${p.dir}/tmp;
  proxy_temp_path ${p.dir}/tmp;
  fastcgi_temp_path ${p.dir}/tmp;
  uwsgi_temp_path ${p.dir}/tmp;
  scgi_temp_path ${p.dir}/tmp;
  ${httpBlockExtras(setup, p)}
  server {
    listen 127.0.0.1:${FRONT} backlog=4096;
    location / { ${location(setup)} }
    ${resolveLocation}
  }
}
`;
}

export function haproxyConf(threads: number, p: Paths): string {
  // The map's value is "ip:port"; set-dst/set-dst-port point the one dynamic
  // server at it, and http-reuse keeps idle server connections for reuse.
  return `global
  nbthread ${threads}
  maxconn 8000
  stats socket ${p.haproxySocket} mode 600 level admin
  log stderr format raw local0 err

defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 30s
  option http-keep-alive

frontend routed
  bind 127.0.0.1:${FRONT}
  http-request set-var(txn.backend) req.hdr(host),lower,map(${p.haproxyMap})
  http-request return status 404 unless { var(txn.backend) -m found }
  http-request set-dst var(txn.backend),field(1,:)
  http-request set-dst-port var(txn.backend),field(2,:)
  default_backend dynamic

backend dynamic
  http-reuse always
  server any 0.0.0.0:0
`;
}
