// A deterministic, realistic-looking routing table and a resolve workload over it.
// The same seed gives the same table, so runs on different days compare.
import { seededRandom as seeded } from "../../tests/lib/random.ts";

/** The seeded generator (tests/lib/random.ts), as the benchmarks name it. */
export { seeded };

export interface Entry {
  host: string;
  backend: string;
}

// One route in WILDCARD_EVERY is a wildcard, as for tenants with their own subdomains.
const WILDCARD_EVERY = 20;

/**
 * `count` unique routes: mostly exact names of a few shapes
 * (`site-123456.example-7.com`, `www.shop-42.store-3.net`), every 20th a
 * wildcard (`*.tenant-99.pages-4.io`); backends are IPv4, DNS names and a few
 * unix sockets. Ids are a permutation so that keys do not arrive sorted.
 */
export function generateEntries(count: number, seed = 0x5e7bac): Entry[] {
  const rand = seeded(seed);
  const ids = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [ids[i], ids[j]] = [ids[j]!, ids[i]!];
  }
  const entries: Entry[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const id = ids[i]!;
    let host: string;
    if (id % WILDCARD_EVERY === 0) host = `*.tenant-${id}.pages-${id % 7}.io`;
    else if (id % 3 === 0) host = `www.shop-${id}.store-${id % 13}.net`;
    else host = `site-${String(id).padStart(6, "0")}.example-${id % 10}.com`;
    const r = rand();
    let backend: string;
    if (r < 0.7) backend = `10.${(id >> 16) & 255}.${(id >> 8) & 255}.${id & 255}:${3000 + (id % 100)}`;
    else if (r < 0.97) backend = `app-${id % 5000}.internal.example:8080`;
    else backend = `unix:/run/sites/app-${id % 1000}.sock`;
    entries[i] = { host, backend };
  }
  return entries;
}

export function toNdjson(entries: Entry[]): string {
  let out = "";
  // One line at a time: a 1M-element array of strings joined at once costs twice the memory.
  for (const e of entries) out += JSON.stringify(e) + "\n";
  return out;
}

export type Expect = "exact" | "wildcard" | "miss";

export interface Lookup {
  path: string;
  expect: Expect;
}

/**
 * Request paths for `GET /resolve/<host>`: `hits` exact names, `wildcards`
 * names under wildcard routes, and `misses` that walk every suffix and find
 * nothing (no catch-all is loaded). Shuffled together.
 */
export function resolveWorkload(entries: Entry[], size: number, mix = { exact: 0.8, wildcard: 0.1 }, seed = 0xbe7c4): Lookup[] {
  const rand = seeded(seed);
  const exact = entries.filter((e) => !e.host.startsWith("*."));
  const wild = entries.filter((e) => e.host.startsWith("*."));
  const lookups: Lookup[] = [];
  for (let i = 0; i < size; i++) {
    const r = rand();
    let host: string;
    let expect: Expect;
    if (r < mix.exact) {
      host = exact[Math.floor(rand() * exact.length)]!.host;
      expect = "exact";
    } else if (r < mix.exact + mix.wildcard && wild.length > 0) {
      const suffix = wild[Math.floor(rand() * wild.length)]!.host.slice(1);
      host = (rand() < 0.5 ? "www" : `blog-${i}.eu`) + suffix;
      expect = "wildcard";
    } else {
      host = `nosuch-${i}.example-${i % 10}.org`;
      expect = "miss";
    }
    lookups.push({ path: `/resolve/${encodeURIComponent(host)}`, expect });
  }
  return lookups;
}
