// Just enough RFC 6455 for tests, with no dependency: an echo backend built on
// node's http `upgrade` event and a raw-socket client. Text frames up to 64 KiB,
// unfragmented; that is all a router must carry unchanged to prove it passes
// upgrades through.
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import net from "node:net";
import type { ExecutionContext } from "ava";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

export const acceptKey = (key: string): string => createHash("sha1").update(key + GUID).digest("base64");

/** One text frame; clients must mask theirs (RFC 6455 5.3), servers must not. */
export function frame(text: string, masked: boolean): Buffer {
  const payload = Buffer.from(text);
  if (payload.length > 0xffff) throw new Error("test frames are at most 64 KiB");
  const header = payload.length < 126 ? Buffer.from([0x81, payload.length]) : Buffer.from([0x81, 126, payload.length >> 8, payload.length & 0xff]);
  if (!masked) return Buffer.concat([header, payload]);
  header[1]! |= 0x80;
  const mask = randomBytes(4);
  return Buffer.concat([header, mask, payload.map((b, i) => b ^ mask[i % 4]!)]);
}

/** Parses the frames complete in `buffer`; returns their texts and the bytes left over. */
export function parseFrames(buffer: Buffer): { texts: string[]; rest: Buffer } {
  const texts: string[] = [];
  let at = 0;
  for (;;) {
    if (buffer.length - at < 2) break;
    const masked = (buffer[at + 1]! & 0x80) !== 0;
    let length = buffer[at + 1]! & 0x7f;
    let offset = at + 2;
    if (length === 126) {
      if (buffer.length - at < 4) break;
      length = buffer.readUInt16BE(at + 2);
      offset += 2;
    } else if (length === 127) throw new Error("test frames are at most 64 KiB");
    const mask = masked ? buffer.subarray(offset, offset + 4) : undefined;
    if (masked) offset += 4;
    if (buffer.length < offset + length) break;
    const payload = Buffer.from(buffer.subarray(offset, offset + length));
    if (mask) payload.forEach((b, i) => (payload[i] = b ^ mask[i % 4]!));
    texts.push(payload.toString());
    at = offset + length;
  }
  return { texts, rest: buffer.subarray(at) };
}

export interface WebSocketEcho {
  address: string;
  /** The headers of each handshake the backend received. */
  handshakes: http.IncomingHttpHeaders[];
}

/** A backend that accepts WebSocket handshakes and echoes every text frame with "echo: " in front. */
export async function startWebSocketEcho(t: ExecutionContext): Promise<WebSocketEcho> {
  const handshakes: http.IncomingHttpHeaders[] = [];
  // Upgraded sockets are no longer the HTTP server's: closeAllConnections() misses them.
  const upgraded = new Set<net.Socket>();
  const server = http.createServer((_req, res) => {
    res.statusCode = 426; // a plain request: the WebSocket handshake did not arrive as one
    res.end("upgrade required\n");
  });
  server.on("upgrade", (req, socket: net.Socket) => {
    handshakes.push(req.headers);
    upgraded.add(socket);
    socket.on("close", () => upgraded.delete(socket));
    socket.on("end", () => socket.end());
    const key = req.headers["sec-websocket-key"];
    if (req.headers.upgrade?.toLowerCase() !== "websocket" || typeof key !== "string") {
      socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
      return;
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`);
    let pending: Buffer = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      const { texts, rest } = parseFrames(Buffer.concat([pending, chunk]));
      pending = rest;
      for (const text of texts) socket.write(frame(`echo: ${text}`, false));
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => new Promise<void>((r) => (server.closeAllConnections(), upgraded.forEach((s) => s.destroy()), server.close(() => r()))));
  return { address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`, handshakes };
}

export interface WebSocketClient {
  /** The status line and headers of the handshake's answer. */
  response: string;
  send(text: string): void;
  /** The next text frame from the server. */
  receive(): Promise<string>;
  close(): void;
}

/** Opens a WebSocket to `host` through 127.0.0.1:`port` (raw handshake); rejects unless the answer is 101 with the right accept key. */
export function connectWebSocket(port: number, host: string, path = "/"): Promise<WebSocketClient> {
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString("base64");
    const socket = net.connect(port, "127.0.0.1");
    socket.setTimeout(10_000, () => socket.destroy(new Error("no WebSocket traffic within 10 s")));
    let buffer: Buffer = Buffer.alloc(0);
    let response: string | undefined;
    const texts: string[] = [];
    const waiting: Array<{ resolve: (text: string) => void; reject: (error: Error) => void }> = [];
    let failure: Error | undefined;
    socket.on("error", (error) => {
      failure = error;
      reject(error);
      waiting.splice(0).forEach((w) => w.reject(error));
    });
    socket.on("close", () => {
      failure ??= new Error("the WebSocket connection closed");
      waiting.splice(0).forEach((w) => w.reject(failure!));
    });
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (response === undefined) {
        const end = buffer.indexOf("\r\n\r\n");
        if (end < 0) return;
        response = buffer.subarray(0, end).toString("latin1");
        buffer = buffer.subarray(end + 4);
        const accept = /^sec-websocket-accept:\s*(\S+)/im.exec(response)?.[1];
        if (!/^HTTP\/1\.1 101 /.test(response) || accept !== acceptKey(key)) {
          socket.destroy();
          return reject(new Error(`not a WebSocket handshake answer:\n${response}`));
        }
        resolve({
          response,
          send: (text) => socket.write(frame(text, true)),
          receive: () =>
            new Promise((resolve, reject) => {
              if (texts.length) resolve(texts.shift()!);
              else if (failure) reject(failure);
              else waiting.push({ resolve, reject });
            }),
          close: () => socket.destroy(),
        });
      }
      const parsed = parseFrames(buffer);
      buffer = parsed.rest;
      for (const text of parsed.texts) {
        const next = waiting.shift();
        if (next) next.resolve(text);
        else texts.push(text);
      }
    });
  });
}
