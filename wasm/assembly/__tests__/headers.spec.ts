import { HeaderPair, serializeHeaders, deserializeHeaders } from "../../src/abi/headers";

function bytesOf(buf: ArrayBuffer): Array<u8> {
  const out = new Array<u8>();
  const view = Uint8Array.wrap(buf);
  for (let i = 0; i < view.length; i++) out.push(view[i]);
  return out;
}

describe("header-map serialization", () => {
  it("matches the spec's example", () => {
    const pairs = [new HeaderPair("a", "1"), new HeaderPair("b", "22")];
    const got = bytesOf(serializeHeaders(pairs));
    const want: Array<u8> = [
      2, 0, 0, 0,
      1, 0, 0, 0, 1, 0, 0, 0,
      1, 0, 0, 0, 2, 0, 0, 0,
      0x61, 0, 0x31, 0, 0x62, 0, 0x32, 0x32, 0,
    ];
    expect(got).toStrictEqual(want);
  });

  it("round-trips, including UTF-8 and empty values", () => {
    const pairs = [new HeaderPair(":authority", "bücher.de"), new HeaderPair("x-empty", "")];
    const back = deserializeHeaders(serializeHeaders(pairs))!;
    expect(back.length).toBe(2);
    expect(back[0].key).toBe(":authority");
    expect(back[0].value).toBe("bücher.de");
    expect(back[1].value).toBe("");
  });

  it("accepts the empty forms", () => {
    expect(deserializeHeaders(new ArrayBuffer(0))!.length).toBe(0);
    expect(deserializeHeaders(new ArrayBuffer(1))!.length).toBe(0);
    expect(deserializeHeaders(new ArrayBuffer(4))!.length).toBe(0);
  });

  it("refuses counts and lengths that run past the end", () => {
    const good = serializeHeaders([new HeaderPair("a", "1")]);
    const p = changetype<usize>(good);
    const tooMany = good.slice(0);
    store<u32>(changetype<usize>(tooMany), 1000);
    expect(deserializeHeaders(tooMany)).toBeNull();
    const longKey = good.slice(0);
    store<u32>(changetype<usize>(longKey), 50, 4);
    expect(deserializeHeaders(longKey)).toBeNull();
    const noNul = good.slice(0);
    store<u8>(changetype<usize>(noNul), 0x7a, 13);
    expect(deserializeHeaders(noNul)).toBeNull();
    expect(deserializeHeaders(good.slice(0, 3))).toBeNull();
    expect(p).toBeGreaterThan(0);
  });
});
