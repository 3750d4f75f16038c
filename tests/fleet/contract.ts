// The public API's answers that only the etcd store gives (503 while etcd is away,
// 409 for a racing import) against the one written contract, api/src/openapi.ts:
// documented for that operation, marked etcd-only, and in the API's error format.
import type { ExecutionContext } from "ava";
import { Ajv2020 } from "ajv/dist/2020.js";
import { openapi } from "../../api/src/openapi.ts";

type Response = { "x-route-store"?: string; content?: Record<string, { schema: object }> };
const ajv = new Ajv2020({ strict: false });

export function checkEtcdAnswer(t: ExecutionContext, method: string, template: string, reply: { status: number; body: string }): void {
  const operations = (openapi.paths as unknown as Record<string, Record<string, { responses: Record<string, Response> }>>)[template];
  const documented = operations?.[method.toLowerCase()]?.responses[String(reply.status)];
  if (!documented) {
    t.fail(`${method} ${template} ${reply.status} is not in openapi.ts`);
    return;
  }
  t.is(documented["x-route-store"], "etcd", `${method} ${template} ${reply.status} is marked etcd-only`);
  const validate = ajv.compile({ components: openapi.components, ...documented.content!["application/json"]!.schema });
  t.true(validate(JSON.parse(reply.body)), `${method} ${template} ${reply.status}: ${ajv.errorsText(validate.errors)}`);
}
