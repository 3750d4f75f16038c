import { normalizeHost } from "../../src/resolver/normalize";
import { punycodeEncode } from "../../src/resolver/punycode";

function norm(input: string): string {
  const out = normalizeHost(input);
  return out === null ? "<error>" : out;
}

function cps(text: string): Array<u32> {
  const out = new Array<u32>();
  for (let i = 0; i < text.length; i++) {
    const cp = <u32>text.codePointAt(i);
    out.push(cp);
    if (cp > 0xffff) i++;
  }
  return out;
}

describe("punycode (RFC 3492)", () => {
  it("encodes the RFC's and common samples", () => {
    expect(punycodeEncode(cps("bücher"))).toBe("bcher-kva");
    expect(punycodeEncode(cps("münchen"))).toBe("mnchen-3ya");
    expect(punycodeEncode(cps("日本"))).toBe("wgv71a");
    // RFC 3492 7.1 (L) and (A)
    expect(punycodeEncode(cps("3年B組金八先生"))).toBe("3B-ww4c5e180e575a65lsy2b");
    expect(punycodeEncode(cps("ليهمابتكلموشعربي؟"))).toBe("egbpdaj6bu4bxfgehfvwxn");
  });
});

describe("host normalization", () => {
  it("lowercases, drops the port and one trailing dot", () => {
    expect(norm("Example.COM")).toBe("example.com");
    expect(norm("example.com.")).toBe("example.com");
    expect(norm("Example.COM.:8080")).toBe("example.com");
    expect(norm("x")).toBe("x");
  });

  it("punycodes non-ASCII labels", () => {
    expect(norm("bücher.de")).toBe("xn--bcher-kva.de");
    expect(norm("BÜCHER.de")).toBe("xn--bcher-kva.de");
    expect(norm("ΑΘΗΝΑ.gr")).toBe("xn--mxaard0a.gr");
    expect(norm("ПРИМЕР.рф")).toBe("xn--e1afmkfd.xn--p1ai");
    expect(norm("İstanbul.tr")).toBe("xn--istanbul-o0e.tr");
    expect(norm("straße.de")).toBe("xn--strae-oqa.de");
    expect(norm("日本。jp")).toBe("xn--wgv71a.jp");
  });

  it("maps fullwidth ASCII to ASCII", () => {
    expect(norm("ＥＸＡＭＰＬＥ.com")).toBe("example.com");
  });

  it("rejects what is not a DNS name", () => {
    expect(norm("")).toBe("<error>");
    expect(norm(".")).toBe("<error>");
    expect(norm("a..b")).toBe("<error>");
    expect(norm("example.com..")).toBe("<error>");
    expect(norm("-a.com")).toBe("<error>");
    expect(norm("a-.com")).toBe("<error>");
    expect(norm("a_b.com")).toBe("<error>");
    expect(norm("ex ample.com")).toBe("<error>");
    expect(norm("example.com:")).toBe("<error>");
    expect(norm("example.com:0")).toBe("<error>");
    expect(norm("example.com:65536")).toBe("<error>");
    expect(norm("example.com:8a")).toBe("<error>");
    expect(norm("[::1]:80")).toBe("<error>");
    expect(norm("*.example.com")).toBe("<error>");
    expect(norm("a<b>.com")).toBe("<error>");
  });

  it("limits labels to 63 and names to 253 characters", () => {
    const l63 = "a".repeat(63);
    expect(norm(l63 + ".com")).toBe(l63 + ".com");
    expect(norm("a".repeat(64) + ".com")).toBe("<error>");
    const name253 = l63 + "." + l63 + "." + l63 + "." + "b".repeat(61);
    expect(norm(name253)).toBe(name253);
    expect(norm(name253 + ".")).toBe(name253);
    expect(norm(name253 + "c")).toBe("<error>");
  });

  it("rejects malformed UTF-8", () => {
    const bad = new Uint8Array(3);
    bad[0] = 0x61; bad[1] = 0xc3; bad[2] = 0x28;
    expect(normalizeHostBufferOrError(bad.buffer)).toBe("<error>");
    const overlong = new Uint8Array(2);
    overlong[0] = 0xc0; overlong[1] = 0xae;
    expect(normalizeHostBufferOrError(overlong.buffer)).toBe("<error>");
    const truncated = new Uint8Array(2);
    truncated[0] = 0x61; truncated[1] = 0xe6;
    expect(normalizeHostBufferOrError(truncated.buffer)).toBe("<error>");
  });
});

import { normalizeHostBuffer } from "../../src/resolver/normalize";

function normalizeHostBufferOrError(buf: ArrayBuffer): string {
  const out = normalizeHostBuffer(buf);
  return out === null ? "<error>" : out;
}
