// GET /ui and its files: served without the token, every one under the CSP, and
// only the files that are there (no path reaches outside api/ui/).
import test from "ava";
import { UI_CSP } from "../src/routes/ui.ts";
import { startTestService } from "./helpers.ts";

test("the admin page and its files come with the CSP, nosniff and their content types", async (t) => {
  const s = await startTestService(t);
  const page = await s.api("/ui", { auth: false });
  t.is(page.status, 200);
  t.is(page.headers["content-type"], "text/html; charset=utf-8");
  t.regex(page.text, /<script type="module" src="\/ui\/main\.js"><\/script>/);
  t.notRegex(page.text, /<script>|<script [^>]*>[^<]/, "no inline script");
  const scripts = [...page.text.matchAll(/(?:src|href)="\/ui\/([^"]+)"/g)].map((m) => m[1]!);
  t.deepEqual(scripts.sort(), ["icon.svg", "main.js", "style.css"]);
  for (const path of ["/ui", "/ui/main.js", "/ui/api.js", "/ui/style.css", "/ui/icon.svg"]) {
    const reply = await s.api(path, { auth: false });
    t.is(reply.status, 200, path);
    t.is(reply.headers["content-security-policy"], UI_CSP, path);
    t.is(reply.headers["x-content-type-options"], "nosniff", path);
  }
  t.is((await s.api("/ui/main.js", { auth: false })).headers["content-type"], "text/javascript; charset=utf-8");
  t.regex(UI_CSP, /script-src 'self';/);
  t.notRegex(UI_CSP, /unsafe-inline|unsafe-eval/);
});

test("only the page's own files are served", async (t) => {
  const s = await startTestService(t);
  for (const path of ["/ui/nope.js", "/ui/..%2Fpackage.json", "/ui/..%2F..%2Fpackage.json", "/ui/%2e%2e%2Fsrc%2Fmain.ts", "/ui/index.html.bak"]) {
    const reply = await s.api(path, { auth: false });
    t.is(reply.status, 404, path);
    t.is(reply.json().error, "not_found", path);
  }
});
