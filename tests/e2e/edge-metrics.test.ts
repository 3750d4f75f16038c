// The edge's metrics as an operator reads them: through api.$DOMAIN/edge/metrics,
// behind the token, from the nginx of make run's configuration (its loopback
// set_backend_metrics listener), counting the traffic just sent.
import test from "ava";
import { until, startEchoBackend, startSystem } from "./system.ts";

const sample = (text: string, series: string) => Number(text.split("\n").find((l) => l.startsWith(`${series} `))?.split(" ")[1]);

test("api.$DOMAIN/edge/metrics shows the edge's hits and misses, and needs the token", async (t) => {
  const s = await startSystem(t);
  const app = await startEchoBackend(t, "app");
  t.is((await s.manage("POST", "/entries.json", { host: "counted.example.com", backend: app.address })).status, 201);
  // Once the change feed has announced the new route, it cannot drop the cache entry
  // the first request makes (that would make a second miss).
  await until(async () => sample((await s.manage("GET", "/edge/metrics")).body, "set_backend_filter_feed_seq") >= 1, "the feed to apply the route", 20_000);
  for (let i = 0; i < 5; i++) t.is((await s.request("counted.example.com")).status, 200);

  t.is((await s.manage("GET", "/edge/metrics", undefined, false)).status, 401);
  let text = "";
  await until(async () => {
    const reply = await s.manage("GET", "/edge/metrics");
    text = reply.body;
    return reply.status === 200 && sample(text, "set_backend_filter_lookups_found_total") === 1;
  }, "the edge's metrics through the route API", 20_000).catch((e) => {
    t.log(text);
    throw e;
  });
  t.regex(String((await s.manage("GET", "/edge/metrics")).headers["content-type"]), /^text\/plain/);
  t.is(sample(text, 'set_backend_requests_total{waited="true",result="backend"}'), 1);
  t.is(sample(text, 'set_backend_requests_total{waited="false",result="backend"}'), 4);
  t.is(sample(text, 'set_backend_zone_bytes{state="total"}'), 64 * 1024 * 1024);
});
