// The admin page (/ui) in headless Chromium against a real route API process:
// sign in, search and page, add, edit with a validation error at the field,
// delete, import with progress, the live status panel, and markup in input
// that is refused and never rendered as markup.
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import test, { type ExecutionContext } from "ava";
import type { Browser, Page } from "playwright-core";
import { backendOf, entriesOf, routeLines, seed, startApi, tempDir, type Api } from "../cli/harness.ts";
import { launch, openPage, type Problems } from "./browser.ts";

// UI_SCREENSHOTS=1 writes the README's screenshots into docs/ on the way.
const DOCS = fileURLToPath(new URL("../../docs/", import.meta.url));
const screenshot = (page: Page, name: string) =>
  process.env.UI_SCREENSHOTS ? page.screenshot({ path: join(DOCS, name) }) : Promise.resolve();

let browser: Browser;
test.before(async () => {
  browser = await launch();
});
test.after.always(async () => {
  await browser?.close();
});

type T = ExecutionContext;

// Every test ends by checking that its pages logged no script error or CSP violation.
function uiTest(title: string, body: (t: T, problems: Problems) => Promise<void>): void {
  test.serial(title, async (t) => {
    const problems: Problems = [];
    await body(t, problems);
    t.deepEqual(problems, [], "script errors or CSP violations on the page");
  });
}

// nginx's set_backend_metrics as the API's EDGE_METRICS_URL: 40 requests, 30 of
// them decided from the cache, and a change feed at `feedSeq`.
async function fakeEdge(t: T, state = { feedSeq: 0 }): Promise<string> {
  const edge = createServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4" }).end(
      [
        'set_backend_requests_total{waited="false",result="backend"} 30',
        'set_backend_requests_total{waited="true",result="backend"} 10',
        'set_backend_requests_total{waited="false",result="error"} 0',
        'set_backend_filter_traps_total{kind="fault"} 1',
        'set_backend_zone_bytes{state="total"} 67108864',
        'set_backend_zone_bytes{state="used"} 3145728',
        `set_backend_filter_feed_seq ${state.feedSeq}`,
        "set_backend_filter_feed_lag_ms 250",
        "",
      ].join("\n"),
    );
  });
  await new Promise<void>((resolve) => edge.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => edge.close(() => resolve())));
  return `http://127.0.0.1:${(edge.address() as AddressInfo).port}/metrics`;
}

async function signedIn(t: T, api: Api, problems: Problems): Promise<Page> {
  const page = await openPage(t, browser, problems);
  await page.goto(`${api.url}/ui`);
  await page.getByLabel("API token").fill(api.service.token);
  await page.getByLabel("API token").press("Enter");
  await page.getByRole("heading", { name: "Routes", exact: true }).waitFor();
  await page.locator("#routes-caption").filter({ hasNotText: "Loading" }).waitFor();
  return page;
}

const rowsOf = (page: Page) => page.locator("#routes-body tr").evaluateAll((rows) => rows.map((r) => [...r.children].slice(0, 2).map((c) => c.textContent)));

uiTest("sign in: a wrong token is refused at the field; the right one is kept in this tab's sessionStorage only", async (t, problems) => {
  const api = await startApi(t);
  const page = await openPage(t, browser, problems);
  const response = await page.goto(`${api.url}/ui`);
  t.regex(response!.headers()["content-security-policy"]!, /script-src 'self'.*trusted-types 'none'/);
  t.is(await page.evaluate(() => document.activeElement?.id), "token", "the token field has focus");
  await page.getByLabel("API token").fill("not-the-token-0123456789");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("The API refused this token.").waitFor();
  t.is(await page.getByLabel("API token").getAttribute("aria-invalid"), "true");
  t.true(await page.locator("#app").isHidden());

  await page.getByLabel("API token").fill(api.service.token);
  await page.getByLabel("API token").press("Enter");
  await page.getByText("No routes yet.").waitFor();
  t.is(await page.evaluate(() => document.activeElement?.id), "prefix", "focus moves to the search");
  t.deepEqual(await page.evaluate(() => ({ session: { ...sessionStorage }, local: localStorage.length, cookie: document.cookie })), {
    session: { "set-backend-token": api.service.token },
    local: 0,
    cookie: "",
  });
  // A reload in the same tab stays signed in; signing out forgets the token.
  await page.reload();
  await page.getByText("No routes yet.").waitFor();
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("API token").waitFor();
  t.is(await page.evaluate(() => sessionStorage.length), 0);
});

uiTest("prefix search and paging through 130 routes, 50 a page, with the API's cursor", async (t, problems) => {
  const api = await startApi(t, { env: { EDGE_METRICS_URL: await fakeEdge(t, { feedSeq: 130 }) } });
  await seed(api, routeLines(120) + routeLines(10, "other.org"));
  const page = await signedIn(t, api, problems);
  await page.getByText("Routes 1–50").waitFor();
  t.is((await rowsOf(page))[0]![0], "h0.example.com");
  await page.getByRole("button", { name: "Next" }).click();
  await page.getByText("Routes 51–100").waitFor();
  await page.getByRole("button", { name: "Next" }).click();
  await page.getByText("Routes 101–130 (last page)").waitFor();
  t.true(await page.getByRole("button", { name: "Next" }).isDisabled());
  t.is((await rowsOf(page)).at(-1)![0], "h99.example.com", "hosts sort as strings: h9.other.org < h99.example.com");
  await page.getByRole("button", { name: "Previous" }).click();
  await page.getByText("Routes 51–100").waitFor();

  // Typing searches (lowercased, as hosts are stored); Enter too.
  await page.getByLabel("Hosts starting with").fill("H11");
  await page.getByText("Routes 1–11 starting with “h11” (last page)").waitFor();
  t.deepEqual((await rowsOf(page)).map((r) => r[0]).slice(0, 3), ["h11.example.com", "h110.example.com", "h111.example.com"]);
  await page.getByLabel("Hosts starting with").fill("nothing");
  await page.getByLabel("Hosts starting with").press("Enter");
  await page.getByText("No routes start with “nothing”.").waitFor();
  await page.getByLabel("Hosts starting with").fill("h");
  await page.getByText("Routes 1–50 starting with “h”").waitFor();
  await screenshot(page, "ui-routes.png");
  t.pass();
});

uiTest("add, edit with the API's validation error next to the field, delete", async (t, problems) => {
  const api = await startApi(t);
  const page = await signedIn(t, api, problems);
  await page.getByLabel("Host", { exact: true }).fill("Shop.Example.com");
  await page.getByLabel("Backend", { exact: true }).fill("localhost:3000");
  await page.getByRole("button", { name: "Add route" }).click();
  await page.getByText("Stored shop.example.com → localhost:3000.").waitFor();
  await page.getByRole("cell", { name: "shop.example.com", exact: true }).waitFor();
  t.is(await backendOf(api, "shop.example.com"), "localhost:3000");

  // By keyboard: from the search field, Tab past Search to the row's Edit, Enter.
  await page.getByLabel("Hosts starting with").focus();
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  t.is(await page.evaluate(() => document.activeElement?.getAttribute("aria-label")), "Edit shop.example.com");
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Edit route" }).waitFor();
  t.is(await page.evaluate(() => document.activeElement?.id), "route-backend", "editing starts in the backend field");
  t.true(await page.getByLabel("Host", { exact: true }).evaluate((input: HTMLInputElement) => input.readOnly));
  await page.getByLabel("Backend", { exact: true }).fill("localhost:99999");
  await page.getByRole("button", { name: "Save backend" }).click();
  const error = page.locator("#route-backend-error");
  await error.getByText(/port/).waitFor();
  t.is(await page.getByLabel("Backend", { exact: true }).getAttribute("aria-invalid"), "true");
  t.is(await page.evaluate(() => document.activeElement?.id), "route-backend");
  t.regex(await page.getByLabel("Backend", { exact: true }).evaluate((input) => input.getAttribute("aria-describedby") ?? ""), /route-backend-error/);
  await screenshot(page, "ui-edit-error.png");
  t.is(await backendOf(api, "shop.example.com"), "localhost:3000", "nothing changed");

  await page.getByLabel("Backend", { exact: true }).fill("10.0.0.7:8080");
  await page.getByLabel("Backend", { exact: true }).press("Enter");
  await page.getByText("Saved shop.example.com → 10.0.0.7:8080.").waitFor();
  t.is(await error.textContent(), "");
  await page.getByRole("cell", { name: "10.0.0.7:8080", exact: true }).waitFor();
  t.is(await backendOf(api, "shop.example.com"), "10.0.0.7:8080");

  page.once("dialog", (dialog) => void dialog.accept());
  await page.getByRole("button", { name: "Delete shop.example.com" }).click();
  await page.getByText("Deleted shop.example.com.").waitFor();
  t.is(await backendOf(api, "shop.example.com"), undefined);
  page.once("dialog", (dialog) => void dialog.dismiss());
});

uiTest("import a file with progress; a refused import lists its bad lines as text", async (t, problems) => {
  const api = await startApi(t);
  const page = await signedIn(t, api, problems);
  const dir = tempDir(t, "ui-import");
  const good = join(dir, "routes.ndjson");
  writeFileSync(good, routeLines(20_000));
  await page.getByLabel(/NDJSON file/).setInputFiles(good);
  // Every state the message and the bar go through, however fast the upload is on loopback.
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { seen: string[] }).seen = seen;
    const message = document.getElementById("import-message")!;
    const bar = document.getElementById("import-progress")!;
    // One observer, so that the records keep the order of the changes.
    new MutationObserver((records) => {
      for (const record of records) {
        if (record.target === bar) seen.push(`bar: ${bar.getAttribute("value") ?? "indeterminate"}`);
        else if (record.type === "childList") seen.push(`message: ${message.textContent}`);
      }
    }).observe(document.getElementById("import-form")!, { subtree: true, childList: true, attributes: true, attributeFilter: ["value"] });
  });
  await page.getByRole("button", { name: "Import" }).click();
  const done = "message: Imported 20,000 routes: 20,000 created, 0 replaced, 0 unchanged.";
  await page.getByText(done.slice("message: ".length)).waitFor({ timeout: 30_000 });
  const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
  const phases = ["message: Uploading routes.ndjson…", "bar: indeterminate", "message: Uploaded; the API is checking every line and committing them…", done];
  t.deepEqual(seen.filter((entry) => phases.includes(entry)), phases, seen.join("\n"));
  const uploading = seen.slice(0, seen.indexOf("bar: indeterminate"));
  t.true(uploading.some((entry) => /^bar: (0\.\d+|1)$/.test(entry)), `the bar followed the upload:\n${seen.join("\n")}`);
  await page.locator("#status-entries").getByText("20,000").waitFor();
  await page.getByText("Routes 1–50").waitFor();

  const bad = join(dir, "bad.ndjson");
  writeFileSync(bad, '{"host":"ok.example.com","backend":"localhost:1"}\n<img src=x onerror="window.__xss=1">\n');
  await page.getByLabel(/NDJSON file/).setInputFiles(bad);
  await page.getByRole("button", { name: "Import" }).click();
  await page.getByText("Import refused: 1 of the lines are invalid; nothing was imported").waitFor();
  const problem = page.locator("#import-problems li");
  t.regex((await problem.textContent())!, /^line 2: the body is not valid JSON: .*"<img src=x/);
  t.is(await page.locator("#import-problems img").count(), 0, "the line's markup is text, not an element");
  t.is(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined);
  t.is(await backendOf(api, "ok.example.com"), undefined, "nothing was imported");
});

uiTest("markup in a route is refused and never rendered; odd but valid hosts show as text", async (t, problems) => {
  const api = await startApi(t);
  const page = await signedIn(t, api, problems);
  const host = page.getByLabel("Host", { exact: true });
  const backend = page.getByLabel("Backend", { exact: true });
  await host.fill("evil.example.com");
  await backend.fill("<script>window.__xss=1</script>");
  await page.getByRole("button", { name: "Add route" }).click();
  await page.locator("#route-backend-error").getByText(/backend/).waitFor();
  t.is(await backend.getAttribute("aria-invalid"), "true");

  await host.fill('<img src=x onerror="window.__xss=2">.example.com');
  await backend.fill("localhost:1");
  await page.getByRole("button", { name: "Add route" }).click();
  await page.locator("#route-host-error").getByText('host contains "<", which is not allowed in a DNS name').waitFor();
  t.is(await page.locator("img").count(), 0);
  t.is(await page.locator("script").count(), 1, "only the page's own module script");
  t.is(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined);
  t.is(await entriesOf(api), 0, "nothing was stored");

  // Stored through the API, shown by the page exactly as stored.
  await seed(api, '{"host":"*","backend":"unix:/run/catch-all.sock"}\n{"host":"*.bücher.de","backend":"[::1]:3000"}\n');
  await page.reload();
  await page.getByText("Routes 1–2 (last page)").waitFor();
  t.deepEqual(await rowsOf(page), [
    ["*", "unix:/run/catch-all.sock"],
    ["*.xn--bcher-kva.de", "[::1]:3000"],
  ]);
  // The CSP's Trusted Types rule: the page cannot turn a string into markup at all.
  const blocked = await page.evaluate(() => {
    try {
      document.body.insertAdjacentHTML("beforeend", "<b id=injected>x</b>");
      return false;
    } catch {
      return document.getElementById("injected") === null;
    }
  });
  t.true(blocked);
  // Chromium logs the blocked assignment: expected here, and only here.
  const logged = problems.findIndex((problem) => problem.includes("requires 'TrustedHTML' assignment"));
  t.not(logged, -1);
  problems.splice(logged, 1);
});

uiTest("the status panel follows changes made elsewhere, and the edge's figures, within a few seconds", async (t, problems) => {
  const edgeState = { feedSeq: 0 };
  const api = await startApi(t, { env: { EDGE_METRICS_URL: await fakeEdge(t, edgeState) } });
  const page = await signedIn(t, api, problems);
  await page.locator("#status-api").getByText("ok").waitFor();
  t.is(await page.locator("#status-entries").textContent(), "0");
  t.is(await page.locator("#status-changed").textContent(), "not seen yet");
  await page.locator("#edge-hits").getByText("75.0% of 40").waitFor();
  t.is(await page.locator("#edge-feed").textContent(), "0 behind, lag 0.3 s");
  t.is(await page.locator("#edge-zone").textContent(), "3.0 of 64.0 MiB");
  t.is(await page.locator("#edge-errors").textContent(), "0 / 1");

  // A change the edge has not applied yet shows as the feed being behind, until it has.
  await seed(api, '{"host":"live.example.com","backend":"localhost:1"}\n');
  await page.locator("#status-entries").getByText("1").waitFor({ timeout: 10_000 });
  t.regex((await page.locator("#status-changed").textContent())!, /^seen at /);
  t.is(await page.locator("#status-seq").textContent(), "1");
  await page.locator("#edge-feed").getByText("1 behind, lag 0.3 s").waitFor();
  edgeState.feedSeq = 1;
  await page.locator("#edge-feed").getByText("0 behind, lag 0.3 s").waitFor({ timeout: 10_000 });
});

uiTest("without an edge the panel says why its figures are missing", async (t, problems) => {
  const api = await startApi(t);
  const page = await signedIn(t, api, problems);
  await page.getByText("Edge metrics not available: no edge is configured (EDGE_METRICS_URL)").waitFor();
  t.true(await page.locator("#edge").isHidden());
  t.is(await page.locator("#status-api").textContent(), "ok");
});
