// The soak's clients and backends: keep-alive requests through nginx, the
// backends that say who they are, and each churned host's history of changes,
// which says what answers a request may get while its route moves.
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface Answer {
  status: number;
  /** The X-Backend of the backend that answered; undefined for nginx's or the filter's own page. */
  backend?: string;
  body: string;
  /** The first try's connection was closed before an answer began, and it was sent again on a new one. */
  retried: boolean;
}

/** Requests on keep-alive connections, as browsers and proxies in front of nginx send them. */
export class Client {
  readonly agent: http.Agent;
  constructor(
    readonly port: number,
    maxSockets = 32,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets });
  }

  async send(host: string, init: { method?: string; path?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
    try {
      return await this.once(host, init, false);
    } catch (error) {
      // A connection nginx closes before it read the request (at a reload, the old
      // workers close the idle ones: kept-alive, or accepted with nothing read yet)
      // fails without an answer; clients send an idempotent request again on a new
      // connection (RFC 9112, section 9.3.1): a new one, not another idle one from the
      // pool that the same worker is closing. Anything after a response began is not retried.
      if (!(error as { beforeResponse?: boolean }).beforeResponse || !["GET", "PUT", "DELETE"].includes(init.method ?? "GET")) throw error;
      return this.once(host, init, true);
    }
  }

  private once(host: string, init: { method?: string; path?: string; headers?: Record<string, string>; body?: string }, retried: boolean): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: "127.0.0.1", port: this.port, path: init.path ?? "/", method: init.method ?? "GET", headers: { Host: host, ...init.headers }, agent: retried ? false : this.agent },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (c) => (body += c));
          res.on("error", reject);
          res.on("end", () => {
            const backend = res.headers["x-backend"];
            resolve({ status: res.statusCode ?? 0, backend: typeof backend === "string" ? backend : undefined, body, retried });
          });
        },
      );
      // No answer within a minute is a hang, not load.
      req.setTimeout(60_000, () => req.destroy(new Error(`no answer within 60 s for ${host}`)));
      let responded = false;
      req.on("response", () => (responded = true));
      req.on("error", (error: NodeJS.ErrnoException) => {
        const closed = error.code === "ECONNRESET" || error.code === "EPIPE";
        reject(Object.assign(error, { beforeResponse: closed && !responded && !retried }));
      });
      req.end(init.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface Backend {
  name: string;
  address: string;
  requests: number;
  close(): Promise<void>;
}

/** A backend that answers every request with 200 and its name in X-Backend. */
export async function startBackend(name: string): Promise<Backend> {
  const backend = { name, address: "", requests: 0, close: async () => {} };
  const server = http.createServer((req, res) => {
    backend.requests++;
    req.resume();
    req.on("end", () => res.writeHead(200, { "X-Backend": name, "Content-Type": "text/plain" }).end(name));
  });
  // Longer than nginx's upstream keepalive_timeout (60 s), as a backend behind a
  // keep-alive proxy should be: else nginx may reuse a connection the backend is closing.
  server.keepAliveTimeout = 75_000;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  backend.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  backend.close = () => new Promise((r) => (server.closeAllConnections(), server.close(() => r())));
  return backend;
}

/** A route change: the backend's name, or null for a DELETE. */
interface Change {
  value: string | null;
  sentAt: number;
  /** When the API acknowledged it; Infinity while in flight. */
  ackedAt: number;
}

/**
 * The changes of one host's route, one in flight at a time, so that an answer
 * can be told how stale it is: a request may see any change sent before it
 * ended, and a change it does not see must be one acknowledged less than the
 * change feed's bound before it started.
 */
export class RouteHistory {
  private changes: Change[];
  constructor(initial: string | null) {
    this.changes = [{ value: initial, sentAt: 0, ackedAt: 0 }];
  }

  get current(): string | null {
    return this.changes.at(-1)!.value;
  }

  get inFlight(): boolean {
    return this.changes.at(-1)!.ackedAt === Infinity;
  }

  send(value: string | null, at: number): Change {
    if (this.inFlight) throw new Error("one change at a time per host");
    const change = { value, sentAt: at, ackedAt: Infinity };
    this.changes.push(change);
    return change;
  }

  /**
   * How long before `start` the route that answered (`value`) had been replaced
   * by an acknowledged change: 0 when it was still in force or being replaced
   * when the request was sent, Infinity for a value the host never had.
   */
  staleness(value: string | null, start: number, end: number): number {
    for (let i = this.changes.length - 1; i >= 0; i--) {
      const change = this.changes[i]!;
      if (change.sentAt > end || change.value !== value) continue;
      const next = this.changes[i + 1];
      return next === undefined ? 0 : Math.max(0, start - next.ackedAt);
    }
    return Infinity;
  }

  /** Forgets changes replaced before `before` (answers that old are failures however stale). */
  prune(before: number): void {
    let last = 0;
    this.changes.forEach((change, i) => {
      if (change.ackedAt <= before) last = i;
    });
    this.changes.splice(0, last);
  }
}
