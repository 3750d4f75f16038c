// Renders nginx/nginx.conf.template for a state directory: `make run` and the
// end-to-end tests run nginx from the same configuration.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

export const root = resolve(import.meta.dirname, "..");
export const defaultModule = join(root, "build/modules/ngx_http_set_backend.so");
export const defaultFilter = join(root, "build/resolver.wasm");
export const defaultPages = join(root, "nginx/pages");
/** The user nginx's workers run as (when the master runs as root); its group may open the internal socket. */
export const WORKER_USER = "www-data";
/** client_max_body_size of routed hosts unless MAX_BODY_SIZE says otherwise. */
export const DEFAULT_MAX_BODY_SIZE = "100m";

/**
 * The filter compiled to native code into `outDir` by the precompiler built
 * beside the module (so from the same wasmtime): nginx's workers then load it in
 * under a millisecond instead of each compiling it with cranelift, and keep about
 * 6 MiB less resident (docs/benchmarks.md). A `.cwasm` is returned as it is;
 * `error` says why the `.wasm` is returned instead.
 */
export function precompileFilter(filter: string, modulePath: string, outDir: string): { path: string; error?: string } {
  if (!filter.endsWith(".wasm")) return { path: filter };
  // Beside the module in a build tree; where the module's Debian package puts it.
  const candidates = [join(dirname(modulePath), "proxy-wasm-precompile"), "/usr/libexec/set-backend/proxy-wasm-precompile"];
  const precompiler = candidates.find((path) => existsSync(path));
  if (!precompiler) return { path: filter, error: `no precompiler (${candidates.join(", ")})` };
  const out = join(outDir, "resolver.cwasm");
  const run = spawnSync(precompiler, [filter, out], { encoding: "utf8", timeout: 120_000 });
  if (run.status === 0) return { path: out };
  return { path: filter, error: run.stderr?.trim() || run.error?.message || `exit status ${run.status}` };
}

export interface NginxSite {
  stateDir: string;
  /**
   * What the workers open at request time: temporary directories live here, and
   * the internal socket and the pages should. Defaults to `stateDir`.
   */
  runtimeDir?: string;
  /** The error pages' directory (nginx/pages, or `make run`'s copy of it in the runtime directory). */
  pages?: string;
  /** `port` or `address:port` for nginx's listeners. */
  listen: string;
  /** The loopback port of the edge metrics listener (`set_backend_metrics`). */
  metricsPort: number;
  domain: string;
  /** The route API's public listener, host:port. */
  apiListen: string;
  resolverSocket: string;
  /** Where the access log goes: a file, or a FIFO that `make run` copies to stdout. */
  accessLog: string;
  module?: string;
  filter?: string;
  /** proxy_read_timeout and proxy_send_timeout towards backends (nginx time, default 60s). */
  backendTimeout?: string;
  /** client_max_body_size of routed hosts (nginx size: 100m, 1g; 0 is no limit). */
  maxBodySize?: string;
  /** Render the seed's `proxy_pass http://$backend$request_uri` instead of the balancer (tests run both). */
  seedProxyPass?: boolean;
}

const BALANCER_PROXY_PASS = "proxy_pass http://routed;";
const SEED_PROXY_PASS = "proxy_pass http://$backend$request_uri;";

/** nginx's size syntax, as client_max_body_size accepts it. */
export function isNginxSize(value: string): boolean {
  return /^\d{1,12}[kKmMgG]?$/.test(value);
}

/** Fills {{NAME}} placeholders; a placeholder without a value is an error, not an empty string. */
export function render(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{([A-Z_]+)\}\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`the nginx template uses {{${name}}}, which has no value`);
    return value;
  });
}

/** Writes $STATE_DIR/nginx.conf and nginx's prefix directory; returns nginx's command-line arguments. */
export function writeNginxConf(site: NginxSite): string[] {
  const template = readFileSync(join(root, "nginx/nginx.conf.template"), "utf8");
  const confPath = join(site.stateDir, "nginx.conf");
  const prefix = join(site.stateDir, "nginx");
  mkdirSync(prefix, { recursive: true });
  const maxBodySize = site.maxBodySize ?? DEFAULT_MAX_BODY_SIZE;
  if (!isNginxSize(maxBodySize)) throw new Error(`not an nginx size: ${JSON.stringify(maxBodySize)}`);
  let conf = render(template, {
    MODULE: site.module ?? defaultModule,
    FILTER: site.filter ?? defaultFilter,
    WORKER_USER,
    STATE_DIR: site.stateDir,
    RUNTIME_DIR: site.runtimeDir ?? site.stateDir,
    DOMAIN: site.domain,
    PORT: site.listen,
    METRICS_PORT: String(site.metricsPort),
    API_LISTEN: site.apiListen,
    RESOLVER_SOCKET: site.resolverSocket,
    PAGES: site.pages ?? defaultPages,
    ACCESS_LOG: site.accessLog,
    BACKEND_TIMEOUT: site.backendTimeout ?? "60s",
    MAX_BODY_SIZE: maxBodySize,
  });
  if (site.seedProxyPass) {
    // The template's active line, swapped; the template has it exactly once.
    if (conf.split(BALANCER_PROXY_PASS).length !== 2) throw new Error(`the nginx template has no single "${BALANCER_PROXY_PASS}" line`);
    conf = conf.replace(BALANCER_PROXY_PASS, () => SEED_PROXY_PASS);
  }
  writeFileSync(confPath, conf);
  return ["-p", prefix, "-c", confPath, "-g", "daemon off;"];
}
