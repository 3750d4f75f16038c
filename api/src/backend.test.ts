import test from "ava";
import vectors from "../../tests/vectors/backends.json" with { type: "json" };
import { BackendError, backendParts, normalizeBackend } from "./backend.ts";

const accepted: [string, string][] = [
  ["localhost:3000", "localhost:3000"],
  ["LocalHost:3000", "localhost:3000"],
  ["app-1.internal.example.com:8080", "app-1.internal.example.com:8080"],
  ["10.0.0.7:3000", "10.0.0.7:3000"],
  ["127.0.0.1:1", "127.0.0.1:1"],
  ["0.0.0.0:65535", "0.0.0.0:65535"],
  ["[::1]:3000", "[::1]:3000"],
  ["[2001:DB8::1]:443", "[2001:db8::1]:443"],
  ["unix:/run/app.sock", "unix:/run/app.sock"],
  ["unix:/var/lib/set-backend/app_1-a.sock", "unix:/var/lib/set-backend/app_1-a.sock"],
];

const rejected: [string, unknown][] = [
  ["empty", ""],
  ["not a string", 3000],
  ["no port", "localhost"],
  ["port 0", "localhost:0"],
  ["port too big", "localhost:65536"],
  ["port with sign", "localhost:+80"],
  ["port with leading zero", "localhost:080"],
  ["scheme", "http://localhost:3000"],
  ["scheme without slashes", "https:localhost:3000"],
  ["path", "localhost:3000/admin"],
  ["query", "localhost:3000?x=1"],
  ["fragment", "localhost:3000#x"],
  ["userinfo", "user@localhost:3000"],
  ["space", "localhost :3000"],
  ["newline", "localhost:3000\n"],
  ["nginx directive injection", "localhost:3000; return 200"],
  ["variable", "$host:80"],
  ["brace", "{a}:80"],
  ["bad IPv4", "256.0.0.1:80"],
  ["short IPv4", "10.0.1:80"],
  ["IPv4 leading zero", "010.0.0.1:80"],
  ["IPv6 without brackets", "::1:80"],
  ["bad IPv6", "[::g]:80"],
  ["IPv6 without port", "[::1]"],
  ["IPv6 zone", "[fe80::1%eth0]:80"],
  ["label starting with -", "-a.com:80"],
  ["underscore in host", "a_b.com:80"],
  ["unicode host", "bücher.de:80"],
  ["relative unix path", "unix:run/app.sock"],
  ["unix path with space", "unix:/run/my app.sock"],
  ["unix path with colon", "unix:/run/app.sock:/x"],
  ["unix path with semicolon", "unix:/run/a;b"],
  ["unix path that is a directory", "unix:/run/"],
  ["unix path too long", "unix:/" + "a".repeat(107)],
  ["overlong", "a".repeat(600) + ":80"],
];

for (const [input, stored] of accepted) {
  test(`accepts ${input}`, (t) => t.is(normalizeBackend(input), stored));
}
for (const [why, input] of rejected) {
  test(`refuses ${why}`, (t) => {
    t.throws(() => normalizeBackend(input), { name: "BackendError" });
  });
}

// The one definition of a backend, shared with the filter and the nginx module.
for (const { backend, kind } of vectors.valid) {
  test(`shared vector: ${JSON.stringify(backend).slice(0, 50)} is a valid ${kind} backend in stored form`, (t) => {
    t.is(normalizeBackend(backend), backend);
    const expected = kind === "ipv4" || kind === "ipv6" ? "ip" : kind;
    t.is(backendParts(backend).kind as string, expected);
  });
}

for (const { backend, why } of vectors.invalid) {
  test(`shared vector: ${JSON.stringify(backend).slice(0, 50)} is refused (${why})`, (t) => {
    t.throws(() => normalizeBackend(backend), { instanceOf: BackendError });
  });
}
