// The router is transparent for what sites send through it, in both forms of the
// template's routed location: the balancer (proxy_pass http://routed, keepalive)
// and the seed's proxy_pass http://$backend$request_uri. WebSockets pass, large
// request bodies stream to the backend intact, Server-Sent Events arrive one by
// one, and ordinary requests keep the balancer's backend keep-alive.
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import http from "node:http";
import net from "node:net";
import test, { type ExecutionContext } from "ava";
import { startEventSource, startUploadSink, type UploadSink } from "./streams.ts";
import { until, startEchoBackend, startSystem, type System } from "./system.ts";
import { connectWebSocket, startWebSocketEcho } from "./websocket.ts";

const MiB = 1024 * 1024;

async function webSocketEcho(t: ExecutionContext, s: System): Promise<void> {
  const echo = await startWebSocketEcho(t);
  await s.manage("POST", "/entries.json", { host: "ws.example.com", backend: echo.address });
  const ws = await connectWebSocket(s.port, "ws.example.com", "/chat?room=1");
  try {
    for (const text of ["hello", "x".repeat(1000), "bye"]) {
      ws.send(text);
      t.is(await ws.receive(), `echo: ${text}`);
    }
  } finally {
    ws.close();
  }
  t.like(echo.handshakes[0], { host: "ws.example.com", upgrade: "websocket", connection: "upgrade" });
}

/** Sends `body` in 1 MiB writes; the rest only once the backend has the first MiB, which proves the body streams. */
function upload(t: ExecutionContext, s: System, sink: UploadSink, host: string, body: Buffer): Promise<any> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port: s.port, path: "/upload", method: "PUT", agent: false, headers: { Host: host, "Content-Length": body.length } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (text += c));
        res.on("end", () => (res.statusCode === 200 ? resolve(JSON.parse(text)) : reject(new Error(`${res.statusCode}: ${text.slice(0, 300)}`))));
      },
    );
    req.on("error", reject);
    const send = async () => {
      req.write(body.subarray(0, MiB));
      // With request buffering on, nginx would hold everything until the last byte.
      const ms = await until(async () => sink.bytesSoFar > 0, "the backend to receive the upload's start while it is still being sent", 15_000);
      t.log(`${host}: the backend had the first bytes ${ms} ms after the first MiB was written`);
      for (let at = MiB; at < body.length; at += MiB) {
        if (!req.write(body.subarray(at, at + MiB))) await new Promise((r) => req.once("drain", r));
      }
      req.end();
    };
    send().catch((error) => (req.destroy(), reject(error)));
  });
}

async function largeUpload(t: ExecutionContext, s: System): Promise<void> {
  const sink = await startUploadSink(t);
  await s.manage("POST", "/entries.json", { host: "upload.example.com", backend: sink.address });
  const body = randomBytes(50 * MiB);
  const result = await upload(t, s, sink, "upload.example.com", body);
  t.deepEqual(result, { bytes: body.length, sha256: createHash("sha256").update(body).digest("hex") });
}

async function serverSentEvents(t: ExecutionContext, s: System): Promise<void> {
  const count = 4;
  const source = await startEventSource(t, count);
  await s.manage("POST", "/entries.json", { host: "sse.example.com", backend: source.address });
  const events: string[] = [];
  let ended = false;
  let received = "";
  const req = http.get({ host: "127.0.0.1", port: s.port, path: "/events", agent: false, headers: { Host: "sse.example.com", Accept: "text/event-stream" } });
  t.teardown(() => req.destroy());
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => (req.on("response", resolve), req.on("error", reject)));
  t.is(res.statusCode, 200);
  t.is(res.headers["content-type"], "text/event-stream");
  res.setEncoding("utf8");
  res.on("data", (chunk: string) => {
    received += chunk;
    const parts = received.split("\n\n");
    received = parts.pop()!;
    events.push(...parts);
  });
  res.on("end", () => (ended = true));
  for (let i = 1; i <= count; i++) {
    await until(async () => events.length >= i, `event ${i} to reach the client before event ${i + 1} is sent`, 15_000);
    t.is(source.sent, i, `event ${i} arrived while the backend had sent only ${i}`);
    source.release();
  }
  await until(async () => ended, "the event stream to end", 15_000);
  t.deepEqual(events, ["id: 1\ndata: event 1", "id: 2\ndata: event 2", "id: 3\ndata: event 3", "id: 4\ndata: event 4"]);
}

/** Ordinary requests after all this still reuse backend connections (balancer form) and never ask the backend to close. */
async function keepAlive(t: ExecutionContext, s: System, pooled: boolean): Promise<void> {
  const app = await startEchoBackend(t, "app");
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const counter = net.createServer((client) => {
    connections++;
    sockets.add(client);
    const upstream = net.connect(app.port, "127.0.0.1");
    client.pipe(upstream).pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((r) => counter.listen(0, "127.0.0.1", r));
  // nginx keeps its pooled connections open: close them, or close() waits for them.
  t.teardown(() => new Promise<void>((r) => (counter.close(() => r()), sockets.forEach((c) => c.destroy()))));
  await s.manage("POST", "/entries.json", { host: "plain.example.com", backend: `127.0.0.1:${(counter.address() as net.AddressInfo).port}` });
  const requests = 20;
  for (let i = 0; i < requests; i++) {
    const reply = await s.request("plain.example.com", `/n/${i}`);
    t.is(reply.status, 200);
    t.is(reply.json().headers.connection, undefined, "no Connection header reaches the backend");
    t.is(reply.json().headers.upgrade, undefined, "no Upgrade header on an ordinary request");
  }
  t.log(`${requests} sequential requests used ${connections} backend connections`);
  // One pool per worker (2 workers), plus any the backend closed as idle; without keep-alive, one per request.
  if (pooled) t.true(connections <= 10, `${connections} backend connections for ${requests} requests`);
}

for (const form of [
  { name: "the balancer form", seedProxyPass: false },
  { name: "the seed's form", seedProxyPass: true },
]) {
  test.serial(`${form.name}: WebSocket echo, a 50 MiB upload, SSE event by event, keep-alive`, async (t) => {
    const s = await startSystem(t, { seedProxyPass: form.seedProxyPass });
    await webSocketEcho(t, s);
    await largeUpload(t, s);
    await serverSentEvents(t, s);
    await keepAlive(t, s, !form.seedProxyPass);
  });
}

test.serial("the balancer form: a streamed upload to a name whose first address refuses reaches the next address", async (t) => {
  // Streaming bodies must not cost the balancer its retry: nothing of the body has
  // gone out when the connect fails. multi.test is 127.0.0.9 (nothing listens), then 127.0.0.1.
  const dir = mkdtempSync(join(tmpdir(), "set-backend-hosts-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const hostsFile = join(dir, "hosts");
  writeFileSync(hostsFile, "127.0.0.9 multi.test\n127.0.0.1 multi.test\n");
  const s = await startSystem(t, { apiEnv: { BACKEND_HOSTS_FILE: hostsFile } });
  const sink = await startUploadSink(t);
  const port = sink.address.split(":")[1];
  await s.manage("POST", "/entries.json", { host: "retry.example.com", backend: `multi.test:${port}` });
  const body = randomBytes(8 * MiB);
  const result = await upload(t, s, sink, "retry.example.com", body);
  t.deepEqual(result, { bytes: body.length, sha256: createHash("sha256").update(body).digest("hex") });
  const refused = /connect\(\) failed \(111: Connection refused\) while connecting to upstream.*127\.0\.0\.9/;
  await until(async () => refused.test(s.nginxOutput()), "nginx to log the refused first address");
  t.pass();
});
