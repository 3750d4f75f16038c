import { readResolveAnswer, readChanges } from "../../src/resolver/answers";
import { isValidBackend } from "../../src/resolver/backend";
import { escapeHtml, renderPage } from "../../src/resolver/pages";
import { parseJsonString, JsonKind } from "../../src/resolver/json";
import { decimal } from "../../src/util/decimal";

function bytes(text: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(text));
}

describe("route API answers", () => {
  it("reads the backend of a /resolve answer", () => {
    const a = readResolveAnswer(bytes('{"host":"a.com","backend":"10.0.0.7:3000","match":"exact","pattern":"a.com","addresses":["10.0.0.7:3000"]}'))!;
    expect(a.backend).toBe("10.0.0.7:3000");
    expect(a.addresses).toBe("10.0.0.7:3000");
    expect(a.ttlMs).toBe(-1);
    // Without "addresses" (an API older than backends by name), an address backend is its own address.
    expect(readResolveAnswer(bytes('{"backend":"unix:/run/app.sock"}'))!.addresses).toBe("unix:/run/app.sock");
    expect(readResolveAnswer(bytes('{"backend":"app.internal:80"}'))!.addresses).toBe("");
    expect(readResolveAnswer(bytes('{"backend":"evil/path:80"}'))).toBeNull();
    expect(readResolveAnswer(bytes('{"backend":3}'))).toBeNull();
    expect(readResolveAnswer(bytes("not json"))).toBeNull();
  });

  it("reads the addresses and lifetime of a backend given by name", () => {
    const a = readResolveAnswer(bytes('{"backend":"localhost:3000","addresses":["127.0.0.1:3000","[::1]:3000"],"ttl_ms":30000}'))!;
    expect(a.backend).toBe("localhost:3000");
    expect(a.addresses).toBe("127.0.0.1:3000,[::1]:3000");
    expect(a.ttlMs).toBe(30000);
    const none = readResolveAnswer(bytes('{"backend":"gone.invalid:80","addresses":[],"ttl_ms":5000,"error":"gone.invalid does not resolve (ENOTFOUND)"}'))!;
    expect(none.addresses).toBe("");
    expect(none.error).toBe("gone.invalid does not resolve (ENOTFOUND)");
  });

  it("refuses addresses that are names, not strings, too many, or a bad lifetime", () => {
    expect(readResolveAnswer(bytes('{"backend":"a.b:80","addresses":["other.name:80"]}'))).toBeNull();
    expect(readResolveAnswer(bytes('{"backend":"a.b:80","addresses":["1.2.3.4:80,5.6.7.8:80"]}'))).toBeNull();
    expect(readResolveAnswer(bytes('{"backend":"a.b:80","addresses":[3]}'))).toBeNull();
    expect(readResolveAnswer(bytes('{"backend":"a.b:80","addresses":"1.2.3.4:80"}'))).toBeNull();
    expect(readResolveAnswer(bytes('{"backend":"a.b:80","addresses":["1.1.1.1:1","1.1.1.1:2","1.1.1.1:3","1.1.1.1:4","1.1.1.1:5","1.1.1.1:6","1.1.1.1:7","1.1.1.1:8","1.1.1.1:9"]}'))).toBeNull();
    expect(readResolveAnswer(bytes('{"backend":"a.b:80","addresses":["1.2.3.4:80"],"ttl_ms":-1}'))).toBeNull();
    expect(readResolveAnswer(bytes('{"backend":"a.b:80","addresses":["1.2.3.4:80"],"ttl_ms":1.5}'))).toBeNull();
  });

  it("reads a /changes batch, a reset, and refuses malformed ones", () => {
    const b = readChanges(bytes('{"seq":12,"changes":[{"seq":11,"op":"put","host":"a.com"},{"seq":12,"op":"delete","host":"*.b.com"}]}'))!;
    expect(b.seq).toBe(12);
    expect(b.reset).toBe(false);
    expect(b.hosts.length).toBe(2);
    expect(b.hosts[1]).toBe("*.b.com");
    const r = readChanges(bytes('{"seq":40,"reset":true}'))!;
    expect(r.reset).toBe(true);
    expect(r.seq).toBe(40);
    expect(readChanges(bytes('{"changes":[]}'))).toBeNull();
    expect(readChanges(bytes('{"seq":-1,"changes":[]}'))).toBeNull();
    expect(readChanges(bytes('{"seq":1,"changes":[{"op":"put"}]}'))).toBeNull();
  });
});

describe("backend shape", () => {
  it("accepts host:port, [v6]:port and unix paths only", () => {
    expect(isValidBackend("10.0.0.7:3000")).toBe(true);
    expect(isValidBackend("app.internal:80")).toBe(true);
    expect(isValidBackend("[::1]:8080")).toBe(true);
    expect(isValidBackend("unix:/run/app.sock")).toBe(true);
    expect(isValidBackend("10.0.0.7")).toBe(false);
    expect(isValidBackend("10.0.0.7:0")).toBe(false);
    expect(isValidBackend("10.0.0.7:70000")).toBe(false);
    expect(isValidBackend("a/b:80")).toBe(false);
    expect(isValidBackend("a b:80")).toBe(false);
    expect(isValidBackend("unix:/a?b")).toBe(false);
    expect(isValidBackend("unix:rel")).toBe(false);
    // The full grammar is checked against tests/vectors/backends.json (tests/filter/backend-vectors.test.ts).
  });
});

describe("error pages", () => {
  it("escapes the host everywhere it appears", () => {
    expect(escapeHtml("<a href=\"x\">&'")).toBe("&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    expect(renderPage("{host} / {host}", "a<b")).toBe("a&lt;b / a&lt;b");
    expect(renderPage("no placeholder", "x")).toBe("no placeholder");
  });
});

describe("json reader", () => {
  it("parses nested values and escapes", () => {
    const v = parseJsonString('{"a":[1,true,null,"x\\u00fc\\n"],"b":{"c":-20}}').value!;
    expect(v.kind).toBe(JsonKind.Object);
    const a = v.get("a")!;
    expect(a.items.length).toBe(4);
    expect(a.items[3].str).toBe("xü\n");
    expect(v.get("b")!.get("c")!.num).toBe(-20);
  });

  it("refuses malformed input and deep nesting", () => {
    expect(parseJsonString('{"a":1,}').value).toBeNull();
    expect(parseJsonString('{"a":1} x').value).toBeNull();
    expect(parseJsonString('"\x01"').value).toBeNull();
    expect(parseJsonString("[".repeat(40) + "]".repeat(40)).value).toBeNull();
    expect(parseJsonString("01").value).toBeNull();
  });

  it("bounds the number of values in a document", () => {
    expect(parseJsonString("[" + "0,".repeat(99_998) + "0]").value).not.toBeNull();
    const tooMany = parseJsonString("[" + "0,".repeat(100_000) + "0]");
    expect(tooMany.value).toBeNull();
    expect(tooMany.error.includes("too many values")).toBe(true);
  });

  it("formats decimals", () => {
    expect(decimal(0)).toBe("0");
    expect(decimal(1234567890123)).toBe("1234567890123");
  });
});
