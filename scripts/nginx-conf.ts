// Renders nginx/nginx.conf.template for a state directory: `make run` and the
// end-to-end tests run nginx from the same configuration.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const root = resolve(import.meta.dirname, "..");
export const defaultModule = join(root, "build/modules/ngx_http_set_backend.so");
export const defaultFilter = join(root, "build/resolver.wasm");

export interface NginxSite {
  stateDir: string;
  /** `port` or `address:port` for nginx's listeners. */
  listen: string;
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
  writeFileSync(
    confPath,
    render(template, {
      MODULE: site.module ?? defaultModule,
      FILTER: site.filter ?? defaultFilter,
      STATE_DIR: site.stateDir,
      DOMAIN: site.domain,
      PORT: site.listen,
      API_LISTEN: site.apiListen,
      RESOLVER_SOCKET: site.resolverSocket,
      PAGES: join(root, "nginx/pages"),
      ACCESS_LOG: site.accessLog,
      BACKEND_TIMEOUT: site.backendTimeout ?? "60s",
    }),
  );
  return ["-p", prefix, "-c", confPath, "-g", "daemon off;"];
}
