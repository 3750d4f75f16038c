// Per-request context: read the client's Host (`:authority`), normalize it,
// and hand it to the root's resolver.
import { HttpContext } from "../abi/context";
import * as host from "../abi/host";
import { MapType } from "../abi/types";
import { normalizeHostBuffer } from "./normalize";
import { deliver, BAD_REQUEST } from "./respond";
import { ResolverRoot } from "./root";

export class ResolverRequest extends HttpContext {
  constructor(id: u32, public resolver: ResolverRoot) {
    super(id, resolver);
  }

  onRequestHeaders(headerCount: u32, endOfStream: bool): u32 {
    const resolver = this.resolver;
    if (!resolver.configured) return deliver(BAD_REQUEST, "", resolver.config, false);
    const raw = host.getHeaderBytes(MapType.HttpRequestHeaders, ":authority");
    const name = raw !== null ? normalizeHostBuffer(raw) : null;
    if (name === null) return deliver(BAD_REQUEST, "", resolver.config, false);
    return resolver.resolve(this.id, name);
  }
}
