// Bearer-token check for the management API. Both sides are hashed before the
// constant-time comparison so that neither the token's content nor its length
// leaks through timing.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import type { Context, Next } from "koa";
import { ApiError } from "./errors.ts";

const digest = (value: string) => createHash("sha256").update(value).digest();

export function bearerAuth(token: string) {
  const expected = digest(token);
  return async function requireToken(ctx: Context, next: Next): Promise<void> {
    const header = ctx.get("Authorization");
    const match = /^Bearer +(\S+) *$/i.exec(header);
    if (!match || !timingSafeEqual(digest(match[1]!), expected)) {
      throw new ApiError(
        401,
        "unauthorized",
        header === "" ? "this call needs an Authorization: Bearer <token> header" : "the bearer token is not valid",
      );
    }
    await next();
  };
}

export const MIN_TOKEN_LENGTH = 16;

/**
 * The token comes from API_TOKEN, else from the token file; when neither exists a
 * new one is written to the file (mode 0600). `generated` tells the caller to show it once.
 */
export function loadToken(fromEnv: string | undefined, file: string): { token: string; generated: boolean } {
  let token = fromEnv?.trim();
  let generated = false;
  if (!token && existsSync(file)) token = readFileSync(file, "utf8").trim();
  if (!token) {
    token = randomBytes(24).toString("base64url");
    writeFileSync(file, token + "\n", { mode: 0o600, flag: "wx" });
    chmodSync(file, 0o600);
    generated = true;
  }
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new Error(`the API token must be at least ${MIN_TOKEN_LENGTH} characters without whitespace`);
  }
  return { token, generated };
}
