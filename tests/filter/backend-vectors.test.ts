// The filter's backend grammar against the vectors shared with the route API
// and the nginx module (tests/vectors/backends.json), run through
// build/normalize-vectors.wasm, compiled from the same
// wasm/src/resolver/backend.ts the filter uses.
// Build first: npx asc --config wasm/vectors.asconfig.json
import test from "ava";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

type Vectors = { valid: { backend: string; kind: string }[]; invalid: { backend: string; why: string }[] };

const root = fileURLToPath(new URL("../..", import.meta.url));
const vectors = JSON.parse(readFileSync(`${root}tests/vectors/backends.json`, "utf8")) as Vectors;
const { kindOf } = (await import(`${root}build/normalize-vectors.js`)) as { kindOf(input: string): number };
// BackendKind in wasm/src/resolver/backend.ts.
const KINDS = ["invalid", "name", "ipv4", "ipv6", "unix"];

test("the vectors file has valid and invalid backends", (t) => {
  t.true(vectors.valid.length > 10 && vectors.invalid.length > 10);
});

for (const { backend, kind } of vectors.valid) {
  test(`valid ${kind}: ${JSON.stringify(backend).slice(0, 50)}`, (t) => {
    t.is(KINDS[kindOf(backend)], kind);
  });
}

for (const { backend, why } of vectors.invalid) {
  test(`refused (${why}): ${JSON.stringify(backend).slice(0, 50)}`, (t) => {
    t.is(KINDS[kindOf(backend)], "invalid");
  });
}
