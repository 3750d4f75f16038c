// Readers for the route API's answers.  Pure code.
//   GET /resolve/<host> → 200 {"host","backend","match","pattern","addresses":[...],"ttl_ms"?,"error"?} | 404
//   GET /changes?since=N&wait=MS → {"seq":N,"changes":[{"seq","op","host"}]} | {"seq":N,"reset":true}

import { parseJson, JsonKind, JsonValue } from "./json";
import { isValidBackend, isAddress } from "./backend";
import { MAX_BACKEND } from "./entry";

/** More addresses than this make the answer a failure (the API sends at most 8: docs/internal-api.md). */
export const MAX_ADDRESSES: i32 = 8;
/** Separates the addresses in a cache entry and in the `backend` property. */
export const ADDRESS_SEPARATOR = ",";

/** A /resolve answer is one small object. */
export const MAX_RESOLVE_BYTES: i32 = 64 * 1024;
/** A /changes page holds at most 1000 changes: about 300 KB of the longest hosts (docs/internal-api.md). */
export const MAX_CHANGES_BYTES: i32 = 1024 * 1024;

export class ResolveAnswer {
  /** The route's backend as stored: an address or host:port. */
  backend: string = "";
  /** Where to connect, in order, joined by ADDRESS_SEPARATOR; empty when the name does not resolve. */
  addresses: string = "";
  /** How long the addresses hold, ms; -1 when the API gave no limit. */
  ttlMs: i64 = -1;
  /** Why there are no addresses. */
  error: string = "";
}

/**
 * The answer in a /resolve 200 body, or null if the body is unusable.  An API
 * that sends no `addresses` (older than backends by name) is taken at its
 * word when the backend is an address; a name then has none.
 */
export function readResolveAnswer(body: Uint8Array): ResolveAnswer | null {
  const root = parseJson(body).value;
  if (root === null) return null;
  const backend = root.get("backend");
  if (backend === null || backend.kind != JsonKind.String || !isValidBackend(backend.str)) return null;
  const answer = new ResolveAnswer();
  answer.backend = backend.str;
  const addresses = root.get("addresses");
  if (addresses === null) {
    if (isAddress(backend.str)) answer.addresses = backend.str;
  } else {
    if (addresses.kind != JsonKind.Array || addresses.items.length > MAX_ADDRESSES) return null;
    let joined = "";
    for (let i = 0; i < addresses.items.length; i++) {
      const a = unchecked(addresses.items[i]);
      if (a.kind != JsonKind.String || !isAddress(a.str)) return null;
      joined += (i > 0 ? ADDRESS_SEPARATOR : "") + a.str;
    }
    if (String.UTF8.byteLength(joined) > MAX_BACKEND) return null;
    answer.addresses = joined;
  }
  const ttl = root.get("ttl_ms");
  if (ttl !== null) {
    if (ttl.kind != JsonKind.Number || !ttl.isInteger || ttl.num < 0) return null;
    answer.ttlMs = <i64>Math.min(ttl.num, 86_400_000);
  }
  const error = root.get("error");
  if (error !== null && error.kind == JsonKind.String) answer.error = error.str;
  return answer;
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
