// Backends that stream, for the router's transparency tests: one that hashes
// request bodies as they arrive, and one that sends Server-Sent Events only when
// the test says the previous one has reached the client.
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import net from "node:net";
import type { ExecutionContext } from "ava";

async function listen(t: ExecutionContext, server: http.Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

export interface UploadSink {
  address: string;
  /** Body bytes of the current upload received so far (the upload need not be finished). */
  bytesSoFar: number;
}

/** Answers each request with {bytes, sha256} of the body it received. */
export async function startUploadSink(t: ExecutionContext): Promise<UploadSink> {
  const sink = { address: "", bytesSoFar: 0 };
  const server = http.createServer((req, res) => {
    const hash = createHash("sha256");
    let bytes = 0;
    sink.bytesSoFar = 0;
    req.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
      sink.bytesSoFar = bytes;
    });
    req.on("end", () => {
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ bytes, sha256: hash.digest("hex") }));
    });
  });
  sink.address = await listen(t, server);
  return sink;
}

export interface EventSource {
  address: string;
  /** How many events the backend has written. */
  sent: number;
  /** Lets the backend write the next event. */
  release(): void;
}

/** GET / answers text/event-stream with `count` events; the first is sent at once, each further one after a release(). */
export async function startEventSource(t: ExecutionContext, count: number): Promise<EventSource> {
  let released = 0;
  let wake: (() => void) | undefined;
  const source = {
    address: "",
    sent: 0,
    release() {
      released++;
      wake?.();
    },
  };
  const server = http.createServer(async (_req, res) => {
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
    for (let i = 1; i <= count; i++) {
      while (released < i - 1) await new Promise<void>((r) => (wake = r));
      res.write(`id: ${i}\ndata: event ${i}\n\n`);
      source.sent = i;
    }
    res.end();
  });
  source.address = await listen(t, server);
  return source;
}

export interface DownloadSource {
  address: string;
  bytes: number;
  sha256: string;
  /** Responses handed in full to the kernel: what the client has not read is then in nginx's buffers. */
  finished: number;
}

/** Answers every request with the same `bytes` random bytes. */
export async function startDownloadSource(t: ExecutionContext, bytes: number): Promise<DownloadSource> {
  const body = randomBytes(bytes);
  const source = { address: "", bytes, sha256: createHash("sha256").update(body).digest("hex"), finished: 0 };
  const server = http.createServer((_req, res) => {
    res.setHeader("Content-Type", "application/octet-stream");
    res.on("finish", () => source.finished++);
    res.end(body);
  });
  source.address = await listen(t, server);
  return source;
}

/**
 * GETs through nginx but reads nothing until `resume` resolves: meanwhile nginx must
 * hold what the backend sends, beyond its memory buffers in a temporary file.
 */
export function slowDownload(port: number, host: string, resume: () => Promise<unknown>): Promise<{ status: number; bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/", agent: false, headers: { Host: host } }, (res) => {
      res.pause();
      const hash = createHash("sha256");
      let bytes = 0;
      res.on("data", (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, bytes, sha256: hash.digest("hex") }));
      res.on("error", reject);
      resume().then(
        () => res.resume(),
        (error) => (req.destroy(), reject(error)),
      );
    });
    req.on("error", reject);
  });
}
