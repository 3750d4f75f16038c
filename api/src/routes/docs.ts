// GET / documents the API (the seed's TODO); it is rendered from the same
// OpenAPI document that /openapi.json serves, so the two cannot disagree.
import Router from "@koa/router";
import { escapeHtml } from "../html.ts";
import { openapi } from "../openapi.ts";

interface Operation {
  summary: string;
  description?: string;
  security?: unknown[];
  responses: Record<string, { description: string }>;
}

function examples(domain: string): string {
  const api = `api.${domain}`;
  return [
    `# create or replace a route`,
    `curl -H "Host: ${api}" -H "Authorization: Bearer $TOKEN" localhost:8080/entries.json \\`,
    `     -X POST -d '{"host":"some.host.com","backend":"localhost:3000"}'`,
    `# list routes`,
    `curl -H "Host: ${api}" -H "Authorization: Bearer $TOKEN" localhost:8080/entries.json`,
    `# delete a route`,
    `curl -H "Host: ${api}" -H "Authorization: Bearer $TOKEN" localhost:8080/entries/some.host.com.json -X DELETE`,
    `# import many routes at once (NDJSON, all or nothing)`,
    `curl -H "Host: ${api}" -H "Authorization: Bearer $TOKEN" localhost:8080/entries/import \\`,
    `     -H "Content-Type: application/x-ndjson" --data-binary @routes.ndjson`,
  ].join("\n");
}

function renderPage(domain: string): string {
  const rows: string[] = [];
  for (const [path, item] of Object.entries(openapi.paths)) {
    for (const [method, op] of Object.entries(item as Record<string, Operation | unknown>)) {
      if (method === "parameters") continue;
      const operation = op as Operation;
      const statuses = Object.entries(operation.responses)
        .map(([code, r]) => `<code>${escapeHtml(code)}</code> ${escapeHtml(r.description)}`)
        .join("<br>");
      rows.push(
        `<tr><td><code>${method.toUpperCase()} ${escapeHtml(path)}</code></td>` +
          `<td>${escapeHtml(operation.summary)}${operation.description ? `<p>${escapeHtml(operation.description)}</p>` : ""}</td>` +
          `<td>${operation.security ? "token" : "public"}</td><td>${statuses}</td></tr>`,
      );
    }
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>set-backend route API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;vertical-align:top;text-align:left}
pre{background:#f6f8fa;padding:1rem;overflow:auto}code{font-size:.9em}</style></head>
<body><h1>set-backend route API</h1>
<p>${escapeHtml(openapi.info.description)}</p>
<p>Calls marked <em>token</em> need <code>Authorization: Bearer &lt;token&gt;</code>. Errors are
<code>{"error": "&lt;code&gt;", "message": "&lt;text&gt;"}</code> with a 4xx status. The machine-readable
description is <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1). The admin page is <a href="/ui">/ui</a>; the
<code>set-backend</code> command (<code>npx set-backend --help</code> in a clone) speaks this API too.</p>
<h2>Examples</h2><pre>${escapeHtml(examples(domain))}</pre>
<h2>Routes</h2><table><tr><th>call</th><th>what it does</th><th>auth</th><th>answers</th></tr>
${rows.join("\n")}</table>
<h2>Hosts and backends</h2>
<p>A route's host is a DNS name, a wildcard <code>*.example.com</code> (any name below example.com, not example.com itself),
or the catch-all <code>*</code>. A request's host is matched exactly first, then against wildcards from the most specific
suffix to the least, then the catch-all. A backend is <code>host:port</code> or <code>unix:/absolute/path</code>.</p>
</body></html>
`;
}

export function docsRouter(domain: string): Router {
  const router = new Router();
  const page = renderPage(domain);
  router.get("/", (ctx) => {
    ctx.type = "text/html; charset=utf-8";
    ctx.body = page;
  });
  router.get("/openapi.json", (ctx) => {
    ctx.body = openapi;
  });
  return router;
}
