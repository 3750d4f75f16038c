// The status panel: /healthz every few seconds while the tab is visible. The
// API keeps no change timestamps, so "last change" is when this page saw the
// change seq move.
import { call } from "./api.js";
import { $, time } from "./dom.js";

const EVERY_MS = 3000;
let timer;
let lastSeq;

export async function refreshStatus() {
  try {
    const health = await call("GET", "/healthz", undefined, null);
    $("status-api").textContent = health.status;
    $("status-entries").textContent = health.entries.toLocaleString("en");
    $("status-seq").textContent = String(health.seq);
    if (lastSeq !== undefined && health.seq !== lastSeq) $("status-changed").textContent = `seen at ${time(new Date())}`;
    lastSeq = health.seq;
  } catch (error) {
    $("status-api").textContent = error.status ? `error: ${error.message}` : "unreachable";
  }
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
