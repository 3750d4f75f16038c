// The status panel: /healthz and the edge's metrics (/edge/metrics) every few
// seconds while the tab is visible. The API keeps no change timestamps, so
// "last change" is when this page saw the change seq move.
import { call, callText, token } from "./api.js";
import { $, time } from "./dom.js";
import { edgeFigures } from "./edge.js";

const EVERY_MS = 3000;
let timer;
let lastSeq;

const count = (n) => (n === undefined ? "—" : n.toLocaleString("en"));
const mib = (bytes) => (bytes / 1_048_576).toFixed(1);

function showEdge(figures, apiSeq) {
  const { requests, hitRate, feedSeq, feedLagMs, zoneUsed, zoneTotal, errors, traps } = figures;
  $("edge-hits").textContent =
    hitRate === undefined ? (requests === undefined ? "—" : "no requests yet") : `${(hitRate * 100).toFixed(1)}% of ${count(requests)}`;
  const feed = [];
  if (feedSeq !== undefined) feed.push(apiSeq === undefined ? `seq ${feedSeq}` : `${count(Math.max(0, apiSeq - feedSeq))} behind`);
  if (feedLagMs !== undefined) feed.push(`lag ${(feedLagMs / 1000).toFixed(1)} s`);
  $("edge-feed").textContent = feed.join(", ") || "—";
  $("edge-zone").textContent = zoneUsed !== undefined && zoneTotal ? `${mib(zoneUsed)} of ${mib(zoneTotal)} MiB` : "—";
  $("edge-errors").textContent = `${count(errors)} / ${count(traps)}`;
}

async function refreshEdge(apiSeq) {
  // A refresh that was under way when the user signed out.
  if (!token.get()) return;
  try {
    showEdge(edgeFigures(await callText("/edge/metrics")), apiSeq);
    $("edge").hidden = false;
    $("edge-unavailable").hidden = true;
  } catch (error) {
    if (error.status === 401) return;
    $("edge").hidden = true;
    $("edge-unavailable").hidden = false;
    $("edge-unavailable").textContent = `Edge metrics not available: ${error.message}`;
  }
}

export async function refreshStatus() {
  let apiSeq;
  try {
    const health = await call("GET", "/healthz", undefined, null);
    apiSeq = health.seq;
    $("status-api").textContent = health.status;
    $("status-entries").textContent = health.entries.toLocaleString("en");
    $("status-seq").textContent = String(health.seq);
    if (lastSeq !== undefined && health.seq !== lastSeq) $("status-changed").textContent = `seen at ${time(new Date())}`;
    lastSeq = health.seq;
  } catch (error) {
    $("status-api").textContent = error.status ? `error: ${error.message}` : "unreachable";
  }
  await refreshEdge(apiSeq);
  $("status-updated").textContent = time(new Date());
}

export function startStatus() {
  stopStatus();
  void refreshStatus();
  timer = setInterval(() => {
    if (!document.hidden) void refreshStatus();
  }, EVERY_MS);
}

export function stopStatus() {
  clearInterval(timer);
  lastSeq = undefined;
}
