// Per-request context: read the client's Host (`:authority`), normalize it
// straight into the cache key, and hand the key to the root's resolver.
import { HttpContext } from "../abi/context";
import * as host from "../abi/host";
import { MapType } from "../abi/types";
import { returnedPtr, returnedSize } from "../abi/memory";
import { normalizeInto, MAX_NAME_BYTES } from "./normalize";
import { HOST_KEY_PREFIX } from "./entry";
import { deliver, BAD_REQUEST } from "./respond";
import { ResolverRoot } from "./root";

const AUTHORITY = String.UTF8.encode(":authority");

// "sb:h:" + normalized host, rebuilt in place for every request.
const PREFIX_SIZE: i32 = 5;
const KEY_BUF: usize = memory.data(PREFIX_SIZE + MAX_NAME_BYTES + 3);
for (let i = 0; i < PREFIX_SIZE; i++) store<u8>(KEY_BUF + <usize>i, <u8>HOST_KEY_PREFIX.charCodeAt(i));

export class ResolverRequest extends HttpContext {
  constructor(id: u32, public resolver: ResolverRoot) {
    super(id, resolver);
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
    return resolver.resolveKey(this.id, KEY_BUF, <usize>(PREFIX_SIZE + n));
  }
}
