// Lookups for nginx's resolver filter. Mounted only on the internal listener.
import Router from "@koa/router";
import { notFound } from "../errors.ts";
import { normalizeRequestHost } from "../hosts.ts";
import type { BackendNames } from "../names.ts";
import { ChangesQuery, MAX_WAIT_MS, check } from "../schemas.ts";
import type { RouteStore } from "../store.ts";

export function lookupsRouter(store: RouteStore, names: BackendNames, shutdown: AbortSignal): Router {
  const router = new Router();

  router.get("/resolve/:host", async (ctx) => {
    const host = normalizeRequestHost(ctx.params.host);
    const resolution = store.resolve(host);
    if (!resolution) throw notFound(`no route for ${host}`);
    // Where to connect: nginx's workers never resolve names themselves.
    ctx.body = { ...resolution, ...(await names.addressesOf(resolution.backend)) };
  });

  router.get("/changes", async (ctx) => {
    const { since, wait = 0 } = check(ChangesQuery, ctx.query, "query");
    let page = store.changesSince(since);
    if ("changes" in page && page.changes.length === 0 && wait > 0) {
      // Hold the request until a change lands, the wait ends, the client leaves
      // or the service shuts down.
      const gone = new AbortController();
      ctx.req.once("close", () => gone.abort());
      await store.waitForChange(since, Math.min(wait, MAX_WAIT_MS), AbortSignal.any([gone.signal, shutdown]));
      page = store.changesSince(since);
    }
    ctx.body = page;
  });

  return router;
}
