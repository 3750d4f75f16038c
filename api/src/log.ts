// JSON-line logs on stdout, one line per request with its id.
import { randomUUID } from "node:crypto";
import type { Context, Next } from "koa";
import pino, { type Logger } from "pino";

declare module "koa" {
  interface DefaultContext {
    log: Logger;
  }
}

export function createLogger(level = process.env.LOG_LEVEL ?? "info"): Logger {
  return pino({ level, base: { service: "set-backend-api" } });
}

// A client's X-Request-Id is kept only when it is short and plain, so that it can
// go into logs and headers as it is.
const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export function requestLog(logger: Logger, listener: string) {
  return async function logRequest(ctx: Context, next: Next): Promise<void> {
    const given = ctx.get("X-Request-Id");
    const id = REQUEST_ID.test(given) ? given : randomUUID();
    ctx.set("X-Request-Id", id);
    ctx.log = logger.child({ req_id: id, listener });
    const start = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      // nginx asks the internal listener on every cache miss: its answers,
      // "no such host" included, are logged at debug, so that a log line (a
      // write to stdout) is not a third of each lookup's cost and a scan of
      // random Host names does not flood the log. Other errors stay visible.
      const routine = ctx.status < 400 || ctx.status === 404;
      const level = listener === "internal" && routine ? "debug" : "info";
      ctx.log[level]({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms * 1000) / 1000 }, "request");
    }
  };
}
