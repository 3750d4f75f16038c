// Error pages served as local responses.  Templates come from the plugin
// configuration; "{host}" is replaced with the HTML-escaped normalized host.
// Pure code.

// (html, head and body tags are optional in HTML5; leaving them out keeps the
// module small.)
export const DEFAULT_NOT_FOUND_PAGE =
  "<!DOCTYPE html><meta charset=\"utf-8\"><title>Site not found</title>" +
  "<h1>404</h1><p>There isn't a site here at {host}.</p>\n";

export const DEFAULT_UNAVAILABLE_PAGE =
  "<!DOCTYPE html><meta charset=\"utf-8\"><title>Service unavailable</title>" +
  "<h1>503</h1><p>{host} can't be reached right now. Try again in a moment.</p>\n";

// The Host header was not a DNS name: no echo of it at all.
export const BAD_REQUEST_PAGE =
  "<!DOCTYPE html><meta charset=\"utf-8\"><title>Bad request</title>" +
  "<h1>400</h1><p>The Host header is not a valid host name.</p>\n";

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

const PLACEHOLDER = "{host}";

/** Every "{host}" in the template becomes the escaped host. */
export function renderPage(template: string, host: string): string {
  const escaped = escapeHtml(host);
  let out = "";
  let from = 0;
  while (true) {
    const at = template.indexOf(PLACEHOLDER, from);
    if (at < 0) break;
    out += template.substring(from, at) + escaped;
    from = at + PLACEHOLDER.length;
  }
  return out + template.substring(from);
}
