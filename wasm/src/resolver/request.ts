// Per-request context: read the client's Host (`:authority`), normalize it
// straight into the cache key, and hand the key to the root's resolver.
import { HttpContext } from "../abi/context";
import * as host from "../abi/host";
import { MapType } from "../abi/types";
import { returnedPtr, returnedSize } from "../abi/memory";
import { normalizeInto, MAX_NAME_BYTES } from "./normalize";
import { HOST_KEY_PREFIX } from "./entry";
import { deliver, BAD_REQUEST } from "./respond";
import { ResolverRoot, Lookup } from "./root";

const AUTHORITY = String.UTF8.encode(":authority");

// "sb:h:" + normalized host, rebuilt in place for every request.
const PREFIX_SIZE: i32 = 5;
const KEY_BUF: usize = memory.data(PREFIX_SIZE + MAX_NAME_BYTES + 3);
for (let i = 0; i < PREFIX_SIZE; i++) store<u8>(KEY_BUF + <usize>i, <u8>HOST_KEY_PREFIX.charCodeAt(i));

export class ResolverRequest extends HttpContext {
  /** The lookup this request is paused on, if any. */
  waitingOn: Lookup | null = null;

  constructor(id: u32, public resolver: ResolverRoot) {
    super(id, resolver);
  }

  wait(lookup: Lookup): void {
    lookup.waiters.push(this.id);
    this.waitingOn = lookup;
  }

  /** A request that ends while paused leaves its lookup's waiters. */
  onDelete(): void {
    const lookup = this.waitingOn;
    if (lookup === null) return;
    const w = lookup.waiters;
    const last = w.length - 1;
    for (let i = 0; i <= last; i++) {
      if (w[i] != this.id) continue;
      w[i] = w[last]; // order of waiters does not matter
      w.length = last;
      return;
    }
  }

  onRequestHeaders(headerCount: u32, endOfStream: bool): u32 {
    const resolver = this.resolver;
    if (!resolver.configured ||
        !host.getHeaderRaw(MapType.HttpRequestHeaders, changetype<usize>(AUTHORITY), <usize>AUTHORITY.byteLength)) {
      return deliver(BAD_REQUEST, "", resolver.config, false);
    }
    const size = returnedSize();
    const n = size > 4096 ? -1 : normalizeInto(returnedPtr(), <i32>size, KEY_BUF + <usize>PREFIX_SIZE);
    if (n < 0) return deliver(BAD_REQUEST, "", resolver.config, false);
    return resolver.resolveKey(this, KEY_BUF, <usize>(PREFIX_SIZE + n));
  }
}
