// NDJSON import: every line is checked before anything is written, so that an
// import is applied whole or not at all. The work runs on a worker thread
// (import-worker.ts); this module holds the line checks and the thread's start.
import { Worker } from "node:worker_threads";
import { normalizeBackend } from "./backend.ts";
import { toApiError } from "./errors.ts";
import { normalizeRouteHost } from "./hosts.ts";
import { EntryBody, check } from "./schemas.ts";
import { parseJson } from "./body.ts";

export interface LineProblem {
  line: number;
  error: string;
  message: string;
}

// The answer lists this many bad lines at most; `badLines` counts them all.
export const MAX_LISTED_PROBLEMS = 100;

// Lines are decoded one at a time, never the body as a whole. `ignoreBOM` keeps
// a byte-order mark inside a line (it makes that line invalid JSON, as before);
// only the body's leading one is dropped, as decoding the whole body did.
const lineDecoder = new TextDecoder("utf-8", { ignoreBOM: true });
const NEWLINE = 0x0a;

/**
 * The lines of a UTF-8 body, as `new TextDecoder().decode(bytes).split("\n")`
 * gives them, without holding the decoded body or an array of its lines.
 * A newline byte never occurs inside a multi-byte UTF-8 sequence, so cutting the
 * bytes at 0x0A decodes every line exactly as decoding the whole body would.
 */
export function* bodyLines(bytes: Uint8Array): Generator<string> {
  let start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  for (;;) {
    const end = bytes.indexOf(NEWLINE, start);
    if (end === -1) {
      yield lineDecoder.decode(bytes.subarray(start));
      return;
    }
    yield lineDecoder.decode(bytes.subarray(start, end));
    start = end + 1;
  }
}

// A normalized backend is built by concatenation (`${host}:${port}`) from slices
// of the line's JSON value; V8 keeps those pieces, and the value they slice,
// alive behind it until the string is flattened, and reading a character
// flattens it in place. For a million routes this is ~190 MiB of heap against
// ~110. An engine detail: without it the result is the same, only larger.
function compact(value: string): string {
  value.charCodeAt(0);
  return value;
}

/** Checks every line of an NDJSON body; `routes` maps each normalized host to its backend. */
export function parseImport(body: Uint8Array): { routes: Map<string, string>; problems: LineProblem[]; badLines: number } {
  // A host given twice takes its last backend, as a sequence of writes would.
  const routes = new Map<string, string>();
  const problems: LineProblem[] = [];
  let badLines = 0;
  let lineNumber = 0;
  for (const line of bodyLines(body)) {
    lineNumber++;
    if (line.trim() === "") continue;
    try {
      const entry = check(EntryBody, parseJson(line), "body");
      routes.set(compact(normalizeRouteHost(entry.host)), compact(normalizeBackend(entry.backend)));
    } catch (error) {
      const apiError = toApiError(error);
      if (!apiError) throw error;
      badLines++;
      if (problems.length < MAX_LISTED_PROBLEMS) problems.push({ line: lineNumber, error: apiError.code, message: apiError.message });
    }
  }
  return { routes, problems, badLines };
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
