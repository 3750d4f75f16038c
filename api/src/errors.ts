// Every rejection leaves the service as {"error": "<code>", "message": "<text>"}
// with a 4xx status; anything else that escapes a handler is a 500 whose details
// stay in the log.
import type { Context, Next } from "koa";
import { BackendError } from "./backend.ts";
import { HostError } from "./hosts.ts";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export function toApiError(error: unknown): ApiError | undefined {
  if (error instanceof ApiError) return error;
  if (error instanceof HostError) return new ApiError(400, "invalid_host", error.message);
  if (error instanceof BackendError) return new ApiError(400, "invalid_backend", error.message);
  // raw-body and koa report client-side stream problems with an HTTP status.
  const status = (error as { status?: unknown; type?: unknown })?.status;
  if (typeof status === "number" && status >= 400 && status < 500) {
    const type = (error as { type?: unknown }).type;
    if (type === "entity.too.large") return new ApiError(413, "body_too_large", "the request body is larger than the limit");
    return new ApiError(status, "bad_request", (error as Error).message);
  }
  return undefined;
}

export async function errorHandler(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
  } catch (error) {
    const apiError = toApiError(error);
    if (apiError) {
      ctx.status = apiError.status;
      ctx.body = { error: apiError.code, message: apiError.message, ...apiError.details };
      if (apiError.status === 401) ctx.set("WWW-Authenticate", 'Bearer realm="set-backend"');
      return;
    }
    ctx.log.error({ err: error }, "request failed");
    ctx.status = 500;
    ctx.body = { error: "internal", message: "the service failed to handle this request; see its log" };
  }
}

export function notFound(message = "no such resource"): ApiError {
  return new ApiError(404, "not_found", message);
}
