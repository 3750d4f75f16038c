// GET /edge/metrics: the metrics of the nginx edge this API node serves, read from
// the module's set_backend_metrics listener (EDGE_METRICS_URL, on loopback) and
// passed on behind the token. The admin page and the command line read them here:
// the edge's own listener is reachable only from its machine.
import Router from "@koa/router";
import type { Middleware } from "koa";
import { ApiError } from "../errors.ts";

/** Longest wait for the edge; a loopback listener answers in microseconds. */
const EDGE_TIMEOUT_MS = 2_000;
/** The metrics text of one edge is a few KiB; anything far larger is not it. */
const MAX_EDGE_BYTES = 1024 * 1024;

function unavailable(message: string): ApiError {
  return new ApiError(503, "edge_unavailable", message);
}

export function edgeRouter(edgeMetricsUrl: string | undefined, requireToken: Middleware): Router {
  const router = new Router();
  router.get("/edge/metrics", requireToken, async (ctx) => {
    if (edgeMetricsUrl === undefined) throw unavailable("no edge is configured (EDGE_METRICS_URL)");
    let reply: Response;
    try {
      reply = await fetch(edgeMetricsUrl, { signal: AbortSignal.timeout(EDGE_TIMEOUT_MS), redirect: "error" });
    } catch (error) {
      throw unavailable(`the edge's metrics at ${edgeMetricsUrl} cannot be read: ${(error as Error).message}`);
    }
    const text = await reply.text();
    if (reply.status !== 200 || text.length > MAX_EDGE_BYTES) {
      throw unavailable(`the edge's metrics at ${edgeMetricsUrl} answered ${reply.status}`);
    }
    ctx.type = "text/plain; version=0.0.4; charset=utf-8";
    ctx.set("Cache-Control", "no-store");
    ctx.body = text;
  });
  return router;
}
