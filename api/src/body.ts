// Request bodies: the content type is checked before a byte is read, and reading
// stops at the limit, so an oversized or mistyped body costs nothing.
import type { Context } from "koa";
import getRawBody from "raw-body";
import { ApiError } from "./errors.ts";

export const JSON_BODY_LIMIT = 64 * 1024;

// curl -d sends application/x-www-form-urlencoded; the seed's README examples use
// it for JSON bodies, so that type is read as JSON too.
const JSON_TYPES = ["application/json", "application/x-www-form-urlencoded"];
export const NDJSON_TYPES = ["application/x-ndjson", "application/jsonl", "application/json-lines", ...JSON_TYPES];

export function requireContentType(ctx: Context, accepted: string[]): void {
  const type = ctx.request.type;
  if (type === "" && !ctx.request.length) return;
  if (type === "" || accepted.includes(type)) return;
  throw new ApiError(415, "unsupported_media_type", `content type ${JSON.stringify(type)} is not accepted here; send ${accepted[0]}`);
}

export async function readText(ctx: Context, limit: number): Promise<string> {
  return getRawBody(ctx.req, { limit, length: ctx.request.length, encoding: "utf8" });
}

export async function readBytes(ctx: Context, limit: number): Promise<Buffer> {
  return getRawBody(ctx.req, { limit, length: ctx.request.length });
}

/** Reads a JSON body (any JSON value); the caller validates its shape. */
export async function readJson(ctx: Context): Promise<unknown> {
  requireContentType(ctx, JSON_TYPES);
  return parseJson(await readText(ctx, JSON_BODY_LIMIT));
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, "invalid_json", `the body is not valid JSON: ${(error as Error).message}`);
  }
}
