// The admin page (/ui) and its static files (api/ui/), read once at start-up.
// The page is public (it holds no data until signed in with the token); what it
// may load and run is pinned by the Content-Security-Policy below.
import { readFileSync, readdirSync } from "node:fs";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Router from "@koa/router";
import type { Context } from "koa";
import { notFound } from "../errors.ts";

const UI_DIR = fileURLToPath(new URL("../../ui/", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

// Scripts and styles only from files of this origin (no inline code), calls only
// to this origin, no frames, no forms posted anywhere, and Trusted Types with no
// policy: assigning a string to innerHTML or similar throws, so data can reach
// the page only as text.
export const UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join("; ");

interface Asset {
  type: string;
  body: Buffer;
}

function loadAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(UI_DIR)) {
    const type = TYPES[extname(name)];
    if (type) assets.set(name, { type, body: readFileSync(join(UI_DIR, name)) });
  }
  return assets;
}

function send(ctx: Context, asset: Asset): void {
  ctx.set("Content-Security-Policy", UI_CSP);
  ctx.set("X-Content-Type-Options", "nosniff");
  ctx.set("Referrer-Policy", "no-referrer");
  ctx.set("Cache-Control", "no-cache");
  ctx.type = asset.type;
  ctx.body = asset.body;
}

export function uiRouter(): Router {
  const assets = loadAssets();
  const router = new Router();
  router.get("/ui", (ctx) => send(ctx, assets.get("index.html")!));
  router.get("/ui/:file", (ctx) => {
    const asset = assets.get(ctx.params.file!);
    if (!asset) throw notFound(`no file ${ctx.params.file} in the admin page`);
    send(ctx, asset);
  });
  return router;
}
