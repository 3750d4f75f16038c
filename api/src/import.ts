// NDJSON import: every line is checked before anything is written, so that an
// import is applied whole or not at all. The work runs on a worker thread
// (import-worker.ts); this module holds the line checks and the thread's start.
import { Worker } from "node:worker_threads";
import { normalizeBackend } from "./backend.ts";
import { toApiError } from "./errors.ts";
import { normalizeRouteHost } from "./hosts.ts";
import { EntryBody, check } from "./schemas.ts";
import { parseJson } from "./body.ts";
import type { Entry } from "./store.ts";

export interface LineProblem {
  line: number;
  error: string;
  message: string;
}

// The answer lists this many bad lines at most; `badLines` counts them all.
export const MAX_LISTED_PROBLEMS = 100;

export function parseImport(text: string): { entries: Map<string, Entry>; problems: LineProblem[]; badLines: number } {
  // A host given twice takes its last backend, as a sequence of writes would.
  const entries = new Map<string, Entry>();
  const problems: LineProblem[] = [];
  let badLines = 0;
  let lineNumber = 0;
  for (const line of text.split("\n")) {
    lineNumber++;
    if (line.trim() === "") continue;
    try {
      const body = check(EntryBody, parseJson(line), "body");
      const host = normalizeRouteHost(body.host);
      entries.set(host, { host, backend: normalizeBackend(body.backend) });
    } catch (error) {
      const apiError = toApiError(error);
      if (!apiError) throw error;
      badLines++;
      if (problems.length < MAX_LISTED_PROBLEMS) problems.push({ line: lineNumber, error: apiError.code, message: apiError.message });
    }
  }
  return { entries, problems, badLines };
}

export type ImportOutcome =
  | { ok: true; imported: number; created: number; replaced: number; unchanged: number }
  | { ok: false; problems: LineProblem[]; badLines: number };

/**
 * Checks and applies an NDJSON body on a worker thread, so that the event loop
 * keeps answering lookups meanwhile. Resolves once the import is on disk (or
 * refused); rejects if the worker fails.
 */
export function importOnWorker(options: { dir: string; retainChanges: number; body: Buffer }): Promise<ImportOutcome> {
  return new Promise((resolve, reject) => {
    // The body's bytes move to the worker rather than being copied.
    const body = new Uint8Array(options.body.buffer, options.body.byteOffset, options.body.byteLength);
    const transfer = options.body.byteOffset === 0 && options.body.byteLength === options.body.buffer.byteLength ? [body.buffer] : [];
    const worker = new Worker(new URL("./import-worker-boot.js", import.meta.url), {
      workerData: { dir: options.dir, retainChanges: options.retainChanges, body },
      transferList: transfer as ArrayBuffer[],
    });
    let outcome: ImportOutcome | undefined;
    worker.once("message", (message: ImportOutcome) => (outcome = message));
    worker.once("error", reject);
    worker.once("exit", (code) => {
      if (outcome) resolve(outcome);
      else reject(new Error(`the import worker exited with code ${code} without an answer`));
    });
  });
}
