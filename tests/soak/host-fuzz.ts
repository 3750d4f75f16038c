// Host-header fuzz cases from a seeded generator: random bytes, overlong
// names around nginx's header buffer (large_client_header_buffers 8k), unicode
// and IDN, many dots, odd and many ports, empty, missing and duplicate Host
// headers, absolute-form request targets, and variants of routed names.
import net from "node:net";
import { seededRandom } from "../lib/random.ts";

export interface FuzzCase {
  family: string;
  request: Buffer;
  /** A routed name written another way: must reach the backend (200). */
  routed: boolean;
}

export const ROUTED_HOST = "fuzz.example.com";
export const WILDCARD_ROUTE = "*.wild.fuzz.test";

const utf8 = (s: string) => Buffer.from(s, "utf8");
const latin1 = (s: string) => Buffer.from(s, "latin1");

function requestWith(hostHeaders: Buffer[], target = "/"): Buffer {
  const lines: Buffer[] = [latin1(`GET ${target} HTTP/1.1\r\n`)];
  for (const host of hostHeaders) lines.push(latin1("Host: "), host, latin1("\r\n"));
  lines.push(latin1("Connection: close\r\n\r\n"));
  return Buffer.concat(lines);
}

export function fuzzCases(seed: number, count: number): FuzzCase[] {
  const random = seededRandom(seed);
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const label = (n = 1 + int(12), alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_") => Array.from({ length: n }, () => pick([...alphabet])).join("");
  const unicode = () => {
    const ranges: [number, number][] = [
      [0x80, 0x24f], // Latin
      [0x370, 0x3ff], // Greek
      [0x400, 0x4ff], // Cyrillic
      [0x4e00, 0x4fff], // CJK
      [0x1f300, 0x1f5ff], // emoji
      [0x200b, 0x200f], // zero-width and direction marks
      [0xff0e, 0xff0e], // fullwidth full stop
      [0x3002, 0x3002], // ideographic full stop
      [0xfffd, 0xffff], // replacement character, non-characters
    ];
    return Array.from({ length: 1 + int(10) }, () => {
      const [lo, hi] = pick(ranges);
      return String.fromCodePoint(lo + int(hi - lo + 1));
    }).join("");
  };
  const port = () => pick([":", ":0", ":1", ":80", ":65535", ":65536", ":99999999999", ":-1", ":abc", "::", ":80:80", `:${int(70000)}`, ":８０", ":0x50", ": 80"]);
  const routedVariant = () => {
    const base = pick([ROUTED_HOST, `${label(1 + int(12), "abcdefghijklmnopqrstuvwxyz0123456789")}.wild.fuzz.test`]);
    const cased = [...base].map((c) => (random() < 0.5 ? c.toUpperCase() : c)).join("");
    return cased + (random() < 0.3 ? "." : "") + (random() < 0.3 ? `:${1 + int(65535)}` : "");
  };

  const families: [string, () => { hosts: Buffer[]; target?: string; routed?: boolean }][] = [
    ["random bytes", () => ({ hosts: [Buffer.from(Array.from({ length: int(300) }, () => int(256)))] })],
    ["random printable", () => ({ hosts: [latin1(Array.from({ length: int(300) }, () => String.fromCharCode(0x20 + int(95))).join(""))] })],
    ["overlong", () => ({ hosts: [latin1(`${"a".repeat(pick([63, 64, 250, 253, 254, 256, 1000, 4096, 8000, 8192, 8300, 16384, 40000]) + int(8))}.example.com`)] })],
    ["long labels", () => ({ hosts: [latin1(Array.from({ length: 1 + int(200) }, () => label(1 + int(70))).join("."))] })],
    ["unicode", () => ({ hosts: [utf8(`${unicode()}.${pick(["example.com", unicode(), "wild.fuzz.test", "xn--bcher-kva.example"])}`)] })],
    ["idn", () => ({ hosts: [utf8(pick(["xn--", "xn--bcher-kva", "xn--zz", "XN--BCHER-KVA", "xn--ls8h", "xn---", "xn--a-ecp.ru", "bücher", "ＥＸＡＭＰＬＥ"]) + pick([".example.com", ".wild.fuzz.test", ""]))] })],
    ["dots", () => ({ hosts: [latin1(pick(["", ".", "..", "a."]) + Array.from({ length: int(400) }, () => pick([".", ".", "a.", label() + "."])).join("") + pick(["com", "", ".", "wild.fuzz.test"]))] })],
    ["ports", () => ({ hosts: [latin1(pick([ROUTED_HOST, "unrouted.example.com", "[::1]", "127.0.0.1", "", "a"]) + Array.from({ length: 1 + int(3) }, port).join(""))] })],
    ["brackets", () => ({ hosts: [latin1(pick(["[", "]", "[]", "[::1", "::1]", "[::ffff:127.0.0.1]", "[fe80::1%25eth0]", "[v1.x]", `[${label()}]`]) + (random() < 0.5 ? port() : ""))] })],
    ["empty", () => ({ hosts: [latin1(pick(["", " ", "\t", "  \t "]))] })],
    ["no Host", () => ({ hosts: [] })],
    ["duplicate Host", () => ({ hosts: [latin1(pick([ROUTED_HOST, "a.example"])), latin1(pick([ROUTED_HOST, "b.example", ""]))] })],
    ["absolute-form", () => ({ hosts: [latin1(pick([ROUTED_HOST, "other.example", "", "x"]))], target: `${pick(["http", "https", "HTTP", "ftp"])}://${pick([ROUTED_HOST, "unrouted.example", "", "[::1]", "a..b", unicode()])}${random() < 0.3 ? port() : ""}${pick(["/", "/x?y", "", "@evil/"])}` })],
    ["control characters", () => ({ hosts: [latin1(`${label()}${String.fromCharCode(int(32))}${label()}.example.com`)] })],
    ["routed variant", () => ({ hosts: [latin1(routedVariant())], routed: true })],
  ];

  const cases: FuzzCase[] = [];
  for (let i = 0; i < count; i++) {
    const [family, make] = families[i % families.length]!;
    const { hosts, target, routed } = make();
    cases.push({ family, request: requestWith(hosts, target ?? "/"), routed: routed ?? false });
  }
  return cases;
}

export interface RawAnswer {
  /** The first response's status; 0 when the connection closed without one. */
  status: number;
  text: string;
  /** Every status line the connection carried (a request cut short by bytes in its Host may be two). */
  statuses: number[];
  hung: boolean;
}

/**
 * Sends `request` on a new connection and reads until nginx closes it (every
 * case asks for Connection: close), or gives up after `timeoutMs`. It does not
 * half-close: nginx takes a client's EOF as an abort of a proxied request.
 */
export function sendRaw(port: number, request: Buffer, timeoutMs: number): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const done = (hung: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString("latin1");
      const statuses = [...text.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0), text, statuses, hung });
    };
    const timer = setTimeout(() => done(true), timeoutMs);
    socket.on("data", (c) => chunks.push(c));
    socket.on("end", () => done(false));
    // A reset after nginx answered (it may close while bytes are still unread) still ends the exchange.
    socket.on("error", () => done(false));
    socket.write(request);
  });
}
