// Debian's Chromium (apt package `chromium`), driven by playwright-core: no
// browser is downloaded. One browser per test file; a fresh context (and so a
// fresh sessionStorage) per test.
import { existsSync } from "node:fs";
import type { ExecutionContext } from "ava";
import { chromium, type Browser, type Page } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (make test-ui does)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--headless",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/** Script errors and console errors (CSP violations among them) a page reported. */
export type Problems = string[];

/**
 * A page in its own context. Its script errors and console errors are collected
 * in `problems` for the test to check; a 4xx answer the page asked for (a refused
 * token, a validation error) is logged by Chromium as "Failed to load resource"
 * and is expected, so that one is left out.
 */
export async function openPage(t: ExecutionContext, browser: Browser, problems: Problems = []): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  t.teardown(() => context.close());
  const page = await context.newPage();
  // Playwright waits for its own conditions; these are upper bounds on a loaded machine.
  page.setDefaultTimeout(15_000);
  page.on("pageerror", (error) => problems.push(`script error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) problems.push(`console: ${message.text()}`);
  });
  return page;
}
