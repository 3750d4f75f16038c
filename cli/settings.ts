// Where the API is and how to authenticate: flags first, then the environment,
// then `make run`'s defaults (the API's own listener and its token file).
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CliError, EXIT } from "./exit.ts";

export const DEFAULT_URL = "http://127.0.0.1:9000";
const REPO_ROOT = fileURLToPath(new URL("../", import.meta.url));

export interface GlobalOptions {
  url?: string;
  token?: string;
  tokenFile?: string;
  hostHeader?: string;
  json?: boolean;
}

export interface Settings {
  /** The API's base URL as given (for messages). */
  url: URL;
  /** Where to connect: the URL's host, or loopback for `*.localhost` names. */
  connectHost: string;
  port: number;
  /** The Host header to send: `--host-header`, else the URL's host. */
  hostHeader: string;
  /** Undefined when none was found; commands that need one call `requireToken`. */
  token: string | undefined;
  /** Where the token came from, for the message when the API refuses it. */
  tokenSource: string;
  json: boolean;
}

// RFC 6761: `localhost` and every name under it is loopback. glibc does not
// resolve `api.localhost` by itself, but it is exactly the name `make run`'s
// nginx serves the API on, so the CLI connects to 127.0.0.1 and keeps the name
// in the Host header.
function isLocalhostName(hostname: string): boolean {
  return hostname === "localhost" || hostname.endsWith(".localhost");
}

function parseUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError(EXIT.usage, "invalid_url", `--url ${JSON.stringify(value)} is not a URL (e.g. ${DEFAULT_URL})`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new CliError(EXIT.usage, "invalid_url", `--url must be http:// or https://, got ${JSON.stringify(value)}`);
  }
  return url;
}

function readTokenFile(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

export function resolveSettings(options: GlobalOptions, env: NodeJS.ProcessEnv = process.env): Settings {
  const url = parseUrl(options.url ?? (env.SET_BACKEND_URL || DEFAULT_URL));
  // make run keeps its state in the clone's .run/: found from the working directory,
  // else next to this CLI (the same clone), so `npx set-backend` works from any subdirectory.
  const defaultTokenFile = env.STATE_DIR
    ? join(env.STATE_DIR, "api-token")
    : [resolve(".run", "api-token"), join(REPO_ROOT, ".run", "api-token")].find((file) => existsSync(file)) ?? resolve(".run", "api-token");
  let token: string | undefined;
  let tokenSource: string;
  if (options.token) {
    token = options.token;
    tokenSource = "--token";
  } else if (env.SET_BACKEND_TOKEN) {
    token = env.SET_BACKEND_TOKEN.trim();
    tokenSource = "SET_BACKEND_TOKEN";
  } else {
    const file = resolve(options.tokenFile ?? defaultTokenFile);
    token = readTokenFile(file);
    tokenSource = file;
    if (options.tokenFile && token === undefined) {
      throw new CliError(EXIT.usage, "token_file", `cannot read a token from --token-file ${file}`);
    }
  }
  const hostHeader = options.hostHeader ?? (env.SET_BACKEND_HOST_HEADER || url.host);
  return {
    url,
    connectHost: isLocalhostName(url.hostname) ? "127.0.0.1" : url.hostname.replace(/^\[|\]$/g, ""),
    port: Number(url.port || (url.protocol === "https:" ? 443 : 80)),
    hostHeader,
    token,
    tokenSource,
    json: options.json === true,
  };
}

export function requireToken(settings: Settings): string {
  if (settings.token) return settings.token;
  throw new CliError(
    EXIT.auth,
    "no_token",
    `no API token: pass --token, set SET_BACKEND_TOKEN, or run where ${settings.tokenSource} exists (make run writes it)`,
  );
}
