// The route API against an etcd that requires TLS client certificates, and one
// that requires a user and password (ETCD_CA_FILE, ETCD_CERT_FILE,
// ETCD_KEY_FILE, ETCD_USERNAME, ETCD_PASSWORD): writes and lookups work with
// the right credentials; with wrong ones writes are refused and /healthz says why.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { startEdge, until } from "../lib/edge.ts";
import { startEtcdCluster } from "../lib/etcd-cluster.ts";

// A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl.
function makeCertificates(dir: string): { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string } {
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=set-backend test CA", "-keyout", file("ca.key"), "-out", file("ca.pem"));
  writeFileSync(file("server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n");
  writeFileSync(file("client.ext"), "extendedKeyUsage=clientAuth\n");
  for (const [name, cn] of [["server", "127.0.0.1"], ["client", "edge"]] as const) {
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${cn}`, "-keyout", file(`${name}.key`), "-out", file(`${name}.csr`));
    openssl("x509", "-req", "-in", file(`${name}.csr`), "-CA", file("ca.pem"), "-CAkey", file("ca.key"), "-CAcreateserial", "-days", "1", "-extfile", file(`${name}.ext`), "-out", file(`${name}.pem`));
  }
  return { ca: file("ca.pem"), serverCert: file("server.pem"), serverKey: file("server.key"), clientCert: file("client.pem"), clientKey: file("client.key") };
}

test("TLS with client certificates: the right certificate works, none is refused", async (t) => {
  t.timeout(180_000);
  const dir = mkdtempSync(join(tmpdir(), "set-backend-tls-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pem = makeCertificates(dir);
  const cluster = await startEtcdCluster(1, {
    tls: { ca: pem.ca, cert: pem.serverCert, key: pem.serverKey },
    ctlFlags: [`--cacert=${pem.ca}`, `--cert=${pem.clientCert}`, `--key=${pem.clientKey}`],
  });
  t.teardown(() => cluster.stop());
  t.regex(cluster.endpoints, /^https:\/\//);

  const edge = await startEdge({
    name: "tls-edge",
    endpoints: cluster.endpoints,
    nginx: false,
    env: { ETCD_CA_FILE: pem.ca, ETCD_CERT_FILE: pem.clientCert, ETCD_KEY_FILE: pem.clientKey },
  });
  t.teardown(() => edge.stop());
  const created = await edge.manage("POST", "/entries.json", { host: "secure.example.com", backend: "127.0.0.1:8443" });
  t.is(created.status, 201, created.body);
  t.is((await edge.internal("/resolve/secure.example.com")).status, 200);
  t.regex(cluster.ctl("get", "--prefix", "/set-backend/gen/", "--keys-only"), /secure\.example\.com/);

  // Without a client certificate etcd refuses the connection: no write, and /healthz says so.
  const anonymous = await startEdge({ name: "tls-anonymous", endpoints: cluster.endpoints, nginx: false, env: { ETCD_CA_FILE: pem.ca } });
  t.teardown(() => anonymous.stop());
  const refused = await anonymous.manage("POST", "/entries.json", { host: "nope.example.com", backend: "127.0.0.1:1" });
  t.is(refused.status, 503, refused.body);
  t.like(JSON.parse(refused.body), { error: "store_unavailable" });
  t.like(await anonymous.health(), { status: "degraded", store: { connected: false } });
});

test("user and password: the right ones work, a wrong password is refused", async (t) => {
  t.timeout(180_000);
  const cluster = await startEtcdCluster(1);
  t.teardown(() => cluster.stop());
  // A root user (etcd needs one to enable auth) and an edge user with read-write on the prefix only.
  cluster.ctl("user", "add", "root:root-secret");
  cluster.ctl("user", "add", "edge:edge-secret");
  cluster.ctl("role", "add", "set-backend");
  cluster.ctl("role", "grant-permission", "set-backend", "--prefix=true", "readwrite", "/set-backend/");
  cluster.ctl("user", "grant-role", "edge", "set-backend");
  cluster.ctl("auth", "enable");

  const edge = await startEdge({ name: "auth-edge", endpoints: cluster.endpoints, nginx: false, env: { ETCD_USERNAME: "edge", ETCD_PASSWORD: "edge-secret" } });
  t.teardown(() => edge.stop());
  await until(async () => (await edge.health()).status === "ok", "the edge to follow etcd with its user", 60_000);
  const created = await edge.manage("POST", "/entries.json", { host: "auth.example.com", backend: "127.0.0.1:8080" });
  t.is(created.status, 201, created.body);
  t.is((await edge.internal("/resolve/auth.example.com")).status, 200);

  const wrong = await startEdge({ name: "auth-wrong", endpoints: cluster.endpoints, nginx: false, env: { ETCD_USERNAME: "edge", ETCD_PASSWORD: "not-the-password" } });
  t.teardown(() => wrong.stop());
  const refused = await wrong.manage("POST", "/entries.json", { host: "nope.example.com", backend: "127.0.0.1:1" });
  t.is(refused.status, 503, refused.body);
  await until(async () => (await wrong.health()).store.connected === false, "the wrong password to show in /healthz", 30_000);
  t.regex(String((await wrong.health()).store.last_error), /auth/i);
});
