import test from "ava";
import vectors from "../../tests/vectors/hosts.json" with { type: "json" };
import { candidatePatterns, normalizeRequestHost, normalizeRouteHost } from "./hosts.ts";

for (const [index, vector] of vectors.normalize.entries()) {
  const name = JSON.stringify(vector.input).slice(0, 60);
  test(`normalize #${index} ${name}`, (t) => {
    if ("error" in vector) t.throws(() => normalizeRequestHost(vector.input), { name: "HostError" });
    else t.is(normalizeRequestHost(vector.input), vector.output);
  });
}

for (const vector of vectors.match) {
  test(`match ${vector.host} against ${vector.routes.join(" ")}`, (t) => {
    const routes = new Set(vector.routes);
    const host = normalizeRequestHost(vector.host);
    const found = [...candidatePatterns(host)].find(({ pattern }) => routes.has(pattern));
    t.is(found?.pattern ?? null, vector.pattern);
    t.is<string | null, string | null>(found?.match ?? null, vector.match);
  });
}

test("candidate patterns go from the exact host to the catch-all", (t) => {
  t.deepEqual(
    [...candidatePatterns("a.b.example.com")].map((c) => c.pattern),
    ["a.b.example.com", "*.b.example.com", "*.example.com", "*.com", "*"],
  );
});

test("route hosts accept wildcards and the catch-all, normalized", (t) => {
  t.is(normalizeRouteHost("*"), "*");
  t.is(normalizeRouteHost("*.Example.COM"), "*.example.com");
  t.is(normalizeRouteHost("*.bücher.de."), "*.xn--bcher-kva.de");
  t.is(normalizeRouteHost("Some.Host.com"), "some.host.com");
});

test("route hosts refuse ports, misplaced wildcards and non-names", (t) => {
  for (const bad of ["example.com:80", "a.*.com", "*example.com", "**", "*.", "*.*.com", "ex ample.com", "", "a..b", 42, null]) {
    t.throws(() => normalizeRouteHost(bad), { name: "HostError" }, JSON.stringify(bad));
  }
});

test("input over 1024 characters is refused before any work", (t) => {
  t.throws(() => normalizeRequestHost("a".repeat(1025)), { message: /too long/ });
});
