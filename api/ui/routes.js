// The routes table: one page at a time with the API's ?prefix=&limit=&after=
// cursor, so that it costs the same at a million routes as at ten. Earlier
// pages' cursors are kept for "Previous".
import { call, entryPath } from "./api.js";
import { $, el } from "./dom.js";

const PAGE = 50;
const SEARCH_DELAY_MS = 250;

let prefix = "";
let cursors = [undefined];
let page = 0;
let searchTimer;
const handlers = { edit: () => {}, changed: () => {} };

/** `edit(entry)` when a row's Edit is pressed, `changed()` after a delete. */
export function onRoutes(edit, changed) {
  handlers.edit = edit;
  handlers.changed = changed;
}

function describe(rows, hasNext) {
  if (rows.length === 0) return page > 0 ? "No more routes." : prefix ? `No routes start with “${prefix}”.` : "No routes yet.";
  const first = page * PAGE + 1;
  const range = `${first.toLocaleString("en")}–${(first + rows.length - 1).toLocaleString("en")}`;
  return `Routes ${range}${prefix ? ` starting with “${prefix}”` : ""}${hasNext ? "" : " (last page)"}`;
}

function row(entry) {
  const actions = el(
    "td",
    null,
    {},
    el("button", "Edit", { type: "button", "data-action": "edit", "aria-label": `Edit ${entry.host}` }),
    el("button", "Delete", { type: "button", "data-action": "delete", "aria-label": `Delete ${entry.host}` }),
  );
  const tr = el("tr", null, {}, el("td", entry.host), el("td", entry.backend), actions);
  tr.dataset.host = entry.host;
  tr.dataset.backend = entry.backend;
  return tr;
}

// Answers can overtake each other while someone types: only the latest request's is shown.
let latest = 0;

export async function loadPage() {
  const request = ++latest;
  const query = new URLSearchParams({ limit: String(PAGE + 1) });
  if (prefix) query.set("prefix", prefix);
  if (cursors[page] !== undefined) query.set("after", cursors[page]);
  let rows;
  try {
    rows = await call("GET", `/entries.json?${query}`);
  } catch (error) {
    if (request === latest) $("routes-caption").textContent = `Could not load routes: ${error.message}`;
    return;
  }
  if (request !== latest) return;
  // One more than a page was asked for: whether it came says if there is a next page.
  const hasNext = rows.length > PAGE;
  const shown = rows.slice(0, PAGE);
  if (hasNext) cursors[page + 1] = shown[shown.length - 1].host;
  $("routes-body").replaceChildren(...shown.map(row));
  $("routes-caption").textContent = describe(shown, hasNext);
  $("page-number").textContent = `Page ${(page + 1).toLocaleString("en")}`;
  $("prev-page").disabled = page === 0;
  $("next-page").disabled = !hasNext;
}

function search(value) {
  $("routes-message").textContent = "";
  prefix = value.trim().toLowerCase();
  cursors = [undefined];
  page = 0;
  return loadPage();
}

async function remove(host) {
  if (!confirm(`Delete the route of ${host}?`)) return;
  try {
    await call("DELETE", entryPath(host));
    $("routes-message").textContent = `Deleted ${host}.`;
  } catch (error) {
    $("routes-message").textContent = `Could not delete ${host}: ${error.message}`;
    return;
  }
  await loadPage();
  if (page > 0 && $("routes-body").children.length === 0) {
    page--;
    await loadPage();
  }
  handlers.changed();
}

export function setUpRoutes() {
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(searchTimer);
    void search($("prefix").value);
  });
  $("prefix").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => void search($("prefix").value), SEARCH_DELAY_MS);
  });
  $("prev-page").addEventListener("click", () => {
    page = Math.max(0, page - 1);
    void loadPage();
  });
  $("next-page").addEventListener("click", () => {
    page++;
    void loadPage();
  });
  $("routes-body").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const { host, backend } = button.closest("tr").dataset;
    if (button.dataset.action === "edit") handlers.edit({ host, backend });
    else void remove(host);
  });
}

export function resetRoutes() {
  $("prefix").value = "";
  $("routes-body").replaceChildren();
  prefix = "";
  cursors = [undefined];
  page = 0;
}
