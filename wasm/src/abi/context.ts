// Context registry and the proxy_on_* callbacks the host calls.
// The filter subclasses RootContext / HttpContext and installs a root factory;
// this file routes host callbacks to the right object by context id.
import { Action } from "./types";
import { resetArena } from "./memory";

/** Common base so one map holds every context (one Map instantiation less in the binary). */
export class Context {
  constructor(public id: u32, public isRoot: bool) {}
}

export class HttpContext extends Context {
  constructor(id: u32, public root: RootContext) {
    super(id, false);
  }
  onRequestHeaders(headerCount: u32, endOfStream: bool): u32 { return Action.Continue; }
  /** The host is done with the request; drop any per-request state. */
  onDelete(): void {}
}

export class RootContext extends Context {
  constructor(id: u32) {
    super(id, true);
  }
  onVmStart(configSize: usize): bool { return true; }
  onConfigure(configSize: usize): bool { return true; }
  onTick(): void {}
  onHttpCallResponse(token: u32, headerCount: u32, bodySize: usize, trailerCount: u32): void {}
  createHttpContext(id: u32): HttpContext { return new HttpContext(id, this); }
}

type RootFactory = (id: u32) => RootContext;

let rootFactory: RootFactory = (id: u32): RootContext => new RootContext(id);
const contexts = new Map<u32, Context>();

function rootById(id: u32): RootContext | null {
  if (!contexts.has(id)) return null;
  const c = contexts.get(id);
  return c.isRoot ? changetype<RootContext>(c) : null;
}

function requestById(id: u32): HttpContext | null {
  if (!contexts.has(id)) return null;
  const c = contexts.get(id);
  return c.isRoot ? null : changetype<HttpContext>(c);
}

// Garbage collection.  The build uses the `minimal` runtime (no shadow stack:
// half the code size of `incremental` and faster calls), which never collects
// on its own.  Collecting is safe only when no managed reference lives in a
// wasm frame: at the end of the outermost host callback.  The filter collects
// after every tick (every 100 ms by default) and every callout answer (parsed
// JSON is most of the garbage), and, as a bound on the heap during bursts,
// every COLLECT_EVERY callbacks; a cache hit allocates one small context
// object, so this keeps collections off the request path's p99.
const COLLECT_EVERY: u32 = 4096;
let depth: u32 = 0;
let callbacksSinceCollect: u32 = 0;

function enter(): void {
  if (depth == 0) resetArena();
  depth++;
}

function leave(force: bool): void {
  depth--;
  callbacksSinceCollect++;
  if (depth == 0 && (force || callbacksSinceCollect >= COLLECT_EVERY)) {
    callbacksSinceCollect = 0;
    __collect();
  }
}

export function setRootContextFactory(factory: RootFactory): void {
  rootFactory = factory;
}

/** True while the host still knows the HTTP context (it may have gone while paused). */
export function httpContextAlive(id: u32): bool {
  return requestById(id) !== null;
}

export function proxy_on_context_create(id: u32, parentId: u32): void {
  enter();
  if (parentId == 0) {
    contexts.set(id, rootFactory(id));
  } else {
    const root = rootById(parentId);
    if (root !== null) contexts.set(id, root.createHttpContext(id));
  }
  leave(false);
}

export function proxy_on_vm_start(rootId: u32, configSize: usize): bool {
  // The VM configuration is unused: everything is in the plugin configuration.
  return true;
}

export function proxy_on_configure(rootId: u32, configSize: usize): bool {
  const root = rootById(rootId);
  if (root === null) return false;
  enter();
  const ok = root.onConfigure(configSize);
  leave(true);
  return ok;
}

export function proxy_on_tick(rootId: u32): void {
  const root = rootById(rootId);
  if (root === null) return;
  enter();
  root.onTick();
  leave(true);
}

// The spec passes the root context's id; some hosts pass the context that made
// the call.  Either way the root handles the answer.
export function proxy_on_http_call_response(contextId: u32, token: u32, headerCount: u32, bodySize: usize, trailerCount: u32): void {
  let root = rootById(contextId);
  if (root === null) {
    const request = requestById(contextId);
    if (request !== null) root = request.root;
  }
  if (root === null) return;
  enter();
  root.onHttpCallResponse(token, headerCount, bodySize, trailerCount);
  leave(true); // answers are parsed into garbage (JSON); not on the hit path

}

export function proxy_on_request_headers(id: u32, headerCount: u32, endOfStream: bool): u32 {
  const request = requestById(id);
  if (request === null) return Action.Continue;
  enter();
  const action = request.onRequestHeaders(headerCount, endOfStream);
  leave(false);
  return action;
}

export function proxy_on_done(id: u32): bool {
  return true;
}

export function proxy_on_delete(id: u32): void {
  if (!contexts.has(id)) return;
  enter();
  const request = requestById(id);
  if (request !== null) request.onDelete();
  contexts.delete(id);
  leave(false);
}
