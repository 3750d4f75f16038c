// The internal API's one contract (api/src/internal-openapi.ts, docs/internal-api.md)
// for tests that stand in for the route API: a fixture or a stand-in's answer is
// checked against it, so a test can never feed the filter something the real
// route API would not send. api/test/internal-openapi.test.ts checks the real
// API against the same document.
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { internalOpenapi } from "../../api/src/internal-openapi.ts";

const ajv = new Ajv2020({ strict: false });
const compiled = new Map<string, ValidateFunction>();

type Schemas = typeof internalOpenapi.components.schemas;

/** A validator for one of the contract's schemas ("Resolution", "ChangesPage", "Error"). */
export function contractSchema(name: keyof Schemas): ValidateFunction {
  let validate = compiled.get(name);
  if (!validate) {
    validate = ajv.compile({ components: internalOpenapi.components, $ref: `#/components/schemas/${name}` });
    compiled.set(name, validate);
  }
  return validate;
}

type Operation = { responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }> };

/** The documented operation a request path belongs to, as its path template. */
function templateOf(path: string): string | undefined {
  const bare = path.split("?")[0]!;
  if (/^\/resolve\/[^/]+$/.test(bare)) return "/resolve/{host}";
  return bare in internalOpenapi.paths ? bare : undefined;
}

/**
 * Why an answer to `GET path` is not one the route API may give (undefined when
 * it is): the path must be a documented call, the status one it documents, and a
 * JSON body must match that status's schema.
 */
export function contractViolation(path: string, status: number, body: string): string | undefined {
  const template = templateOf(path);
  if (!template) return `GET ${path} is not in the internal API`;
  const operation = (internalOpenapi.paths as unknown as Record<string, { get: Operation }>)[template]!.get;
  const documented = operation.responses[String(status)];
  if (!documented) return `GET ${template} never answers ${status} (documented: ${Object.keys(operation.responses).join(", ")})`;
  const json = documented.content?.["application/json"];
  if (!json) return undefined;
  const name = json.schema.$ref?.replace("#/components/schemas/", "") as keyof Schemas | undefined;
  if (!name) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return `GET ${path} ${status}: the body is not JSON: ${body.slice(0, 200)}`;
  }
  const validate = contractSchema(name);
  return validate(parsed) ? undefined : `GET ${path} ${status}: ${ajv.errorsText(validate.errors)} in ${body.slice(0, 200)}`;
}
