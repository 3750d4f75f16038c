// routes add|get|rm|ls|export: one call each (ls and export stream).
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { Transform } from "node:stream";
import { entryPath, type Api } from "./client.ts";
import type { Output } from "./output.ts";

interface Entry {
  host: string;
  backend: string;
}

export async function add(api: Api, out: Output, host: string, backend: string): Promise<void> {
  const { status, data } = await api.json<Entry>("POST", "/entries.json", { body: JSON.stringify({ host, backend }) });
  const created = status === 201;
  out.result(`${created ? "created" : "replaced"} ${data.host} → ${data.backend}`, { ...data, created });
}

export async function get(api: Api, out: Output, host: string): Promise<void> {
  const { data } = await api.json<Entry>("GET", entryPath(host));
  out.result(`${data.host} → ${data.backend}`, data);
}

export async function remove(api: Api, out: Output, host: string): Promise<void> {
  await api.call("DELETE", entryPath(host));
  out.result(`deleted ${host}`, { host, deleted: true });
}

// Pages of this many routes: small enough to start printing at once, large
// enough that a million routes take a thousand calls, not a million.
const PAGE = 1000;

/** Every route (or the first `limit`), page by page with the API's `after` cursor. */
export async function list(api: Api, out: Output, options: { prefix?: string; limit?: number }): Promise<void> {
  let after: string | undefined;
  let left = options.limit ?? Infinity;
  let shown = 0;
  while (left > 0) {
    const size = Math.min(PAGE, left);
    const query = new URLSearchParams({ limit: String(size) });
    if (options.prefix) query.set("prefix", options.prefix);
    if (after !== undefined) query.set("after", after);
    const { data: page } = await api.json<Entry[]>("GET", `/entries.json?${query}`);
    if (page.length === 0) break;
    // Aligned within a page: the whole listing is never held to measure it.
    const width = Math.max(...page.map((e) => e.host.length));
    const text = out.json
      ? page.map((e) => JSON.stringify(e)).join("\n")
      : page.map((e) => `${e.host.padEnd(width)}  ${e.backend}`).join("\n");
    process.stdout.write(text + "\n");
    shown += page.length;
    left -= page.length;
    if (page.length < size) break;
    after = page[page.length - 1]!.host;
  }
  if (shown === 0) out.note(options.prefix ? `no routes start with ${options.prefix}` : "no routes");
}

/** Streams GET /entries/export to stdout or a file; a failed export leaves no partial file. */
export async function exportRoutes(api: Api, out: Output, options: { prefix?: string; output?: string }): Promise<void> {
  const query = options.prefix ? `?${new URLSearchParams({ prefix: options.prefix })}` : "";
  const res = await api.open("GET", `/entries/export${query}`);
  if (res.statusCode !== 200) {
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    throw api.failure({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") });
  }
  let count = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) count++;
      done(null, chunk);
    },
  });
  const target = options.output ? createWriteStream(options.output) : process.stdout;
  try {
    await pipeline(res, counter, target, { end: options.output !== undefined });
  } catch (error) {
    if (options.output) await rm(options.output, { force: true });
    throw error;
  }
  if (!res.complete) {
    if (options.output) await rm(options.output, { force: true });
    throw new Error("the export stopped before its end");
  }
  if (options.output) out.result(`exported ${count} routes to ${options.output}`, { exported: count, file: options.output });
}
