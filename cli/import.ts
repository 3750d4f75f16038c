// routes import: uploads an NDJSON file with a progress bar, then waits while the
// API checks every line and commits them in one transaction (all or nothing).
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable, Transform } from "node:stream";
import { SingleBar } from "cli-progress";
import type { Api } from "./client.ts";
import { CliError, EXIT } from "./exit.ts";
import type { Output } from "./output.ts";

interface Counts {
  imported: number;
  created: number;
  replaced: number;
  unchanged: number;
}

export interface ImportOptions {
  /** true/false force the bar on or off; undefined shows it when stderr is a terminal. */
  progress?: boolean;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

// The body and its size: a file is streamed from disk; stdin is read first,
// since the API needs the length up front and the bar needs a total.
async function source(file: string): Promise<{ body: Readable; size: number; name: string }> {
  if (file === "-") {
    const bytes = await readStdin();
    return { body: Readable.from([bytes]), size: bytes.length, name: "stdin" };
  }
  let size: number;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new Error("not a regular file");
    size = info.size;
  } catch (error) {
    throw new CliError(EXIT.usage, "unreadable_file", `cannot read ${file}: ${(error as Error).message.replace(/^\w+: /, "")}`);
  }
  return { body: createReadStream(file), size, name: file };
}

const mb = (bytes: number) => (bytes / 1_048_576).toFixed(1);

export async function importRoutes(api: Api, out: Output, file: string, options: ImportOptions): Promise<void> {
  const { body, size, name } = await source(file);
  const show = !out.json && (options.progress ?? process.stderr.isTTY === true);
  const bar = new SingleBar({
    format: "uploading [{bar}] {percentage}% | {sent}/{size} MiB | {lines} lines",
    barsize: 30,
    stream: process.stderr,
    // Off a terminal (CI, a test, `2> log`) the bar prints a plain line each second instead of redrawing.
    noTTYOutput: true,
    notTTYSchedule: 1000,
    hideCursor: false,
    // The bar gives way to the line saying what the API is doing now.
    clearOnComplete: true,
  });
  let sent = 0;
  let lines = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      sent += chunk.length;
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
      if (show) bar.update(sent, { sent: mb(sent), lines });
      done(null, chunk);
    },
  });
  body.on("error", (error) => counter.destroy(error));
  if (show) bar.start(size, 0, { sent: mb(0), size: mb(size), lines: 0 });
  const uploaded = () => {
    if (!show) return;
    bar.update(sent, { sent: mb(sent), lines });
    bar.stop();
    process.stderr.write(`uploaded ${mb(sent)} MiB, ${lines} lines; the API is checking every line, then commits them in one transaction…\n`);
  };
  let counts: Counts;
  try {
    ({ data: counts } = await api.json<Counts>("POST", "/entries/import", {
      body: body.pipe(counter),
      contentType: "application/x-ndjson",
      contentLength: size,
      // The API answers once the whole table is on disk, however long that takes.
      idleTimeoutMs: 0,
      onSent: uploaded,
    }));
  } finally {
    if (show) bar.stop();
  }
  out.result(
    `imported ${counts.imported} routes from ${name}: ${counts.created} created, ${counts.replaced} replaced, ${counts.unchanged} unchanged`,
    counts,
  );
}
