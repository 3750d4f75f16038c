// The two Koa applications: the public one (management API, docs, health,
// metrics) and the internal one for nginx (resolve, changes, health). They share
// one store; what is internal is simply never mounted on the public app.
import type Router from "@koa/router";
import Koa, { type Context, type Next } from "koa";
import type { Logger } from "pino";
import { bearerAuth } from "./auth.ts";
import { ApiError, errorHandler, notFound } from "./errors.ts";
import { requestLog } from "./log.ts";
import { createMetrics } from "./metrics.ts";
import { docsRouter } from "./routes/docs.ts";
import { edgeRouter } from "./routes/edge.ts";
import { entriesRouter } from "./routes/entries.ts";
import { lookupsRouter } from "./routes/lookups.ts";
import { uiRouter } from "./routes/ui.ts";
import type { BackendNames } from "./names.ts";
import type { RouteStore } from "./store.ts";

export interface AppOptions {
  store: RouteStore;
  /** Resolves backends given by name for /resolve. */
  names: BackendNames;
  logger: Logger;
  token: string;
  domain: string;
  importLimitBytes: number;
  /** The edge's set_backend_metrics listener, served at /edge/metrics; undefined: none. */
  edgeMetricsUrl?: string;
  /** Aborts when the service shuts down, releasing long-polls. */
  shutdown: AbortSignal;
}

// Turns what the router leaves unanswered into the API's error format.
async function unmatched(ctx: Context, next: Next): Promise<void> {
  await next();
  if (ctx.body !== undefined && ctx.body !== null) return;
  if (ctx.status === 404) throw notFound(`no route for ${ctx.method} ${ctx.path}`);
  if (ctx.status === 405 || ctx.status === 501) {
    throw new ApiError(405, "method_not_allowed", `${ctx.method} is not allowed on ${ctx.path}`);
  }
}

function mount(app: Koa, router: Router): void {
  app.use(router.routes());
  app.use(router.allowedMethods());
}

function base(name: string, options: AppOptions, metrics: ReturnType<typeof createMetrics>): Koa {
  const app = new Koa();
  app.proxy = false;
  app.silent = true;
  app.use(requestLog(options.logger, name));
  app.use(metrics.measure(name));
  app.use(errorHandler);
  app.use(unmatched);
  return app;
}

function health(store: RouteStore) {
  return (ctx: Context) => {
    // In etcd mode the store says whether it follows etcd and how stale its replica may be.
    const { degraded, details } = store.health();
    ctx.body = { status: degraded ? "degraded" : "ok", entries: store.count(), seq: store.seq, ...details };
  };
}

/** Method and path of every route a router serves, e.g. ["GET", "/entries/:host.json"]. */
export type RouteList = [string, string][];

function routesOf(...routers: Router[]): RouteList {
  return routers.flatMap((router) =>
    router.stack.flatMap((layer) => layer.methods.filter((m) => m !== "HEAD").map((m): [string, string] => [m, String(layer.path)])),
  );
}

export function createApps(options: AppOptions): { publicApp: Koa; internalApp: Koa; publicRoutes: RouteList; internalRoutes: RouteList } {
  const { store } = options;
  const metrics = createMetrics(store);
  const requireToken = bearerAuth(options.token);

  const publicApp = base("public", options, metrics);
  const docs = docsRouter(options.domain);
  docs.get("/healthz", health(store));
  docs.get("/metrics", requireToken, metrics.serve);
  mount(publicApp, docs);
  const ui = uiRouter();
  mount(publicApp, ui);
  const entries = entriesRouter({ store, importLimitBytes: options.importLimitBytes });
  publicApp.use(async (ctx, next) => (ctx.path.startsWith("/entries") ? requireToken(ctx, next) : next()));
  mount(publicApp, entries);
  const edge = edgeRouter(options.edgeMetricsUrl, requireToken);
  mount(publicApp, edge);

  const internalApp = base("internal", options, metrics);
  const lookups = lookupsRouter(store, options.names, options.shutdown);
  lookups.get("/healthz", health(store));
  lookups.get("/metrics", metrics.serve);
  mount(internalApp, lookups);

  return { publicApp, internalApp, publicRoutes: routesOf(docs, ui, entries, edge), internalRoutes: routesOf(lookups) };
}
