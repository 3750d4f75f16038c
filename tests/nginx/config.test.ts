// `nginx -t` with the module loaded: good configurations pass, each kind of bad
// directive fails with a message that names the problem.
import test from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, config, nginxTest, requireModule, tempDir, testFilter } from "./harness.ts";

let dir = "";
let filter = "";

test.before(() => {
  requireModule();
  dir = tempDir();
  filter = testFilter(dir);
  writeFileSync(join(dir, "text.wasm"), "(module)");
  writeFileSync(join(dir, "config.json"), '{"api":"api"}');
  writeFileSync(join(dir, "bad.json"), "{nope");
});
test.after.always(() => cleanup(dir));

const server = (location: string) => `server { listen 127.0.0.1:1; location / { ${location} } }`;

test("a full configuration passes nginx -t", (t) => {
  const r = nginxTest(
    dir,
    config(
      dir,
      `set_backend_filter ${filter};
       set_backend_filter_config_file ${join(dir, "config.json")};
       set_backend_filter_timeout 5ms;
       set_backend_shared_zone routes 1m;
       set_backend_cluster api unix:${join(dir, "api.sock")};
       set_backend_cluster api_tcp 127.0.0.1:3000;
       upstream routed { set_backend_balancer; keepalive 8; }
       ${server("set_backend $backend; proxy_pass http://routed;")}`,
    ),
  );
  t.is(r.status, 0, r.output);
});

const bad: [string, string, RegExp][] = [
  ["a text file as filter", `set_backend_filter ${"TEXT"};`, /is not a WebAssembly module/],
  ["a missing filter file", `set_backend_filter /nonexistent/f.wasm;`, /cannot read "\/nonexistent\/f.wasm"/],
  ["set_backend without a filter", server("set_backend $b;"), /no "set_backend_filter" is configured/],
  ["invalid JSON config", `set_backend_filter FILTER; set_backend_filter_config "{x";`, /is not valid JSON/],
  ["invalid JSON config file", `set_backend_filter FILTER; set_backend_filter_config_file BADJSON;`, /bad.json" is not valid JSON/],
  ["a bad timeout", `set_backend_filter FILTER; set_backend_filter_timeout soon;`, /invalid time "soon"/],
  ["a zero timeout", `set_backend_filter FILTER; set_backend_filter_timeout 0;`, /invalid time "0"/],
  ["a tiny zone", `set_backend_filter FILTER; set_backend_shared_zone z 4k;`, /is too small/],
  ["a bad zone size", `set_backend_filter FILTER; set_backend_shared_zone z lots;`, /invalid size "lots"/],
  ["a cluster without port", `set_backend_filter FILTER; set_backend_cluster api localhost;`, /needs a port/],
  ["a relative unix cluster", `set_backend_filter FILTER; set_backend_cluster api unix:api.sock;`, /must be absolute/],
  ["a duplicate cluster", `set_backend_filter FILTER; set_backend_cluster a 127.0.0.1:1; set_backend_cluster a 127.0.0.1:2;`, /declared twice/],
  ["a cluster with a bad name", `set_backend_filter FILTER; set_backend_cluster "a b" 127.0.0.1:1;`, /invalid cluster name/],
  ["a variable without $", `set_backend_filter FILTER; ${server("set_backend backend;")}`, /invalid variable name "backend"/],
  ["set_backend twice", `set_backend_filter FILTER; ${server("set_backend $a; set_backend $b;")}`, /"set_backend" is duplicate/],
  ["the balancer after keepalive", `set_backend_filter FILTER; upstream u { keepalive 8; set_backend_balancer; }`, /must come before other balancing directives/],
  ["the filter at location level", server("set_backend_filter FILTER;"), /"set_backend_filter" directive is not allowed here/],
];

for (const [name, body, message] of bad) {
  test(`nginx -t fails for ${name}`, (t) => {
    const conf = config(
      dir,
      body
        .replaceAll("FILTER", filter)
        .replaceAll("TEXT", join(dir, "text.wasm"))
        .replaceAll("BADJSON", join(dir, "bad.json")),
    );
    const r = nginxTest(dir, conf);
    t.not(r.status, 0, r.output);
    t.regex(r.output, message);
  });
}
