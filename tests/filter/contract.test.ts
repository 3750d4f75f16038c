// The route API answers these tests hand the filter are the ones the route API
// really gives: each fixture is checked against the internal API's one contract
// (api/src/internal-openapi.ts), which api/test/internal-openapi.test.ts checks
// against the real service.
import test from "ava";
import { Ajv2020 } from "ajv/dist/2020.js";
import { internalOpenapi } from "../../api/src/internal-openapi.ts";
import { changesAnswer, nameAnswer, resolveAnswer } from "./_harness.ts";

const ajv = new Ajv2020({ strict: false });
const schema = (name: "Resolution" | "ChangesPage") =>
  ajv.compile({ components: internalOpenapi.components, $ref: `#/components/schemas/${name}` });

test("the /resolve fixtures follow the contract", (t) => {
  const valid = schema("Resolution");
  for (const answer of [
    resolveAnswer("a.example.com", "10.0.0.7:3000"),
    resolveAnswer("shop.example.com", "unix:/run/shop.sock"),
    nameAnswer("named.example.com", "localhost:3000", ["127.0.0.1:3000", "[::1]:3000"], 5_000),
    nameAnswer("broken.example.com", "nothing.invalid:80", [], 5_000, "nothing.invalid does not resolve (ENOTFOUND)"),
  ]) {
    t.true(valid(JSON.parse(answer.body!)), `${answer.body}: ${ajv.errorsText(valid.errors)}`);
  }
  // ...and the contract is strict enough to refuse what the filter must not trust.
  t.false(valid({ host: "a", backend: "a.b:80", match: "exact", pattern: "a", addresses: ["other.name:80"] }), "a name as an address");
  t.false(valid({ host: "a", backend: "a.b:80", match: "exact", pattern: "a" }), "no addresses");
});

test("the /changes fixtures follow the contract", (t) => {
  const valid = schema("ChangesPage");
  for (const body of [changesAnswer(12, ["a.com", "*.b.com"]).body!, '{"seq":40,"reset":true}']) {
    t.true(valid(JSON.parse(body)), `${body}: ${ajv.errorsText(valid.errors)}`);
  }
  t.false(valid({ seq: 1, changes: [{ seq: 1, op: "move", host: "a" }] }));
});
