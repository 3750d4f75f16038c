// Where the routing table lives in etcd (docs/fleet.md, "Keys"):
//
//   <prefix>current                 the generation every node routes by
//   <prefix>gen/<G>/<host>          one route of generation G: its backend
//   <prefix>gen/<G>/!stamp          rewritten by every single write to G: its
//                                   mod_revision is G's last single write
//   <prefix>gen/<G>/!next           written, in the switch transaction, to the
//                                   generation an import replaced: its successor
//   <prefix>imports/<G>             while an import builds G: when it started
//                                   (a generation left by a dead import is found here)
//   <prefix>gen/<G>/!seal           held (on a lease) by an import for the moment
//                                   of its switch: single writes to G wait
//
// The two "!" keys sort inside G's range, so one watch on gen/<G>/ sees, in
// revision order, every write to G and then the switch away from it. "!" cannot
// start a host (hosts.ts allows letters, digits, "-", "." and "*").

/** The generation of a table that no import has replaced yet. */
export const FIRST_GENERATION = "0";

const STAMP = "!stamp";
const NEXT = "!next";
const SEAL = "!seal";

export class EtcdKeys {
  constructor(readonly prefix: string) {}

  get pointer(): string {
    return `${this.prefix}current`;
  }

  get importsPrefix(): string {
    return `${this.prefix}imports/`;
  }

  importRecord(generation: string): string {
    return this.importsPrefix + generation;
  }

  generationPrefix(generation: string): string {
    return `${this.prefix}gen/${generation}/`;
  }

  route(generation: string, host: string): string {
    return this.generationPrefix(generation) + host;
  }

  stamp(generation: string): string {
    return this.generationPrefix(generation) + STAMP;
  }

  next(generation: string): string {
    return this.generationPrefix(generation) + NEXT;
  }

  seal(generation: string): string {
    return this.generationPrefix(generation) + SEAL;
  }

  /** What a key of generation G is: a route (with its host), the stamp, the switch marker, or none of these. */
  classify(generation: string, key: string): { kind: "route"; host: string } | { kind: "stamp" } | { kind: "next" } | { kind: "other" } {
    const prefix = this.generationPrefix(generation);
    if (!key.startsWith(prefix)) return { kind: "other" };
    const rest = key.slice(prefix.length);
    if (rest === STAMP) return { kind: "stamp" };
    if (rest === NEXT) return { kind: "next" };
    if (rest === "" || rest.startsWith("!")) return { kind: "other" };
    return { kind: "route", host: rest };
  }
}

/** The end of etcd's range for all keys starting with `prefix` (prefix with its last byte plus one). */
export function prefixEnd(prefix: string): Buffer {
  const bytes = Buffer.from(prefix);
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i]!++;
      return end;
    }
  }
  // All 0xff: to the end of the keyspace.
  return Buffer.from([0]);
}

/** A fresh generation name: sortable by time, unique across nodes. */
export function newGeneration(now = Date.now(), random = Math.random()): string {
  return `${now.toString(36).padStart(9, "0")}-${Math.floor(random * 36 ** 6).toString(36).padStart(6, "0")}`;
}

/**
 * Routes per page when a generation is read whole. etcd 3.4 applies a range's
 * limit after walking its index over the rest of the range, so each page costs
 * in proportion to what follows it: fewer, larger pages read faster (400,000
 * routes: a new edge's sync 11 s with pages of 10,000, 7 s with 50,000, ~5 MB
 * each). The client accepts messages that large (etcd-client.ts).
 */
export const SNAPSHOT_PAGE = 50_000;
