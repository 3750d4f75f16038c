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

// The last context looked up, added or deleted (null: known absent). A request's
// callbacks come in a row (create, headers, delete), so this saves most Map
// lookups; id 0 never names a context.
let lastId: u32 = 0;
let lastContext: Context | null = null;

function contextById(id: u32): Context | null {
  if (id == lastId) return lastContext;
  if (!contexts.has(id)) return null;
  lastId = id;
  lastContext = contexts.get(id);
  return lastContext;
}

function addContext(id: u32, c: Context): void {
  contexts.set(id, c);
  lastId = id;
  lastContext = c;
}

function removeContext(id: u32): void {
  contexts.delete(id);
  lastId = id;
  lastContext = null;
}

function rootById(id: u32): RootContext | null {
  const c = contextById(id);
  return c !== null && c.isRoot ? changetype<RootContext>(c) : null;
}

function requestById(id: u32): HttpContext | null {
  const c = contextById(id);
  return c !== null && !c.isRoot ? changetype<HttpContext>(c) : null;
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
    addContext(id, rootFactory(id));
  } else {
    const root = rootById(parentId);
    if (root !== null) addContext(id, root.createHttpContext(id));
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

// No proxy_on_done export: the filter never defers the end of a request, and a
// host treats a missing on_done as "done" (spec) — one guest call less per request.

export function proxy_on_delete(id: u32): void {
  const c = contextById(id);
  if (c === null) return;
  enter();
  if (!c.isRoot) changetype<HttpContext>(c).onDelete();
  removeContext(id);
  leave(false);
}
