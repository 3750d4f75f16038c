// NDJSON import: every line is checked before anything is written, so that an
// import is applied whole or not at all.
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
