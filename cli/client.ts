// The route API over HTTP(S): one place that sends the token and Host header,
// and that turns every failure (network, status, not-the-API) into a CliError
// with its exit code.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Readable } from "node:stream";
import { CliError, EXIT } from "./exit.ts";
import { requireToken, type Settings } from "./settings.ts";

export interface RequestOptions {
  body?: string | Buffer | Readable;
  contentType?: string;
  /** Required with a stream body: the API reads bodies by Content-Length. */
  contentLength?: number;
  /** Send the bearer token (default); /healthz needs none. */
  auth?: boolean;
  /** Fails the call after this long without a byte either way; 0 waits as long as it takes (an import's commit). */
  idleTimeoutMs?: number;
  /** Called once the whole body has been handed to the socket. */
  onSent?: () => void;
}

export interface Reply {
  status: number;
  headers: IncomingMessage["headers"];
  text: string;
}

// A page of `ls` or many small calls reuse connections; free sockets do not keep the process alive.
const httpAgent = new HttpAgent({ keepAlive: true });
const httpsAgent = new HttpsAgent({ keepAlive: true });

const NETWORK_WORDS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ENOTFOUND: "no such host",
  EAI_AGAIN: "name lookup failed",
  ETIMEDOUT: "timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  EPIPE: "connection closed while sending",
};

export function unreachable(what: string, error: unknown): CliError {
  const code = (error as NodeJS.ErrnoException).code ?? "";
  const reason = NETWORK_WORDS[code] ?? (error as Error).message;
  return new CliError(EXIT.unreachable, "unreachable", `cannot reach ${what}: ${reason}`);
}

export class Api {
  constructor(readonly settings: Settings) {}

  /** The response as a stream, for any status; network failures reject with a CliError. */
  open(method: string, path: string, options: RequestOptions = {}): Promise<IncomingMessage> {
    const { settings } = this;
    const https = settings.url.protocol === "https:";
    const headers: Record<string, string | number> = { Host: settings.hostHeader, "User-Agent": "set-backend-cli" };
    if (options.auth !== false) headers.Authorization = `Bearer ${requireToken(settings)}`;
    if (options.body !== undefined) {
      headers["Content-Type"] = options.contentType ?? "application/json";
      const length = typeof options.body === "string" || Buffer.isBuffer(options.body) ? Buffer.byteLength(options.body) : options.contentLength;
      if (length !== undefined) headers["Content-Length"] = length;
    }
    const base = settings.url.pathname.replace(/\/+$/, "");
    return new Promise((resolve, reject) => {
      let answered = false;
      const req = (https ? httpsRequest : httpRequest)(
        {
          host: settings.connectHost,
          port: settings.port,
          method,
          path: base + path,
          headers,
          agent: https ? httpsAgent : httpAgent,
          ...(https ? { servername: settings.url.hostname } : {}),
        },
        (res) => {
          answered = true;
          // An answer before the whole body was sent (413, 401): stop sending, or
          // the half-sent request would hold the process until the API times it out.
          res.once("end", () => {
            if (req.writableFinished) return;
            req.destroy();
            if (options.body && typeof options.body === "object" && !Buffer.isBuffer(options.body)) options.body.destroy();
          });
          resolve(res);
        },
      );
      const timeout = options.idleTimeoutMs ?? 30_000;
      if (timeout > 0) req.setTimeout(timeout, () => req.destroy(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" })));
      // The API may answer (413, 401) before it has read the whole body and close
      // the connection: its answer is what counts, not the broken pipe that follows.
      req.on("error", (error) => {
        if (!answered) reject(unreachable(`the route API at ${settings.url.origin}`, error));
      });
      const body = options.body;
      if (body === undefined || typeof body === "string" || Buffer.isBuffer(body)) {
        req.end(body, () => options.onSent?.());
      } else {
        body.on("error", (error) => req.destroy(error));
        body.pipe(req);
        req.on("finish", () => options.onSent?.());
      }
    });
  }

  /** A whole answer; a status outside `ok` becomes a CliError. */
  async call(method: string, path: string, options: RequestOptions & { ok?: number[] } = {}): Promise<Reply> {
    const res = await this.open(method, path, options);
    const text = await readAll(res, this.settings);
    const reply = { status: res.statusCode!, headers: res.headers, text };
    if (!(options.ok ?? [200, 201, 204]).includes(reply.status)) throw this.failure(reply);
    return reply;
  }

  async json<T>(method: string, path: string, options: RequestOptions & { ok?: number[] } = {}): Promise<{ status: number; data: T }> {
    const reply = await this.call(method, path, options);
    try {
      return { status: reply.status, data: JSON.parse(reply.text) as T };
    } catch {
      throw this.notTheApi(reply);
    }
  }

  /** The CliError for a non-success answer. */
  failure(reply: Reply): CliError {
    let body: { error?: unknown; message?: unknown } | undefined;
    try {
      body = JSON.parse(reply.text);
    } catch {
      body = undefined;
    }
    if (typeof body?.error !== "string" || typeof body.message !== "string") return this.notTheApi(reply);
    const { error, message, ...details } = body as { error: string; message: string };
    const status = reply.status;
    if (status === 401) return new CliError(EXIT.auth, error, `${message} (token from ${this.settings.tokenSource})`);
    if (status === 404) return new CliError(EXIT.notFound, error, message);
    if (status === 413) return new CliError(EXIT.invalid, error, `${message} (the API's IMPORT_LIMIT_BYTES or 64 KiB for one route)`);
    if (status >= 400 && status < 500) return new CliError(EXIT.invalid, error, message, details);
    // The API is up but what it stands in front of is not (GET /edge/metrics without its edge).
    if (status === 503) return new CliError(EXIT.unreachable, error, message);
    return new CliError(EXIT.server, error, `the route API failed (${status}): ${message}`);
  }

  // A page from nginx (wrong Host header) or another server on that port.
  private notTheApi(reply: Reply): CliError {
    const type = String(reply.headers["content-type"] ?? "no content type").split(";")[0];
    const hint = /^api\./.test(this.settings.hostHeader)
      ? ""
      : `; through nginx, use --url http://api.localhost:8080 (or --host-header api.$DOMAIN)`;
    return new CliError(
      EXIT.server,
      "not_the_api",
      `${this.settings.url.origin} answered ${reply.status} with ${type}, not the route API's JSON${hint}`,
    );
  }
}

function readAll(res: IncomingMessage, settings: Settings): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (chunk: Buffer) => chunks.push(chunk));
    res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    res.on("error", (error) => reject(unreachable(`the route API at ${settings.url.origin}`, error)));
  });
}

/** The path of one route: `*` is spelled %2A as the API documents. */
export function entryPath(host: string): string {
  return `/entries/${encodeURIComponent(host).replace(/\*/g, "%2A")}.json`;
}
