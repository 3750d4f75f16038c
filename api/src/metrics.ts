// Prometheus metrics: requests by route and status, their latency, and the
// number of routes stored.
import type { Context, Next } from "koa";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { RouteStore } from "./store.ts";

export function createMetrics(store: RouteStore) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const labelNames = ["listener", "method", "route", "status"] as const;
  const requests = new Counter({ name: "set_backend_api_requests_total", help: "HTTP requests handled", labelNames, registers: [registry] });
  const duration = new Histogram({
    name: "set_backend_api_request_duration_seconds",
    help: "Time to handle an HTTP request (long-polls included)",
    labelNames,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 5, 30],
    registers: [registry],
  });
  new Gauge({
    name: "set_backend_entries",
    help: "Routes stored",
    registers: [registry],
    collect() {
      this.set(store.count());
    },
  });
  new Gauge({
    name: "set_backend_changes_seq",
    help: "Sequence number of the last route change",
    registers: [registry],
    collect() {
      this.set(store.seq);
    },
  });

  new Gauge({
    name: "set_backend_store_degraded",
    help: "1 while the store is degraded (ROUTE_STORE=etcd: etcd unreachable, routes served from the replica), else 0",
    registers: [registry],
    collect() {
      this.set(store.health().degraded ? 1 : 0);
    },
  });

  function measure(listener: string) {
    return async function countRequest(ctx: Context, next: Next): Promise<void> {
      const end = duration.startTimer();
      try {
        await next();
      } finally {
        // The matched route pattern, not the raw path, keeps label cardinality bounded.
        const route = (ctx as Context & { _matchedRoute?: string })._matchedRoute ?? "unmatched";
        const labels = { listener, method: ctx.method, route: String(route), status: String(ctx.status) };
        requests.inc(labels);
        end(labels);
      }
    };
  }

  async function serve(ctx: Context): Promise<void> {
    ctx.type = registry.contentType;
    ctx.body = await registry.metrics();
  }

  return { registry, measure, serve };
}
