// status: is the API up, how many routes, which change; the token checked when
// there is one; the edge's metrics through the API's /edge/metrics, or from a URL.
import type { Api } from "./client.ts";
import { describeEdge, fetchEdgeText, summarize, type EdgeFigures } from "./edge.ts";
import { CliError, EXIT } from "./exit.ts";
import type { Output } from "./output.ts";

interface Health {
  status: string;
  entries: number;
  seq: number;
}

// The token goes to the edge URL only where it is the operator's own: loopback
// or the API's host. Elsewhere a metrics URL gets no credentials.
function tokenFor(edgeUrl: string, api: Api): string | undefined {
  try {
    const { hostname } = new URL(edgeUrl);
    const own = ["127.0.0.1", "[::1]", "localhost", api.settings.url.hostname];
    return own.includes(hostname) || hostname.endsWith(".localhost") ? api.settings.token : undefined;
  } catch {
    return undefined;
  }
}

/** Where the edge's metrics come from: the API's GET /edge/metrics, or a metrics URL of its own. */
export type EdgeSource = { via: "api" } | { url: string };

async function edgeText(api: Api, source: EdgeSource): Promise<{ label: string; text: string }> {
  if ("url" in source) return { label: source.url, text: await fetchEdgeText(source.url, tokenFor(source.url, api)) };
  const reply = await api.call("GET", "/edge/metrics");
  return { label: `${api.settings.url.origin}/edge/metrics`, text: reply.text };
}

export async function status(api: Api, out: Output, options: { edge?: EdgeSource }): Promise<void> {
  const { data: health } = await api.json<Health>("GET", "/healthz", { auth: false });
  let token: "accepted" | "refused" | "none" = "none";
  if (api.settings.token) {
    const reply = await api.call("GET", "/entries.json?limit=1", { ok: [200, 401] });
    token = reply.status === 200 ? "accepted" : "refused";
  }
  let edge: EdgeFigures | undefined;
  let edgeError: CliError | undefined;
  if (options.edge) {
    try {
      const { label, text } = await edgeText(api, options.edge);
      edge = summarize(label, text, health.seq);
    } catch (error) {
      if (!(error instanceof CliError)) throw error;
      edgeError = error;
    }
  }
  const human = [
    `route API ${api.settings.url.origin}: ${health.status}, ${health.entries} routes, change seq ${health.seq}, token ${token}` +
      (token === "refused" ? ` (from ${api.settings.tokenSource})` : ""),
    ...(edge ? [describeEdge(edge)] : []),
  ].join("\n");
  out.result(human, {
    api: { url: api.settings.url.href, ...health, token },
    ...(edge ? { edge } : {}),
    ...(edgeError ? { edge: { error: edgeError.message } } : {}),
  });
  // The figures that could be read are printed above; the exit code still says what failed.
  if (edgeError) throw edgeError;
  if (token === "refused") throw new CliError(EXIT.auth, "unauthorized", `the API refused the token from ${api.settings.tokenSource}`);
}
