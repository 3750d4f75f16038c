// ROUTE_STORE and the ETCD_* settings: the defaults, and a clear error naming
// the variable for each bad value.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { ConfigError } from "../src/config.ts";
import { parseStoreConfig } from "../src/store-config.ts";

test("lmdb is the default store", (t) => {
  t.deepEqual(parseStoreConfig({}), { kind: "lmdb" });
  t.deepEqual(parseStoreConfig({ ROUTE_STORE: "lmdb", ETCD_ENDPOINTS: "ignored" }), { kind: "lmdb" });
});

test("etcd: endpoints get a scheme, the prefix and timeout their defaults", (t) => {
  t.deepEqual(parseStoreConfig({ ROUTE_STORE: "etcd", ETCD_ENDPOINTS: "127.0.0.1:2379, http://[::1]:22379,etcd-2.internal:2379" }), {
    kind: "etcd",
    endpoints: ["http://127.0.0.1:2379", "http://[::1]:22379", "http://etcd-2.internal:2379"],
    prefix: "/set-backend/",
    timeoutMs: 3000,
  });
});

test("etcd: TLS files are read at start and make bare endpoints https; auth needs both halves", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "set-backend-tls-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const name of ["ca.pem", "cert.pem", "key.pem"]) writeFileSync(join(dir, name), `-----${name}-----\n`);
  const config = parseStoreConfig({
    ROUTE_STORE: "etcd",
    ETCD_ENDPOINTS: "etcd-1:2379",
    ETCD_CA_FILE: join(dir, "ca.pem"),
    ETCD_CERT_FILE: join(dir, "cert.pem"),
    ETCD_KEY_FILE: join(dir, "key.pem"),
    ETCD_USERNAME: "edge",
    ETCD_PASSWORD: "secret",
    ETCD_PREFIX: "/routes/prod/",
  });
  t.like(config, { kind: "etcd", endpoints: ["https://etcd-1:2379"], prefix: "/routes/prod/", auth: { username: "edge", password: "secret" } });
  t.is((config as { tls: { ca: Buffer } }).tls.ca.toString(), "-----ca.pem-----\n");
});

const refused: [Record<string, string>, RegExp][] = [
  [{ ROUTE_STORE: "redis" }, /^ROUTE_STORE: expected lmdb or etcd/],
  [{ ROUTE_STORE: "etcd" }, /^ETCD_ENDPOINTS: required/],
  [{ ROUTE_STORE: "etcd", ETCD_ENDPOINTS: "127.0.0.1" }, /^ETCD_ENDPOINTS: expected comma-separated/],
  [{ ROUTE_STORE: "etcd", ETCD_ENDPOINTS: "127.0.0.1:2379,,127.0.0.1:2380" }, /^ETCD_ENDPOINTS: expected/],
  [{ ROUTE_STORE: "etcd", ETCD_ENDPOINTS: "127.0.0.1:0" }, /^ETCD_ENDPOINTS: expected/],
  [{ ROUTE_STORE: "etcd", ETCD_ENDPOINTS: "ftp://127.0.0.1:2379" }, /^ETCD_ENDPOINTS: expected/],
  [{ ROUTE_STORE: "etcd", ETCD_ENDPOINTS: "http://a:1,https://b:1" }, /^ETCD_ENDPOINTS: mixes/],
  [{ ROUTE_STORE: "etcd", ETCD_ENDPOINTS: "https://a:1" }, /^ETCD_CA_FILE: required with https/],
  [{ ROUTE_STORE: "etcd", ETCD_ENDPOINTS: "a:1", ETCD_CA_FILE: "/nonexistent/ca.pem" }, /^ETCD_CA_FILE: cannot read/],
  [{ ROUTE_STORE: "etcd", ETCD_ENDPOINTS: "a:1", ETCD_PREFIX: "/set-backend" }, /^ETCD_PREFIX: expected .* ending with "\/"/],
  [{ ROUTE_STORE: "etcd", ETCD_ENDPOINTS: "a:1", ETCD_PREFIX: "/with space/" }, /^ETCD_PREFIX/],
  [{ ROUTE_STORE: "etcd", ETCD_ENDPOINTS: "a:1", ETCD_USERNAME: "edge" }, /^ETCD_USERNAME and ETCD_PASSWORD: set both/],
  [{ ROUTE_STORE: "etcd", ETCD_ENDPOINTS: "a:1", ETCD_TIMEOUT_MS: "soon" }, /^ETCD_TIMEOUT_MS: expected a positive integer/],
];

for (const [env, message] of refused) {
  test(`refused: ${JSON.stringify(env)}`, (t) => {
    const error = t.throws(() => parseStoreConfig(env), { instanceOf: ConfigError });
    t.regex(error!.message, message);
  });
}

test("a client certificate needs its key and a CA", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "set-backend-tls-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "cert.pem"), "c");
  writeFileSync(join(dir, "key.pem"), "k");
  const base = { ROUTE_STORE: "etcd", ETCD_ENDPOINTS: "a:1" };
  t.throws(() => parseStoreConfig({ ...base, ETCD_CERT_FILE: join(dir, "cert.pem") }), { message: /^ETCD_CERT_FILE and ETCD_KEY_FILE/ });
  t.throws(() => parseStoreConfig({ ...base, ETCD_CERT_FILE: join(dir, "cert.pem"), ETCD_KEY_FILE: join(dir, "key.pem") }), {
    message: /^ETCD_CA_FILE: required with a client certificate/,
  });
});
