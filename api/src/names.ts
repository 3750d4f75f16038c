// Backends given by name (localhost:3000, app.internal:8080, a service name):
// nginx's workers must never block on DNS, so the route API resolves the name
// when it answers /resolve and hands the filter addresses with a lifetime.
//
// Names resolve the way the machine resolves them: getaddrinfo (Node's
// dns.lookup, on libuv's thread pool) reads /etc/hosts and the system
// resolver. An extra hosts file (BACKEND_HOSTS_FILE) is consulted first: for
// names the machine should not know, and for tests that move a name.
//
// Results are cached per name for their TTL (DNS's where a DNS answer carries
// one, else the configured default; capped), concurrent lookups of one name are
// coalesced, and a name that stops resolving keeps its last addresses for a
// bounded stale period.
import { promises as dns, Resolver } from "node:dns";
import { isIPv4, isIPv6 } from "node:net";
import { readFile, stat } from "node:fs/promises";
import type { Logger } from "pino";
import { backendParts } from "./backend.ts";

/** What /resolve adds to a route: where to connect, and for how long that holds. */
export interface BackendAddresses {
  /** `ip:port`, `[ipv6]:port` or `unix:/path`, in the order to try them; empty when the name does not resolve. */
  addresses: string[];
  /** How long the addresses may be used, in ms; absent for an address backend (it never changes). */
  ttl_ms?: number;
  /** Why there are no addresses (the name does not resolve). */
  error?: string;
}

export interface NameOptions {
  /** Lifetime of an answer whose TTL is unknown (/etc/hosts, getaddrinfo), ms. */
  ttlMs: number;
  /** Upper bound of any lifetime, whatever DNS says, ms. */
  maxTtlMs: number;
  /** How long the last addresses of a name that stopped resolving are still used, ms; 0 disables. */
  staleMs: number;
  /** Lifetime of "does not resolve", ms. */
  failureTtlMs: number;
  /** An extra hosts file consulted before the system, or undefined. */
  hostsFile?: string;
  /** At most this many names are remembered; the oldest go first. */
  maxNames?: number;
  /** Replaces the system lookup (unit tests of the cache logic only). */
  systemLookup?: (name: string) => Promise<{ addresses: string[]; ttlMs?: number }>;
  now?: () => number;
}

/** At most this many addresses are handed on per name (the filter's cache entry is bounded). */
export const MAX_ADDRESSES = 8;
// How long to wait for a DNS answer's TTL once getaddrinfo has answered.
const TTL_GRACE_MS = 50;

interface Known {
  addresses: string[];
  /** Fresh until then. */
  expiresAt: number;
  /** When the addresses were last confirmed (stale period counts from here). */
  confirmedAt: number;
  error?: string;
}

export class NameError extends Error {}

export class BackendNames {
  private readonly known = new Map<string, Known>();
  private readonly inFlight = new Map<string, Promise<Known>>();
  private readonly now: () => number;
  private readonly maxNames: number;
  private readonly ttlResolver = new Resolver({ timeout: 500, tries: 1 });
  private hostsFile: { mtimeMs: number; size: number; names: Map<string, string[]> } | undefined;

  constructor(
    private readonly options: NameOptions,
    private readonly logger?: Logger,
  ) {
    this.now = options.now ?? Date.now;
    this.maxNames = options.maxNames ?? 100_000;
  }

  /** Where a stored backend connects, never throwing: a name that does not resolve has no addresses. */
  async addressesOf(backend: string): Promise<BackendAddresses> {
    const parts = backendParts(backend);
    if (parts.kind !== "name") return { addresses: [backend] };
    const known = await this.lookupName(parts.host);
    const now = this.now();
    const addresses = known.addresses.map((ip) => (isIPv6(ip) ? `[${ip}]:${parts.port}` : `${ip}:${parts.port}`));
    const ttl_ms = Math.max(1, known.expiresAt - now);
    return known.error !== undefined && addresses.length === 0 ? { addresses, ttl_ms, error: known.error } : { addresses, ttl_ms };
  }

  private lookupName(name: string): Promise<Known> {
    const cached = this.known.get(name);
    if (cached !== undefined && this.now() < cached.expiresAt) return Promise.resolve(cached);
    let pending = this.inFlight.get(name);
    if (pending === undefined) {
      pending = this.refresh(name, cached).finally(() => this.inFlight.delete(name));
      this.inFlight.set(name, pending);
    }
    return pending;
  }

  private async refresh(name: string, previous: Known | undefined): Promise<Known> {
    const { ttlMs, maxTtlMs, staleMs, failureTtlMs } = this.options;
    let known: Known;
    try {
      const found: { addresses: string[]; ttlMs?: number } = (await this.fromHostsFile(name)) ?? (await this.fromSystem(name));
      if (found.addresses.length === 0) throw new NameError("no addresses");
      const now = this.now();
      const lifetime = Math.min(maxTtlMs, Math.max(1000, found.ttlMs ?? ttlMs));
      known = { addresses: found.addresses.slice(0, MAX_ADDRESSES), expiresAt: now + lifetime, confirmedAt: now };
      if (previous?.error !== undefined || (previous && previous.addresses.join() !== known.addresses.join())) {
        this.logger?.info({ name, addresses: known.addresses }, "backend name resolves");
      }
    } catch (error) {
      const now = this.now();
      const why = describe(error);
      if (previous !== undefined && previous.addresses.length > 0 && now - previous.confirmedAt < staleMs) {
        // Keep routing to the last addresses, asking again soon.
        const expiresAt = Math.min(now + failureTtlMs, previous.confirmedAt + staleMs);
        known = { ...previous, expiresAt };
        this.logger?.warn({ name, error: why, addresses: previous.addresses, confirmed_at: new Date(previous.confirmedAt).toISOString() },
          "backend name does not resolve: using its last addresses");
      } else {
        known = { addresses: [], expiresAt: now + failureTtlMs, confirmedAt: 0, error: `${name} does not resolve (${why})` };
        if (previous?.error === undefined) this.logger?.warn({ name, error: why }, "backend name does not resolve");
      }
    }
    this.remember(name, known);
    return known;
  }

  private remember(name: string, known: Known): void {
    this.known.delete(name);
    this.known.set(name, known);
    if (this.known.size > this.maxNames) this.known.delete(this.known.keys().next().value!);
  }

  private async fromSystem(name: string): Promise<{ addresses: string[]; ttlMs?: number }> {
    if (this.options.systemLookup) return this.options.systemLookup(name);
    // The TTL only a DNS answer carries, asked for alongside (names from
    // /etc/hosts have none: that query fails and the default applies).
    const ttl = this.dnsTtl(name);
    const results = await dns.lookup(name, { all: true, order: "ipv4first" });
    const ttlMs = await Promise.race([ttl, new Promise<undefined>((r) => void setTimeout(r, TTL_GRACE_MS))]);
    return { addresses: unique(results.map((r) => r.address)), ttlMs };
  }

  private async dnsTtl(name: string): Promise<number | undefined> {
    try {
      const records = await new Promise<{ ttl: number }[]>((resolve, reject) =>
        this.ttlResolver.resolve4(name, { ttl: true }, (error, found) => (error ? reject(error) : resolve(found))),
      );
      return records.length > 0 ? Math.min(...records.map((r) => r.ttl)) * 1000 : undefined;
    } catch {
      return undefined;
    }
  }

  /** Addresses of `name` in the extra hosts file, re-read when it changes; undefined when it has none. */
  private async fromHostsFile(name: string): Promise<{ addresses: string[] } | undefined> {
    const path = this.options.hostsFile;
    if (path === undefined) return undefined;
    let info;
    try {
      info = await stat(path);
    } catch {
      return undefined; // an absent file names nothing
    }
    if (this.hostsFile?.mtimeMs !== info.mtimeMs || this.hostsFile.size !== info.size) {
      this.hostsFile = { mtimeMs: info.mtimeMs, size: info.size, names: parseHosts(await readFile(path, "utf8")) };
    }
    const addresses = this.hostsFile.names.get(name);
    return addresses ? { addresses } : undefined;
  }
}

/** /etc/hosts syntax: an address, then names; '#' starts a comment. Lines that do not parse are skipped. */
export function parseHosts(text: string): Map<string, string[]> {
  const names = new Map<string, string[]>();
  for (const raw of text.split("\n")) {
    const [address, ...aliases] = raw.replace(/#.*/, "").trim().split(/\s+/);
    if (!address || aliases.length === 0 || !(isIPv4(address) || isIPv6(address))) continue;
    for (const alias of aliases) {
      const key = alias.toLowerCase().replace(/\.$/, "");
      const list = names.get(key) ?? [];
      if (!list.includes(address)) list.push(address);
      names.set(key, list);
    }
  }
  // IPv4 first, as for the system's answers (dns.lookup's order "ipv4first").
  for (const list of names.values()) list.sort((a, b) => Number(isIPv6(a)) - Number(isIPv6(b)));
  return names;
}

function unique(list: string[]): string[] {
  return [...new Set(list)];
}

function describe(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : error instanceof Error ? error.message : String(error);
}
