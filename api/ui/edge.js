// The nginx edge's figures for the status panel, from the Prometheus text the
// API passes on at /edge/metrics (series in docs/metrics.md). cli/edge.ts reads
// the same series for `set-backend status --edge`.
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function samples(text) {
  const out = [];
  for (const line of text.split("\n")) {
    const match = line.startsWith("#") ? null : SAMPLE.exec(line);
    if (!match || !Number.isFinite(Number(match[3]))) continue;
    const labels = {};
    for (const [, key, value] of (match[2] ?? "").matchAll(LABEL)) labels[key] = value;
    out.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return out;
}

/** The panel's figures; a series the edge does not serve is undefined. */
export function edgeFigures(text) {
  const all = samples(text);
  const sum = (name, where = {}) => {
    const found = all.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v));
    return found.length === 0 ? undefined : found.reduce((total, s) => total + s.value, 0);
  };
  const requests = sum("set_backend_requests_total");
  return {
    requests,
    // docs/metrics.md: the hit rate is the share decided at once, from the shared cache.
    hitRate: requests ? sum("set_backend_requests_total", { waited: "false" }) / requests : undefined,
    errors: sum("set_backend_requests_total", { result: "error" }),
    traps: sum("set_backend_filter_traps_total"),
    feedSeq: sum("set_backend_filter_feed_seq"),
    feedLagMs: sum("set_backend_filter_feed_lag_ms"),
    zoneUsed: sum("set_backend_zone_bytes", { state: "used" }),
    zoneTotal: sum("set_backend_zone_bytes", { state: "total" }),
  };
}
