// Loopback plumbing for every test and benchmark helper: a free port, whether a
// port accepts connections, and one HTTP request on 127.0.0.1.
import http from "node:http";
import net from "node:net";

// Ports this process has handed out: the kernel may offer a just-closed port
// again, and two servers of one test given the same port would collide (one
// fails to listen while the other answers in its place).
const handedOut = new Set<number>();

/** A TCP port on 127.0.0.1 that was free a moment ago, never one this process handed out before. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:`port` now. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.on("connect", () => (socket.destroy(), resolve(true)));
    socket.on("error", () => resolve(false));
  });
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The body parsed as JSON (throws if it is not). */
  json(): any;
}

export interface RequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** false (the default) opens a new connection for this request. */
  agent?: http.Agent | false;
}

/** One HTTP request to 127.0.0.1:`port`; resolves with the whole answer, rejects if none comes. */
export function request(port: number, path: string, init: RequestInit = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path, method: init.method ?? "GET", headers: init.headers, agent: init.agent ?? false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) }));
      },
    );
    req.on("error", reject);
    req.end(init.body);
  });
}

/** One HTTP request with `Host: host` (as a browser for that site would send it) to 127.0.0.1:`port`. */
export function send(port: number, host: string, path = "/", init: RequestInit = {}): Promise<Reply> {
  return request(port, path, { ...init, headers: { Host: host, ...init.headers } });
}
