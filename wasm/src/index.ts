// Entry point of build/resolver.wasm: the proxy-wasm 0.2.1 exports and the
// resolver's root context factory.
import { setRootContextFactory, RootContext } from "./abi/context";
import { ResolverRoot } from "./resolver/root";
// Referenced by `--use abort=wasm/src/abi/abort/abortFilter` (asconfig.json).
import "./abi/abort";

export {
  proxy_on_context_create,
  proxy_on_vm_start,
  proxy_on_configure,
  proxy_on_tick,
  proxy_on_http_call_response,
  proxy_on_request_headers,
  proxy_on_delete,
} from "./abi/context";
export { proxy_on_memory_allocate } from "./abi/memory";

/** ABI marker: the host looks for this export and never calls it. */
export function proxy_abi_version_0_2_1(): void {}

setRootContextFactory((id: u32): RootContext => new ResolverRoot(id));
