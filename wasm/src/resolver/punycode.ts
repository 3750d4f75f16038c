// Punycode encoder, RFC 3492 section 6.3 (encoding only: the filter turns
// Unicode labels into ASCII; it never needs to decode).

const BASE: u32 = 36;
const TMIN: u32 = 1;
const TMAX: u32 = 26;
const SKEW: u32 = 38;
const DAMP: u32 = 700;
const INITIAL_BIAS: u32 = 72;
const INITIAL_N: u32 = 128;

function digit(d: u32): i32 {
  // 0..25 → a..z, 26..35 → 0..9 (lowercase output, as DNS wants)
  return d < 26 ? <i32>(0x61 + d) : <i32>(0x30 + d - 26);
}

function adapt(delta: u32, numPoints: u32, firstTime: bool): u32 {
  delta = firstTime ? delta / DAMP : delta >> 1;
  delta += delta / numPoints;
  let k: u32 = 0;
  while (delta > ((BASE - TMIN) * TMAX) >> 1) {
    delta /= BASE - TMIN;
    k += BASE;
  }
  return k + (BASE - TMIN + 1) * delta / (delta + SKEW);
}

/**
 * Encodes code points to Punycode (without the "xn--" prefix) into `out`, at
 * most `cap` bytes.  Returns the length, or -1 on arithmetic overflow (only
 * reachable with absurdly long input) or when the result would not fit.
 */
export function punycodeInto(input: Array<u32>, out: usize, cap: i32): i32 {
  let len = 0;
  let basic: u32 = 0;
  for (let i = 0; i < input.length; i++) {
    if (input[i] < 0x80) {
      if (len >= cap) return -1;
      store<u8>(out + <usize>(len++), <u8>input[i]);
      basic++;
    }
  }
  let h = basic;
  if (basic > 0) {
    if (len >= cap) return -1;
    store<u8>(out + <usize>(len++), 0x2d);
  }
  let n = INITIAL_N;
  let delta: u32 = 0;
  let bias = INITIAL_BIAS;
  const total = <u32>input.length;
  while (h < total) {
    let m: u32 = u32.MAX_VALUE;
    for (let i = 0; i < input.length; i++) {
      const c = input[i];
      if (c >= n && c < m) m = c;
    }
    const step = <u64>(m - n) * <u64>(h + 1);
    if (<u64>delta + step > <u64>u32.MAX_VALUE) return -1;
    delta += <u32>step;
    n = m;
    for (let i = 0; i < input.length; i++) {
      const c = input[i];
      if (c < n) {
        if (delta == u32.MAX_VALUE) return -1;
        delta++;
      }
      if (c == n) {
        let q = delta;
        for (let k = BASE; ; k += BASE) {
          const t = k <= bias ? TMIN : (k >= bias + TMAX ? TMAX : k - bias);
          if (q < t) break;
          if (len >= cap) return -1;
          store<u8>(out + <usize>(len++), <u8>digit(t + (q - t) % (BASE - t)));
          q = (q - t) / (BASE - t);
        }
        if (len >= cap) return -1;
        store<u8>(out + <usize>(len++), <u8>digit(q));
        bias = adapt(delta, h + 1, h == basic);
        delta = 0;
        h++;
      }
    }
    delta++;
    n++;
  }
  return len;
}

/** punycodeInto as a string (tests and tools); null when it fails. */
export function punycodeEncode(input: Array<u32>): string | null {
  const buf = new ArrayBuffer(1024);
  const n = punycodeInto(input, changetype<usize>(buf), buf.byteLength);
  return n < 0 ? null : String.UTF8.decodeUnsafe(changetype<usize>(buf), <usize>n);
}
