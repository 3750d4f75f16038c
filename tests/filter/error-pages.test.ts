// The filter's local 404, 503 and 400 in the variant the request's Accept asks
// for, as nginx.conf.template's `map $http_accept $error_variant` picks
// nginx's own 502/504 pages: application/json → JSON, text/plain → text,
// anything else → HTML. Real host (host/node), built filter.
import test from "ava";
import { SharedData, errorAnswer, header, onlyCall, outcomeOf, request, resolveAnswer, worker, type Pairs } from "./_harness.ts";
import type { FilterHost, HttpCallAnswer, Outcome } from "../../host/node/index.js";

type Page = NonNullable<Outcome["localResponse"]>;

const VARIANTS: { name: string; accept: Pairs; type: string }[] = [
  { name: "no Accept", accept: [], type: "text/html; charset=utf-8" },
  { name: "a browser's Accept", accept: [["accept", "text/html,application/xhtml+xml,*/*;q=0.8"]], type: "text/html; charset=utf-8" },
  { name: "JSON", accept: [["accept", "Application/JSON"]], type: "application/json" },
  { name: "text", accept: [["accept", "text/plain, */*;q=0.1"]], type: "text/plain; charset=utf-8" },
];

/** A request for `host` that misses, answered by the route API with `answer` (null: the call failed). */
function answered(w: FilterHost, host: string, accept: Pairs, answer: HttpCallAnswer | null): Page {
  const miss = request(w, host, accept);
  const out = outcomeOf(w.deliverHttpCallResponse(onlyCall(miss).token, answer), miss.id);
  if (out?.localResponse === undefined) throw new Error(`no local response: ${JSON.stringify(out)}`);
  return out.localResponse;
}

function checkCommon(t: import("ava").ExecutionContext, page: Page, status: number, type: string, label: string): void {
  t.is(page.status, status, label);
  t.is(header(page.headers, "content-type"), type, label);
  t.is(header(page.headers, "cache-control"), "no-store", label);
}

for (const v of VARIANTS) {
  test(`404 for an unknown host, ${v.name}`, (t) => {
    const w = worker(new SharedData(), { negative_ttl_ms: 2000 });
    // The first request waits for the API's answer (delivered from the root context) ...
    const first = answered(w, "nobody.example.com", v.accept, errorAnswer(404));
    // ... later ones are answered from the cached 404 in on_request_headers.
    const cached = request(w, "nobody.example.com", v.accept);
    t.deepEqual(cached.httpCalls, []);
    for (const [label, page] of [["answered", first], ["cached", cached.localResponse!]] as const) {
      checkCommon(t, page, 404, v.type, label);
      if (v.type === "application/json") {
        t.deepEqual(JSON.parse(page.body), {
          error: "not_found", status: 404, host: "nobody.example.com", message: "there is no site at nobody.example.com",
        }, label);
      } else if (v.type.startsWith("text/plain")) {
        t.is(page.body, "404 Not Found: there is no site at nobody.example.com\n", label);
      } else {
        t.regex(page.body, /^<!DOCTYPE html>.*<h1>404 Not Found<\/h1><p>There is no site at nobody\.example\.com\.<\/p>\n$/s, label);
      }
    }
  });

  test(`503 when the route API fails, ${v.name}`, (t) => {
    const w = worker(new SharedData());
    const failed = answered(w, "new.example.com", v.accept, null);
    const broken = answered(w, "other.example.com", v.accept, { status: 502 });
    for (const [label, page, host] of [["no answer", failed, "new.example.com"], ["502", broken, "other.example.com"]] as const) {
      checkCommon(t, page, 503, v.type, label);
      if (v.type === "application/json") {
        t.deepEqual(JSON.parse(page.body), {
          error: "service_unavailable", status: 503, host,
          message: `the routing service cannot answer for ${host} right now`,
        }, label);
      } else if (v.type.startsWith("text/plain")) {
        t.is(page.body, `503 Service Unavailable: the routing service cannot answer for ${host} right now\n`, label);
      } else {
        t.true(page.body.startsWith("<!DOCTYPE html>"), label);
        t.true(page.body.includes(`<p>The routing service cannot answer for ${host} right now.</p>`), label);
      }
    }
  });

  test(`400 for a bad Host, ${v.name}, without echoing it`, (t) => {
    const out = request(worker(new SharedData()), "<script>.example.com", v.accept);
    const page = out.localResponse!;
    checkCommon(t, page, 400, v.type, "400");
    t.false(page.body.includes("script"));
    if (v.type === "application/json") {
      t.deepEqual(JSON.parse(page.body), { error: "bad_request", status: 400, message: "the Host header is not a valid host name" });
    } else if (v.type.startsWith("text/plain")) {
      t.is(page.body, "400 Bad Request: the Host header is not a valid host name\n");
    }
  });
}

test("the host in the text and JSON pages is the normalized one", (t) => {
  const w = worker(new SharedData());
  const page = answered(w, "Bücher.Example.COM.:8080", [["accept", "application/json"]], errorAnswer(404));
  t.is(JSON.parse(page.body).host, "xn--bcher-kva.example.com");
  const text = answered(w, "ÉTÉ.example.com", [["accept", "text/plain"]], errorAnswer(404));
  t.is(text.body, "404 Not Found: there is no site at xn--t-9fab.example.com\n");
});

test("a configured HTML page is used for HTML only; JSON and text stay fixed", (t) => {
  const w = worker(new SharedData(), { not_found_page: "<p>custom {host}</p>", unavailable_page: "<p>down {host}</p>" });
  t.is(answered(w, "a.example.com", [], errorAnswer(404)).body, "<p>custom a.example.com</p>");
  t.is(answered(w, "b.example.com", [["accept", "text/plain"]], errorAnswer(404)).body, "404 Not Found: there is no site at b.example.com\n");
  t.is(answered(w, "c.example.com", [], null).body, "<p>down c.example.com</p>");
  t.is(JSON.parse(answered(w, "d.example.com", [["accept", "application/json"]], null).body).error, "service_unavailable");
});

test("JSON wins over text when both are accepted, as in nginx's map", (t) => {
  const w = worker(new SharedData());
  const page = answered(w, "both.example.com", [["accept", "text/plain, application/json"]], errorAnswer(404));
  t.is(header(page.headers, "content-type"), "application/json");
});

test("every request waiting on one lookup gets its own variant", (t) => {
  const w = worker(new SharedData());
  const html = request(w, "shared.example.com");
  const json = request(w, "shared.example.com", [["accept", "application/json"]]);
  const text = request(w, "shared.example.com", [["accept", "text/plain"]]);
  t.deepEqual(json.httpCalls, [], "joined the first request's lookup");
  const out = w.deliverHttpCallResponse(onlyCall(html).token, errorAnswer(404));
  t.is(header(outcomeOf(out, html.id)!.localResponse!.headers, "content-type"), "text/html; charset=utf-8");
  t.is(header(outcomeOf(out, json.id)!.localResponse!.headers, "content-type"), "application/json");
  t.is(outcomeOf(out, text.id)!.localResponse!.body, "404 Not Found: there is no site at shared.example.com\n");
});

test("a cache hit is not changed by Accept", (t) => {
  const w = worker(new SharedData());
  const miss = request(w, "site.example.com", [["accept", "application/json"]]);
  w.deliverHttpCallResponse(onlyCall(miss).token, resolveAnswer("site.example.com", "10.0.0.1:80"));
  const hit = request(w, "site.example.com", [["accept", "application/json"]]);
  t.is(hit.action, "continue");
  t.is(hit.properties.backend, "10.0.0.1:80");
  t.is(hit.localResponse, undefined);
});
