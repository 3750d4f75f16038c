// Edge metrics for `status --edge`: nginx's set_backend_metrics page
// (docs/metrics.md), through the API's /edge/metrics or from its own URL, read once and boiled down to the figures an operator asks
// first: hit rate, lookups, change-feed lag, cache zone, filter faults.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { unreachable } from "./client.ts";
import { CliError, EXIT } from "./exit.ts";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface EdgeFigures {
  url: string;
  workers?: number;
  requests?: { total: number; hits: number; waited: number; pages: Record<string, number>; errors: number; hitRate?: number };
  lookups?: { byResult: Record<string, number>; meanMs?: number };
  feed?: { seq?: number; lagMs?: number; resets?: number; behind?: number };
  zone?: { usedBytes?: number; totalBytes?: number; entries?: number; evictions?: number };
  filter?: { faults: number; deadlines: number; restarts: number; staleServed: number };
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = SAMPLE.exec(line);
    if (!match) continue;
    const value = Number(match[3]);
    if (!Number.isFinite(value)) continue;
    const labels: Record<string, string> = {};
    for (const [, key, val] of (match[2] ?? "").matchAll(LABEL)) labels[key!] = val!;
    samples.push({ name: match[1]!, labels, value });
  }
  return samples;
}

/** The figures, from the metrics text; `apiSeq` (the API's change seq) gives the feed's distance behind. */
export function summarize(url: string, text: string, apiSeq?: number): EdgeFigures {
  const samples = parseSamples(text);
  const all = (name: string, where: Record<string, string> = {}) =>
    samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v));
  const sum = (name: string, where?: Record<string, string>) => all(name, where).reduce((total, s) => total + s.value, 0);
  const one = (name: string, where?: Record<string, string>) => (all(name, where).length > 0 ? sum(name, where) : undefined);
  const figures: EdgeFigures = { url };

  const workers = one("set_backend_workers_reporting");
  if (workers !== undefined) figures.workers = workers;
  const requests = all("set_backend_requests_total");
  if (requests.length > 0) {
    const total = sum("set_backend_requests_total");
    const pages: Record<string, number> = {};
    for (const s of all("set_backend_requests_total", { result: "page" })) {
      if (s.value > 0) pages[s.labels.status ?? "other"] = (pages[s.labels.status ?? "other"] ?? 0) + s.value;
    }
    // docs/metrics.md: the hit rate is the share decided at once, from the shared cache.
    const hits = sum("set_backend_requests_total", { waited: "false" });
    figures.requests = {
      total,
      hits,
      waited: sum("set_backend_requests_total", { waited: "true" }),
      pages,
      errors: sum("set_backend_requests_total", { result: "error" }),
      ...(total > 0 ? { hitRate: hits / total } : {}),
    };
  }
  const calls = all("set_backend_http_calls_total");
  if (calls.length > 0) {
    const byResult: Record<string, number> = {};
    for (const s of calls) byResult[s.labels.result ?? "other"] = (byResult[s.labels.result ?? "other"] ?? 0) + s.value;
    const count = one("set_backend_filter_lookup_duration_ms_count");
    const total = one("set_backend_filter_lookup_duration_ms_sum");
    figures.lookups = { byResult, ...(count && total !== undefined ? { meanMs: total / count } : {}) };
  }
  const seq = one("set_backend_filter_feed_seq");
  const lagMs = one("set_backend_filter_feed_lag_ms");
  const resets = one("set_backend_filter_feed_resets_total");
  if (seq !== undefined || lagMs !== undefined) {
    figures.feed = {
      ...(seq !== undefined ? { seq } : {}),
      ...(lagMs !== undefined ? { lagMs } : {}),
      ...(resets !== undefined ? { resets } : {}),
      ...(seq !== undefined && apiSeq !== undefined ? { behind: Math.max(0, apiSeq - seq) } : {}),
    };
  }
  const used = one("set_backend_zone_bytes", { state: "used" });
  const totalBytes = one("set_backend_zone_bytes", { state: "total" });
  const entries = one("set_backend_zone_entries");
  const evictions = one("set_backend_zone_evictions_total");
  if ([used, totalBytes, entries, evictions].some((v) => v !== undefined)) {
    figures.zone = {
      ...(used !== undefined ? { usedBytes: used } : {}),
      ...(totalBytes !== undefined ? { totalBytes } : {}),
      ...(entries !== undefined ? { entries } : {}),
      ...(evictions !== undefined ? { evictions } : {}),
    };
  }
  if (all("set_backend_filter_traps_total").length > 0 || all("set_backend_filter_restarts_total").length > 0) {
    figures.filter = {
      faults: sum("set_backend_filter_traps_total", { kind: "fault" }),
      deadlines: sum("set_backend_filter_traps_total", { kind: "deadline" }),
      restarts: sum("set_backend_filter_restarts_total"),
      staleServed: sum("set_backend_filter_stale_served_total"),
    };
  }
  return figures;
}

/** GET a metrics URL directly (with the token when given). */
export async function fetchEdgeText(url: string, token: string | undefined): Promise<string> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new CliError(EXIT.usage, "invalid_url", `--edge ${JSON.stringify(url)} is not a URL`);
  }
  return new Promise<string>((resolve, reject) => {
    const https = target.protocol === "https:";
    const local = target.hostname === "localhost" || target.hostname.endsWith(".localhost");
    const req = (https ? httpsRequest : httpRequest)(
      {
        host: local ? "127.0.0.1" : target.hostname.replace(/^\[|\]$/g, ""),
        port: Number(target.port || (https ? 443 : 80)),
        path: target.pathname + target.search,
        headers: { Host: target.host, ...(token ? { Authorization: `Bearer ${token}` } : {}) },
        agent: false,
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (error) => reject(unreachable(`the edge metrics at ${url}`, error)));
        res.on("end", () => {
          if (res.statusCode === 200) return resolve(Buffer.concat(chunks).toString("utf8"));
          const exit = res.statusCode === 401 || res.statusCode === 403 ? EXIT.auth : EXIT.server;
          reject(new CliError(exit, "edge_metrics", `the edge metrics at ${url} answered ${res.statusCode}`));
        });
      },
    );
    req.on("timeout", () => req.destroy(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" })));
    req.on("error", (error) => reject(unreachable(`the edge metrics at ${url}`, error)));
    req.end();
  });
}

const n = (value: number) => value.toLocaleString("en");
const mib = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MiB`;
const pairs = (record: Record<string, number>) => Object.entries(record).map(([k, v]) => `${k} ${n(v)}`).join(", ");

export function describeEdge(edge: EdgeFigures): string {
  const lines = [`edge ${edge.url}` + (edge.workers !== undefined ? `: ${edge.workers} workers reporting` : "")];
  const { requests, lookups, feed, zone, filter } = edge;
  if (requests) {
    const rate = requests.hitRate === undefined ? "no requests yet" : `${(requests.hitRate * 100).toFixed(1)}% from the cache`;
    const pages = Object.keys(requests.pages).length > 0 ? ` (${pairs(requests.pages)})` : "";
    lines.push(`  requests ${n(requests.total)}: ${rate}, ${n(requests.waited)} waited for a lookup, ` +
      `pages${pages || " 0"}, ${n(requests.errors)} errors`);
  }
  if (lookups) {
    lines.push(`  calls to the route API: ${pairs(lookups.byResult) || "none"}` + (lookups.meanMs !== undefined ? `; lookups take ${lookups.meanMs.toFixed(1)} ms on average` : ""));
  }
  if (feed) {
    const parts = [
      feed.seq !== undefined ? `at seq ${feed.seq}` + (feed.behind !== undefined ? ` (${n(feed.behind)} behind the API)` : "") : undefined,
      feed.lagMs !== undefined ? `lag ${n(feed.lagMs)} ms` : undefined,
      feed.resets !== undefined ? `${n(feed.resets)} resets` : undefined,
    ];
    lines.push(`  change feed: ${parts.filter(Boolean).join(", ")}`);
  }
  if (zone) {
    const parts = [
      zone.usedBytes !== undefined && zone.totalBytes ? `${mib(zone.usedBytes)} of ${mib(zone.totalBytes)} used` : undefined,
      zone.entries !== undefined ? `${n(zone.entries)} entries` : undefined,
      zone.evictions !== undefined ? `${n(zone.evictions)} evictions` : undefined,
    ];
    lines.push(`  cache zone: ${parts.filter(Boolean).join(", ")}`);
  }
  if (filter) {
    lines.push(`  filter: ${n(filter.faults)} faults, ${n(filter.deadlines)} deadline stops, ${n(filter.restarts)} restarts, ${n(filter.staleServed)} stale served`);
  }
  return lines.join("\n");
}
