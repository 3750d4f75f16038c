// The management API, with the seed's paths: /entries.json and /entries/<host>.json.
import { Readable } from "node:stream";
import Router from "@koa/router";
import type { Context } from "koa";
import { normalizeBackend } from "../backend.ts";
import { NDJSON_TYPES, readBytes, readJson, requireContentType } from "../body.ts";
import { ApiError, notFound } from "../errors.ts";
import { normalizeRouteHost } from "../hosts.ts";
import { BackendBody, EntryBody, ExportQuery, ListQuery, check } from "../schemas.ts";
import type { Entry, RouteStore } from "../store.ts";

export interface EntriesOptions {
  store: RouteStore;
  importLimitBytes: number;
}

// Entries per chunk written to a streamed listing.
const CHUNK = 256;

function* jsonArray(entries: Iterable<Entry>): Generator<string> {
  let chunk = "[";
  let first = true;
  let pending = 0;
  for (const entry of entries) {
    chunk += (first ? "\n" : ",\n") + JSON.stringify({ host: entry.host, backend: entry.backend });
    first = false;
    if (++pending === CHUNK) {
      yield chunk;
      chunk = "";
      pending = 0;
    }
  }
  yield chunk + (first ? "]\n" : "\n]\n");
}

// The export is the import's format, one {"host","backend"} object a line, so
// that `export | import` gives back the same table.
function* ndjsonLines(entries: Iterable<Entry>): Generator<string> {
  let chunk = "";
  let pending = 0;
  for (const entry of entries) {
    chunk += JSON.stringify({ host: entry.host, backend: entry.backend }) + "\n";
    if (++pending === CHUNK) {
      yield chunk;
      chunk = "";
      pending = 0;
    }
  }
  if (chunk !== "") yield chunk;
}

function routeHostParam(ctx: Context): string {
  return normalizeRouteHost(ctx.params.host);
}

export function entriesRouter({ store, importLimitBytes }: EntriesOptions): Router {
  const router = new Router();

  router.get("/entries.json", (ctx) => {
    const query = check(ListQuery, ctx.query, "query");
    ctx.type = "application/json";
    if (query.limit === undefined) {
      // Unbounded: stream from one snapshot, never holding the table in memory.
      ctx.body = Readable.from(jsonArray(store.list(query)), { objectMode: false });
      return;
    }
    const page = [...store.list(query)];
    if (page.length === query.limit) {
      const next = new URLSearchParams({ limit: String(query.limit), after: page[page.length - 1]!.host });
      if (query.prefix) next.set("prefix", query.prefix);
      ctx.set("Link", `</entries.json?${next}>; rel="next"`);
    }
    ctx.body = [...jsonArray(page)].join("");
  });

  router.post("/entries.json", async (ctx) => {
    const body = check(EntryBody, await readJson(ctx), "body");
    const host = normalizeRouteHost(body.host);
    const backend = normalizeBackend(body.backend);
    const { created, entry } = await store.put(host, backend);
    ctx.log.info({ host, backend, created }, "route stored");
    ctx.status = created ? 201 : 200;
    if (created) ctx.set("Location", `/entries/${encodeURIComponent(host)}.json`);
    ctx.body = entry;
  });

  router.get("/entries/:host.json", (ctx) => {
    const host = routeHostParam(ctx);
    const entry = store.get(host);
    if (!entry) throw notFound(`no route for ${host}`);
    ctx.body = entry;
  });

  router.put("/entries/:host.json", async (ctx) => {
    const host = routeHostParam(ctx);
    const body = check(BackendBody, await readJson(ctx), "body");
    const backend = normalizeBackend(body.backend);
    const { created, entry } = await store.put(host, backend);
    ctx.log.info({ host, backend, created }, "route stored");
    ctx.status = created ? 201 : 200;
    ctx.body = entry;
  });

  router.delete("/entries/:host.json", async (ctx) => {
    const host = routeHostParam(ctx);
    if (!(await store.delete(host))) throw notFound(`no route for ${host}`);
    ctx.log.info({ host }, "route deleted");
    ctx.status = 204;
  });

  router.get("/entries/export", (ctx) => {
    const query = check(ExportQuery, ctx.query, "query");
    ctx.type = "application/x-ndjson";
    // store.list reads one snapshot lazily: the export is consistent and a
    // million routes never sit in memory.
    ctx.body = Readable.from(ndjsonLines(store.list(query)), { objectMode: false });
  });

  router.post("/entries/import", async (ctx) => {
    requireContentType(ctx, NDJSON_TYPES);
    const body = await readBytes(ctx, importLimitBytes);
    const outcome = await store.importNdjson(body);
    if (!outcome.ok) {
      throw new ApiError(400, "invalid_import", `${outcome.badLines} of the lines are invalid; nothing was imported`, {
        lines: outcome.problems,
      });
    }
    const { ok: _, ...counts } = outcome;
    ctx.log.info(counts, "routes imported");
    ctx.body = counts;
  });

  return router;
}
