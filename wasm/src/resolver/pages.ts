// Error pages served as local responses, in three variants chosen by Accept
// the way nginx.conf.template's `map $http_accept $error_variant` chooses them
// for nginx's own 502/504 pages.  HTML comes from a template (the plugin
// configuration's, or a default) where "{host}" becomes the HTML-escaped host;
// text and JSON are fixed.  Each error has one line of prose, used by all
// three.  Pure code.
import { normalizeHost } from "./normalize";

export class ErrorPage {
  constructor(
    public status: u32,
    /** "404 Not Found": the text line's and the HTML title's start. */
    public title: string,
    /** JSON "error". */
    public code: string,
    /** Starts with a-z (the HTML page capitalizes it), no full stop; "{host}" is the host. */
    public line: string,
  ) {}
}

export const NOT_FOUND_PAGE = new ErrorPage(404, "404 Not Found", "not_found", "there is no site at {host}");
export const UNAVAILABLE_PAGE = new ErrorPage(503, "503 Service Unavailable", "service_unavailable",
  "the routing service cannot answer for {host} right now");
// The route's backend is a name that does not resolve (nginx's own 502 page covers a backend that does not answer).
export const BAD_GATEWAY_PAGE = new ErrorPage(502, "502 Bad Gateway", "bad_gateway", "the backend of {host} cannot be found");
// The Host header was not a DNS name: no echo of it at all.
export const BAD_HOST_PAGE = new ErrorPage(400, "400 Bad Request", "bad_request", "the Host header is not a valid host name");

/**
 * The built-in HTML template of an error.  (html, head and body tags are
 * optional in HTML5; leaving them out keeps the module small.)
 */
export function defaultHtml(page: ErrorPage): string {
  const line = page.line;
  return "<!DOCTYPE html><meta charset=\"utf-8\"><title>" + page.title + "</title><h1>" + page.title + "</h1><p>" +
    String.fromCharCode(line.charCodeAt(0) - 0x20) + line.substring(1) + ".</p>\n";
}

export const DEFAULT_NOT_FOUND_PAGE = defaultHtml(NOT_FOUND_PAGE);
export const DEFAULT_UNAVAILABLE_PAGE = defaultHtml(UNAVAILABLE_PAGE);
export const BAD_REQUEST_PAGE = defaultHtml(BAD_HOST_PAGE);
export const DEFAULT_BAD_GATEWAY_PAGE = defaultHtml(BAD_GATEWAY_PAGE);

export namespace Variant {
  export const Html: i32 = 0;
  export const Text: i32 = 1;
  export const Json: i32 = 2;
}

/**
 * The variant an Accept value (raw bytes) asks for, as nginx's map does it:
 * "application/json" anywhere, ignoring ASCII case, is JSON; else "text/plain"
 * is text; anything else (no Accept at all, "*\/*", "text/html") is HTML.
 */
export function variantOf(accept: usize, size: usize): i32 {
  if (containsAsciiCi(accept, size, "application/json")) return Variant.Json;
  if (containsAsciiCi(accept, size, "text/plain")) return Variant.Text;
  return Variant.Html;
}

/** Whether the bytes contain `needle` (lowercase ASCII), A–Z folded to a–z. */
function containsAsciiCi(p: usize, size: usize, needle: string): bool {
  const n = <usize>needle.length;
  for (let at: usize = 0; at + n <= size; at++) {
    let j: usize = 0;
    for (; j < n; j++) {
      let c = <u32>load<u8>(p + at + j);
      if (c - 0x41 < 26) c += 0x20;
      if (c != <u32>needle.charCodeAt(<i32>j)) break;
    }
    if (j == n) return true;
  }
  return false;
}

/**
 * The body of `page` in `variant`: the HTML template rendered, or the fixed
 * text line or JSON object.  The host is printed as is in text and JSON, which
 * is safe only for a DNS name (a-z, 0-9, "-", "."): the callers pass the
 * normalized host, and anything that would not normalize to itself (a future
 * caller's mistake) is left out rather than escaped.  The 400 names no host.
 */
export function renderVariant(variant: i32, page: ErrorPage, html: string, host: string): string {
  if (variant == Variant.Html) return fill(html, escapeHtml(host));
  if (normalizeHost(host) != host) host = "";
  if (variant == Variant.Text) return page.title + ": " + fill(page.line, host) + "\n";
  return "{\"error\":\"" + page.code + "\",\"status\":" + page.title.substring(0, 3) +
    (page.status == 400 ? "" : ",\"host\":\"" + host + "\"") +
    ",\"message\":\"" + fill(page.line, host) + "\"}\n";
}

const PLACEHOLDER = "{host}";

/** Every "{host}" in the template becomes `value`. */
function fill(template: string, value: string): string {
  let out = "";
  let from = 0;
  while (true) {
    const at = template.indexOf(PLACEHOLDER, from);
    if (at < 0) break;
    out += template.substring(from, at) + value;
    from = at + PLACEHOLDER.length;
  }
  return out + template.substring(from);
}

/** Every "{host}" in the template becomes the HTML-escaped host. */
export function renderPage(template: string, host: string): string {
  return fill(template, escapeHtml(host));
}

export function escapeHtml(text: string): string {
  let out = "";
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let rep = "";
    if (c == 0x26) rep = "&amp;";
    else if (c == 0x3c) rep = "&lt;";
    else if (c == 0x3e) rep = "&gt;";
    else if (c == 0x22) rep = "&quot;";
    else if (c == 0x27) rep = "&#39;";
    else continue;
    out += text.substring(run, i) + rep;
    run = i + 1;
  }
  return out + text.substring(run);
}
