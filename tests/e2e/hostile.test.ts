// Host headers no browser sends: each gets a 4xx or the 404 page, nginx keeps
// running, and nothing lands in the logs unescaped.
import test from "ava";
import { sendRaw, startEchoBackend, startSystem } from "./system.ts";

const request = (host: string | Buffer) =>
  Buffer.concat([Buffer.from("GET / HTTP/1.1\r\nHost: "), Buffer.isBuffer(host) ? host : Buffer.from(host, "latin1"), Buffer.from("\r\nConnection: close\r\n\r\n")]);

const cases: [string, string | Buffer][] = [
  ["overlong", "a".repeat(5000) + ".example.com"],
  ["a 64-character label", "a".repeat(64) + ".example.com"],
  ["many dots", "a." + ".".repeat(300) + "com"],
  ["an empty label", "a..example.com"],
  ["a control character", "a\x01b.example.com"],
  ["an escape sequence", "\x1b[31mred.example.com"],
  ["HTML", "<script>alert(1)</script>.example.com"],
  ["quotes and backslashes", 'a"b\\c.example.com'],
  ["a percent sign", "a%0d%0ab.example.com"],
  ["invalid UTF-8", Buffer.from([0x61, 0xff, 0xfe, 0x2e, 0x63, 0x6f, 0x6d])],
  ["unicode (unrouted)", Buffer.from("bücher.example.com", "utf8")],
  ["a port", "unrouted.example.com:8080"],
  ["a bad port", "unrouted.example.com:99999"],
  ["an IPv6 literal", "[::1]:80"],
  ["a wildcard", "*.example.com"],
];

test.serial("hostile Host headers get a 4xx and change nothing", async (t) => {
  const s = await startSystem(t);
  const app = await startEchoBackend(t, "app");
  await s.manage("POST", "/entries.json", { host: "known.example.com", backend: app.address });

  for (const [why, host] of cases) {
    const reply = await sendRaw(s.port, request(host));
    t.true(reply.status >= 400 && reply.status < 500, `${why}: status ${reply.status}`);
    t.false(reply.text.includes("<script>"), `${why}: the page echoes markup`);
  }
  // nginx still routes, and its logs hold nothing raw.
  t.is((await s.request("known.example.com")).status, 200);
  const logs = s.nginxOutput();
  t.false(logs.includes("<script>"), "markup in nginx's logs");
  t.false(logs.includes("\x1b["), "an escape sequence in nginx's logs");
  t.false(/worker process \d+ exited on signal/.test(logs), "a worker crashed");
});

test.serial("a routed host with a port and a trailing dot still reaches its backend", async (t) => {
  const s = await startSystem(t);
  const app = await startEchoBackend(t, "app");
  await s.manage("POST", "/entries.json", { host: "ported.example.com", backend: app.address });
  for (const host of ["ported.example.com:8080", "PORTED.example.com.", "ported.example.com.:1"]) {
    const reply = await s.request(host);
    t.is(reply.status, 200, host);
  }
});
