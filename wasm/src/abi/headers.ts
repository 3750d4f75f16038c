// Header-map (de)serialization, proxy-wasm 0.2.1 "Serialization":
//   u32 count, then count × (u32 keyLen, u32 valueLen), then for each pair
//   key bytes, NUL, value bytes, NUL.  Little-endian.  An empty map may arrive
//   as zero bytes, a single 0x00 byte, or a zero count.
// Pure code (no host calls) so as-pect can test it.

export class HeaderPair {
  constructor(public key: string, public value: string) {}
}

/** Serializes pairs; keys and values are encoded as UTF-8. */
export function serializeHeaders(pairs: Array<HeaderPair>): ArrayBuffer {
  const n = pairs.length;
  let size = 4 + 8 * n;
  for (let i = 0; i < n; i++) {
    size += String.UTF8.byteLength(unchecked(pairs[i]).key, true) + String.UTF8.byteLength(unchecked(pairs[i]).value, true);
  }
  const out = new ArrayBuffer(size);
  const base = changetype<usize>(out);
  store<u32>(base, <u32>n);
  let data = base + 4 + 8 * <usize>n;
  for (let i = 0; i < n; i++) {
    const k = unchecked(pairs[i]).key;
    const v = unchecked(pairs[i]).value;
    const sizes = base + 4 + 8 * <usize>i;
    // encodeUnsafe with nullTerminated writes the NUL and counts it.
    const kLen = String.UTF8.encodeUnsafe(changetype<usize>(k), k.length, data, true);
    store<u32>(sizes, <u32>(kLen - 1));
    data += kLen;
    const vLen = String.UTF8.encodeUnsafe(changetype<usize>(v), v.length, data, true);
    store<u32>(sizes, <u32>(vLen - 1), 4);
    data += vLen;
  }
  return out;
}

/**
 * Parses a serialized map. Returns null when the bytes are not a well-formed
 * map (counts or lengths running past the end, missing NUL terminators).
 */
export function deserializeHeaders(buf: ArrayBuffer): Array<HeaderPair> | null {
  const size = <u64>buf.byteLength;
  const out = new Array<HeaderPair>();
  if (size == 0 || (size == 1 && load<u8>(changetype<usize>(buf)) == 0)) return out;
  if (size < 4) return null;
  const base = changetype<usize>(buf);
  const n = <u64>load<u32>(base);
  // Each pair needs at least 8 bytes of sizes and 2 NULs.
  if (4 + n * 10 > size) return null;
  let sizes = base + 4;
  let offset: u64 = 4 + 8 * n;
  for (let i: u64 = 0; i < n; i++) {
    const kLen = <u64>load<u32>(sizes);
    const vLen = <u64>load<u32>(sizes + 4);
    sizes += 8;
    if (offset + kLen + 1 + vLen + 1 > size) return null;
    const kPtr = base + <usize>offset;
    if (load<u8>(kPtr + <usize>kLen) != 0) return null;
    offset += kLen + 1;
    const vPtr = base + <usize>offset;
    if (load<u8>(vPtr + <usize>vLen) != 0) return null;
    offset += vLen + 1;
    out.push(new HeaderPair(
      String.UTF8.decodeUnsafe(kPtr, <usize>kLen),
      String.UTF8.decodeUnsafe(vPtr, <usize>vLen)));
  }
  return out;
}
