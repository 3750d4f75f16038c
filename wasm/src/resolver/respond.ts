// Turning a lookup outcome into what the host should do with the request.
import * as host from "../abi/host";
import { MapType } from "../abi/types";
import { Action } from "../abi/types";
import { HeaderPair } from "../abi/headers";
import { returnedPtr, returnedSize } from "../abi/memory";
import { ResolverConfig } from "./config";
import * as metrics from "./metrics";
import { ErrorPage, NOT_FOUND_PAGE, UNAVAILABLE_PAGE, BAD_HOST_PAGE, BAD_REQUEST_PAGE, BAD_GATEWAY_PAGE, DEFAULT_BAD_GATEWAY_PAGE,
  renderVariant, variantOf, Variant } from "./pages";

export namespace Outcome {
  export const Backend: i32 = 0;
  export const NotFound: i32 = 1;
  export const Unavailable: i32 = 2;
  export const BadRequest: i32 = 3;
  export const BadGateway: i32 = 4;
}

export class Resolution {
  /** `stale`: a backend served only because the route API failed (stale-if-error). */
  constructor(public outcome: i32, public backend: string, public stale: bool = false) {}
}

export function backendOf(backend: string): Resolution { return new Resolution(Outcome.Backend, backend); }
export function staleBackendOf(backend: string): Resolution { return new Resolution(Outcome.Backend, backend, true); }
export const NOT_FOUND = new Resolution(Outcome.NotFound, "");
export const UNAVAILABLE = new Resolution(Outcome.Unavailable, "");
export const BAD_REQUEST = new Resolution(Outcome.BadRequest, "");
export const BAD_GATEWAY = new Resolution(Outcome.BadGateway, "");

// The host-side property the module turns into `set_backend $var`: one address,
// or several separated by commas (the balancer tries them in order; $var is the first).
const BACKEND_PROPERTY = String.UTF8.encode("backend");

/** Hands the backend to the host straight from where it lies (cache-hit path). */
export function setBackendRaw(ptr: usize, size: usize): void {
  host.setPropertyBytes(BACKEND_PROPERTY, ptr, size);
}

const ACCEPT = String.UTF8.encode("accept");

/**
 * Sends an error page in the variant the request's Accept asks for.  Accept is
 * read only here, so the hit path never pays for it.
 */
function sendPage(page: ErrorPage, details: string, html: string, hostName: string): void {
  const variant = host.getHeaderRaw(MapType.HttpRequestHeaders, changetype<usize>(ACCEPT), <usize>ACCEPT.byteLength)
    ? variantOf(returnedPtr(), returnedSize()) : Variant.Html;
  const headers = new Array<HeaderPair>();
  headers.push(new HeaderPair("content-type", variant == Variant.Html ? "text/html; charset=utf-8"
    : variant == Variant.Text ? "text/plain; charset=utf-8" : "application/json"));
  headers.push(new HeaderPair("cache-control", "no-store"));
  host.sendLocalResponse(page.status, details, String.UTF8.encode(renderVariant(variant, page, html, hostName)), headers);
}

/**
 * Applies a resolution to the effective HTTP context.  `resumed` is true when
 * the request was paused waiting for a callout and must be continued.
 * Returns the action for on_request_headers (ignored when resumed).
 */
export function deliver(res: Resolution, hostName: string, config: ResolverConfig, resumed: bool): u32 {
  if (res.outcome == Outcome.Backend) {
    if (res.stale) metrics.increment(metrics.staleServed);
    const value = String.UTF8.encode(res.backend);
    setBackendRaw(changetype<usize>(value), <usize>value.byteLength);
    if (resumed) host.continueRequest();
    return Action.Continue;
  }
  if (res.outcome == Outcome.NotFound) sendPage(NOT_FOUND_PAGE, "set_backend_not_found", config.notFoundPage, hostName);
  else if (res.outcome == Outcome.Unavailable) sendPage(UNAVAILABLE_PAGE, "set_backend_unavailable", config.unavailablePage, hostName);
  else if (res.outcome == Outcome.BadGateway) sendPage(BAD_GATEWAY_PAGE, "set_backend_unresolvable", DEFAULT_BAD_GATEWAY_PAGE, hostName);
  else sendPage(BAD_HOST_PAGE, "set_backend_bad_host", BAD_REQUEST_PAGE, "");
  return Action.Pause;
}

const STATUS_HEADER = String.UTF8.encode(":status");

/** HTTP status of a callout response; 0 when the call failed (no headers). */
export function calloutStatus(headerCount: u32): u32 {
  if (headerCount == 0 ||
      !host.getHeaderRaw(MapType.HttpCallResponseHeaders, changetype<usize>(STATUS_HEADER), <usize>STATUS_HEADER.byteLength) ||
      returnedSize() != 3) return 0;
  const p = returnedPtr();
  let n: u32 = 0;
  for (let i: usize = 0; i < 3; i++) {
    const c = <u32>load<u8>(p + i);
    if (c < 0x30 || c > 0x39) return 0;
    n = n * 10 + c - 0x30;
  }
  return n;
}
