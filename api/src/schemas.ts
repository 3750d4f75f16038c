// Shapes of request bodies and query strings (zod), and the translation of a
// failed check into the API's error format.
import { z } from "zod";
import { ApiError } from "./errors.ts";

export const EntryBody = z.strictObject({ host: z.string(), backend: z.string() });
export const BackendBody = z.strictObject({ backend: z.string() });

const count = (max: number) => z.coerce.number().int().min(1).max(max);
const seq = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const MAX_PAGE = 100_000;
export const ListQuery = z.strictObject({
  prefix: z.string().max(300).optional(),
  after: z.string().max(300).optional(),
  limit: count(MAX_PAGE).optional(),
});

export const ExportQuery = z.strictObject({ prefix: z.string().max(300).optional() });

export const MAX_WAIT_MS = 30_000;
export const ChangesQuery = z.strictObject({
  since: seq,
  wait: z.coerce.number().int().min(0).optional(),
});

function describe(issue: z.core.$ZodIssue, value: unknown, what: "body" | "query"): { code: string; message: string } {
  const where = issue.path.join(".");
  if (issue.code === "unrecognized_keys") {
    return { code: "unknown_field", message: `unknown field ${JSON.stringify(issue.keys[0])} in the ${what}` };
  }
  if (issue.path.length === 0) {
    return { code: `invalid_${what}`, message: `the ${what} must be a JSON object with the documented fields` };
  }
  const field = issue.path[0];
  if (typeof value === "object" && value !== null && typeof field === "string" && !(field in value)) {
    return { code: "missing_field", message: `${where} is required in the ${what}` };
  }
  return { code: `invalid_${what}`, message: `${where}: ${issue.message}` };
}

/** Parses `value` with `schema`, or throws a 400 naming the first problem. */
export function check<T extends z.ZodType>(schema: T, value: unknown, what: "body" | "query"): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const { code, message } = describe(result.error.issues[0]!, value, what);
  throw new ApiError(400, code, message);
}
