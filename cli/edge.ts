// Edge metrics for `status --edge URL`: Prometheus text from nginx, summed into
// a few figures. The module's metric names are not fixed yet (issue 13, item 1),
// so nothing here depends on them: every `set_backend_` family is summed over
// its labels, broken down by its first label, and a hit rate is derived from any
// family that has an `outcome`/`result` label with a `hit` value.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { unreachable } from "./client.ts";
import { CliError, EXIT } from "./exit.ts";

export interface Family {
  total: number;
  /** By the first label's values (at most MAX_BREAKDOWN of them). */
  by?: Record<string, number>;
}

export interface EdgeFigures {
  url: string;
  families: Record<string, Family>;
  /** hits / all, from the first family that counts outcomes with a `hit` value. */
  hitRate?: number;
}

const MAX_BREAKDOWN = 8;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)/;
const FIRST_LABEL = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/;

/** Sums Prometheus text into families; histogram buckets are skipped (their _count and _sum stay). */
export function summarize(text: string, prefix = "set_backend_"): Record<string, Family> {
  const families: Record<string, Family> = {};
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = SAMPLE.exec(line);
    if (!match) continue;
    const [, name, labels = "", raw] = match as unknown as [string, string, string | undefined, string];
    if (!name.startsWith(prefix) || name.endsWith("_bucket")) continue;
    const value = Number(raw);
    if (!Number.isFinite(value)) continue;
    const family = (families[name] ??= { total: 0 });
    family.total += value;
    const label = FIRST_LABEL.exec(labels);
    if (label) {
      family.by ??= {};
      const key = `${label[1]}=${label[2]}`;
      if (key in family.by || Object.keys(family.by).length < MAX_BREAKDOWN) family.by[key] = (family.by[key] ?? 0) + value;
    }
  }
  return families;
}

function hitRate(families: Record<string, Family>): number | undefined {
  for (const family of Object.values(families)) {
    const hits = family.by?.["outcome=hit"] ?? family.by?.["result=hit"];
    if (hits !== undefined && family.total > 0) return hits / family.total;
  }
  return undefined;
}

/** GET the metrics URL (with the token when given) and sum it up. */
export async function fetchEdge(url: string, token: string | undefined): Promise<EdgeFigures> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new CliError(EXIT.usage, "invalid_url", `--edge ${JSON.stringify(url)} is not a URL`);
  }
  const text = await new Promise<string>((resolve, reject) => {
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
  const families = summarize(text);
  const rate = hitRate(families);
  return { url, families, ...(rate === undefined ? {} : { hitRate: rate }) };
}

export function describeEdge(edge: EdgeFigures): string {
  const names = Object.keys(edge.families).sort();
  const lines = [`edge ${edge.url}: ${names.length} set_backend_ metric families`];
  if (edge.hitRate !== undefined) lines.push(`  hit rate ${(edge.hitRate * 100).toFixed(1)}%`);
  for (const name of names) {
    const family = edge.families[name]!;
    const by = family.by ? `  (${Object.entries(family.by).map(([k, v]) => `${k} ${v}`).join(", ")})` : "";
    lines.push(`  ${name} ${family.total}${by}`);
  }
  return lines.join("\n");
}
