// Readers for the route API's answers.  Pure code.
//   GET /resolve/<host> → 200 {"host","backend","match","pattern"} | 404
//   GET /changes?since=N&wait=MS → {"seq":N,"changes":[{"seq","op","host"}]} | {"seq":N,"reset":true}

import { parseJson, JsonKind, JsonValue } from "./json";
import { isValidBackend } from "./backend";

/** A /resolve answer is one small object. */
export const MAX_RESOLVE_BYTES: i32 = 64 * 1024;
/** A /changes page holds at most 1000 changes (about 100 KB). */
export const MAX_CHANGES_BYTES: i32 = 1024 * 1024;

/** The backend from a /resolve 200 body, or null if the body is unusable. */
export function readResolveAnswer(body: Uint8Array): string | null {
  const root = parseJson(body).value;
  if (root === null) return null;
  const backend = root.get("backend");
  if (backend === null || backend.kind != JsonKind.String) return null;
  return isValidBackend(backend.str) ? backend.str : null;
}

function readSeq(v: JsonValue | null): i64 {
  if (v === null || v.kind != JsonKind.Number || !v.isInteger || v.num < 0) return -1;
  return <i64>v.num;
}

export class ChangeBatch {
  seq: u64 = 0;
  reset: bool = false;
  /** Hosts as sent ("*", "*.suffix" or a host); op does not matter: the cache only forgets. */
  hosts: Array<string> = [];
}

/** Null if the body is not a well-formed answer. */
export function readChanges(body: Uint8Array): ChangeBatch | null {
  const root = parseJson(body).value;
  if (root === null) return null;
  const seq = readSeq(root.get("seq"));
  if (seq < 0) return null;
  const batch = new ChangeBatch();
  batch.seq = <u64>seq;
  const reset = root.get("reset");
  if (reset !== null && reset.kind == JsonKind.Bool && reset.bool) {
    batch.reset = true;
    return batch;
  }
  const changes = root.get("changes");
  if (changes === null || changes.kind != JsonKind.Array) return null;
  for (let i = 0; i < changes.items.length; i++) {
    const host = unchecked(changes.items[i]).get("host");
    if (host === null || host.kind != JsonKind.String) return null;
    batch.hosts.push(host.str);
  }
  return batch;
}
