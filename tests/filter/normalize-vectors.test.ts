// The filter's host normalization against the vectors shared with the route
// API (tests/vectors/hosts.json), run through build/normalize-vectors.wasm,
// compiled from the same wasm/src/resolver/normalize.ts the filter uses.
// Build first: npx asc --config wasm/vectors.asconfig.json
import test from "ava";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

type NormalizeVector = { input: string; output?: string; error?: boolean };

const root = fileURLToPath(new URL("../..", import.meta.url));
const vectors = JSON.parse(readFileSync(`${root}tests/vectors/hosts.json`, "utf8")) as { normalize: NormalizeVector[] };
const { normalize } = (await import(`${root}build/normalize-vectors.js`)) as { normalize(input: string): string };

test("the vectors file has normalization cases", (t) => {
  t.true(vectors.normalize.length > 10);
});

vectors.normalize.forEach((v, i) => {
  const name = JSON.stringify(v.input).slice(0, 60);
  test(`normalize #${i} ${name}`, (t) => {
    const got = normalize(v.input);
    if (v.error) t.is(got, "", `${name} must be rejected`);
    else t.is(got, v.output ?? "<missing output>", `${name} → ${v.output}`);
  });
});
