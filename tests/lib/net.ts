// Loopback plumbing for the fleet tests and benchmark: a free port, and one
// HTTP request with a given Host on a fresh connection.
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

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** GET `path` on 127.0.0.1:`port` with `Host: host`. */
export function send(port: number, host: string, path = "/"): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, headers: { Host: host }, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}
