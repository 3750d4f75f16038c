// The service as a process: start-up, token generation, health, metrics, logs,
// request ids and a graceful stop on SIGTERM.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync, readFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { httpRequest, post, startTestService, TOKEN } from "./helpers.ts";
import { startService, type ServiceProcess } from "./fixtures/service-process.ts";

// The service as a child process, with its logs and stderr kept; SIGKILLed when the test ends.
async function startChild(t: ExecutionContext, dir: string, token?: string): Promise<ServiceProcess> {
  const child = await startService({ stateDir: dir, token, inheritEnv: true, keepLogs: true });
  t.teardown(() => child.kill());
  return child;
}

function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), "set-backend-svc-"));
  chmodSync(dir, 0o755);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("first start generates a token file (0600) and prints it once; later starts reuse it", async (t) => {
  const dir = tempDir(t);
  const first = await startChild(t, dir);
  const tokenFile = join(dir, "api-token");
  const token = readFileSync(tokenFile, "utf8").trim();
  t.true(token.length >= 16);
  t.is(statSync(tokenFile).mode & 0o777, 0o600);
  t.true(first.stderr().includes(token));
  t.false(JSON.stringify(first.logs).includes(token), "the token never goes to the log stream");
  const ok = await httpRequest({ ...first.public, path: "/entries.json", headers: { Authorization: `Bearer ${token}` } });
  t.is(ok.status, 200);
  t.is((await first.stop()).code, 0);

  const second = await startChild(t, dir);
  t.false(second.stderr().includes(token));
  const again = await httpRequest({ ...second.public, path: "/entries.json", headers: { Authorization: `Bearer ${token}` } });
  t.is(again.status, 200);
});

test("a bad setting stops the service with a message naming the variable", async (t) => {
  const dir = tempDir(t);
  const child = spawn(process.execPath, ["--import=tsx", "api/src/main.ts"], {
    env: { ...process.env, STATE_DIR: dir, API_LISTEN: "nowhere", API_TOKEN: TOKEN },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d));
  const code = await new Promise((resolve) => child.once("exit", resolve));
  t.is(code, 1);
  t.regex(out, /API_LISTEN: expected host:port or unix:\/path/);
});

test("SIGTERM answers a waiting long-poll, finishes, and exits 0", async (t) => {
  const dir = tempDir(t);
  const child = await startChild(t, dir, TOKEN);
  const waiting = httpRequest({ ...child.internal, path: "/changes?since=0&wait=30000" });
  await new Promise((r) => setTimeout(r, 200));
  const stopped = child.stop();
  const reply = await waiting;
  t.deepEqual(reply.json(), { seq: 0, changes: [] });
  t.is((await stopped).code, 0);
  t.true(child.logs.some((l) => l.msg === "stopped"));
});

test("each request is logged as a JSON line with its request id, which the answer echoes", async (t) => {
  const dir = tempDir(t);
  const child = await startChild(t, dir, TOKEN);
  const mine = await httpRequest({ ...child.public, path: "/healthz", headers: { "X-Request-Id": "abc-123" } });
  t.is(mine.headers["x-request-id"], "abc-123");
  const hostile = await httpRequest({ ...child.public, path: "/healthz", headers: { "X-Request-Id": "a b<script>" } });
  t.regex(String(hostile.headers["x-request-id"]), /^[0-9a-f-]{36}$/);
  await child.stop();
  const requests = child.logs.filter((l) => l.msg === "request");
  t.true(requests.some((l) => l.req_id === "abc-123" && l.path === "/healthz" && l.status === 200));
  t.false(JSON.stringify(child.logs).includes("<script>"));
});

test("/healthz reports entries and seq; /metrics has requests, latency and the entry count", async (t) => {
  const s = await startTestService(t);
  await post(s, "a.example.com", "localhost:1");
  await post(s, "b.example.com", "localhost:1");
  t.deepEqual((await s.api("/healthz", { auth: false })).json(), { status: "ok", entries: 2, seq: 2 });
  t.deepEqual((await s.internal("/healthz")).json(), { status: "ok", entries: 2, seq: 2 });
  const metrics = (await s.api("/metrics")).text;
  t.regex(metrics, /^set_backend_entries 2$/m);
  t.regex(metrics, /^set_backend_changes_seq 2$/m);
  t.regex(metrics, /set_backend_api_requests_total\{listener="public",method="POST",route="\/entries.json",status="201"\} 2/);
  t.regex(metrics, /set_backend_api_request_duration_seconds_bucket\{.*route="\/healthz".*\}/);
});

test("GET / documents the API with the seed's examples and escapes what it shows", async (t) => {
  const s = await startTestService(t, { DOMAIN: 'ex<ample>".com' });
  const page = await s.api("/", { auth: false });
  t.is(page.status, 200);
  t.regex(String(page.headers["content-type"]), /^text\/html/);
  t.true(page.text.includes("POST /entries.json"));
  t.true(page.text.includes("DELETE /entries/{host}.json"));
  t.true(page.text.includes("Authorization: Bearer $TOKEN"));
  t.true(page.text.includes("api.ex&lt;ample&gt;&quot;.com"));
  t.false(page.text.includes("ex<ample>"));
});

test("a second service cannot take over a socket that is in use", async (t) => {
  const s = await startTestService(t);
  const dir = tempDir(t);
  const child = spawn(process.execPath, ["--import=tsx", "api/src/main.ts"], {
    env: { ...process.env, STATE_DIR: dir, API_TOKEN: TOKEN, API_LISTEN: "127.0.0.1:0", RESOLVER_LISTEN: `unix:${s.socket}` },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d));
  t.is(await new Promise((resolve) => child.once("exit", resolve)), 1);
  t.regex(out, /already listening/);
  t.is((await s.internal("/healthz")).status, 200);
});
