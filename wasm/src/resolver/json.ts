// A small, strict JSON reader for the three documents the filter reads: its
// plugin configuration, /resolve answers and /changes answers.
// Written by hand because no AssemblyScript JSON library installs for
// AssemblyScript 0.28 without a compiler transform.  Numbers are kept exact only
// as integers (|n| ≤ 2^53); anything with a fraction or exponent is flagged
// non-integer, which every field we read rejects.

import { decimal } from "../util/decimal";

export namespace JsonKind {
  export const Null: i32 = 0;
  export const Bool: i32 = 1;
  export const Number: i32 = 2;
  export const String: i32 = 3;
  export const Array: i32 = 4;
  export const Object: i32 = 5;
}

const MAX_DEPTH = 16;
/** Values per document: bounds the memory a hostile or broken answer can cost. */
const MAX_VALUES = 100_000;

// Scalars share these (never written to): only arrays and objects get their own.
const NO_ITEMS: Array<JsonValue> = [];
const NO_KEYS: Array<string> = [];

export class JsonValue {
  kind: i32 = JsonKind.Null;
  bool: bool = false;
  num: f64 = 0;
  isInteger: bool = false;
  str: string = "";
  items: Array<JsonValue> = NO_ITEMS;
  keys: Array<string> = NO_KEYS;

  /** Object member by key (last one wins, as in JSON.parse); null if absent or not an object. */
  get(key: string): JsonValue | null {
    if (this.kind != JsonKind.Object) return null;
    for (let i = this.keys.length - 1; i >= 0; i--) {
      if (unchecked(this.keys[i]) == key) return unchecked(this.items[i]);
    }
    return null;
  }
}

export class JsonResult {
  constructor(public value: JsonValue | null, public error: string) {}
}

class Reader {
  pos: i32 = 0;
  values: i32 = 0;
  error: string = "";
  constructor(public bytes: Uint8Array) {}

  fail(what: string): JsonValue | null {
    if (this.error.length == 0) this.error = what + " at byte " + decimal(this.pos);
    return null;
  }

  peek(): i32 { return this.pos < this.bytes.length ? <i32>this.bytes[this.pos] : -1; }

  skipSpace(): void {
    while (this.pos < this.bytes.length) {
      const c = this.bytes[this.pos];
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.pos++;
    }
  }

  literal(word: string): bool {
    for (let i = 0; i < word.length; i++) {
      if (this.pos + i >= this.bytes.length || <i32>this.bytes[this.pos + i] != word.charCodeAt(i)) return false;
    }
    this.pos += word.length;
    return true;
  }

  value(depth: i32): JsonValue | null {
    if (depth > MAX_DEPTH) return this.fail("nesting too deep");
    if (++this.values > MAX_VALUES) return this.fail("too many values");
    this.skipSpace();
    const c = this.peek();
    const v = new JsonValue();
    if (c == 0x7b) return this.object(depth);
    if (c == 0x5b) return this.array(depth);
    if (c == 0x22) {
      const s = this.string();
      if (s === null) return null;
      v.kind = JsonKind.String;
      v.str = s;
      return v;
    }
    if (c == 0x74 && this.literal("true")) { v.kind = JsonKind.Bool; v.bool = true; return v; }
    if (c == 0x66 && this.literal("false")) { v.kind = JsonKind.Bool; return v; }
    if (c == 0x6e && this.literal("null")) return v;
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    return this.fail("unexpected character");
  }

  object(depth: i32): JsonValue | null {
    const v = new JsonValue();
    v.kind = JsonKind.Object;
    v.items = [];
    v.keys = [];
    this.pos++;
    this.skipSpace();
    if (this.peek() == 0x7d) { this.pos++; return v; }
    while (true) {
      this.skipSpace();
      if (this.peek() != 0x22) return this.fail("expected a string key");
      const key = this.string();
      if (key === null) return null;
      this.skipSpace();
      if (this.peek() != 0x3a) return this.fail("expected ':'");
      this.pos++;
      const item = this.value(depth + 1);
      if (item === null) return null;
      v.keys.push(key);
      v.items.push(item);
      this.skipSpace();
      const c = this.peek();
      this.pos++;
      if (c == 0x2c) continue;
      if (c == 0x7d) return v;
      this.pos--;
      return this.fail("expected ',' or '}'");
    }
  }

  array(depth: i32): JsonValue | null {
    const v = new JsonValue();
    v.kind = JsonKind.Array;
    v.items = [];
    this.pos++;
    this.skipSpace();
    if (this.peek() == 0x5d) { this.pos++; return v; }
    while (true) {
      const item = this.value(depth + 1);
      if (item === null) return null;
      v.items.push(item);
      this.skipSpace();
      const c = this.peek();
      this.pos++;
      if (c == 0x2c) continue;
      if (c == 0x5d) return v;
      this.pos--;
      return this.fail("expected ',' or ']'");
    }
  }

  hex4(): i32 {
    if (this.pos + 4 > this.bytes.length) return -1;
    let n = 0;
    for (let i = 0; i < 4; i++) {
      const c = <i32>this.bytes[this.pos + i];
      let d = -1;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
      if (d < 0) return -1;
      n = (n << 4) | d;
    }
    this.pos += 4;
    return n;
  }

  string(): string | null {
    this.pos++; // opening quote
    let out = "";
    let runStart = this.pos;
    while (true) {
      if (this.pos >= this.bytes.length) { this.fail("unterminated string"); return null; }
      const c = this.bytes[this.pos];
      if (c == 0x22) {
        out += String.UTF8.decodeUnsafe(this.bytes.dataStart + <usize>runStart, <usize>(this.pos - runStart));
        this.pos++;
        return out;
      }
      if (c < 0x20) { this.fail("control character in string"); return null; }
      if (c != 0x5c) { this.pos++; continue; }
      out += String.UTF8.decodeUnsafe(this.bytes.dataStart + <usize>runStart, <usize>(this.pos - runStart));
      this.pos++;
      const e = this.peek();
      this.pos++;
      if (e == 0x22) out += "\"";
      else if (e == 0x5c) out += "\\";
      else if (e == 0x2f) out += "/";
      else if (e == 0x62) out += "\b";
      else if (e == 0x66) out += "\f";
      else if (e == 0x6e) out += "\n";
      else if (e == 0x72) out += "\r";
      else if (e == 0x74) out += "\t";
      else if (e == 0x75) {
        const u = this.hex4();
        if (u < 0) { this.fail("bad \\u escape"); return null; }
        out += String.fromCharCode(u);
      } else { this.pos--; this.fail("bad escape"); return null; }
      runStart = this.pos;
    }
  }

  number(): JsonValue | null {
    const v = new JsonValue();
    v.kind = JsonKind.Number;
    let negative = false;
    if (this.peek() == 0x2d) { negative = true; this.pos++; }
    const first = this.peek();
    if (first < 0x30 || first > 0x39) return this.fail("bad number");
    let n: f64 = 0;
    let digits = 0;
    if (first == 0x30) { this.pos++; digits = 1; }
    else {
      while (this.peek() >= 0x30 && this.peek() <= 0x39) {
        n = n * 10 + <f64>(this.peek() - 0x30);
        this.pos++;
        digits++;
      }
    }
    let integer = digits <= 15;
    if (this.peek() == 0x2e) {
      integer = false;
      this.pos++;
      if (this.peek() < 0x30 || this.peek() > 0x39) return this.fail("bad number");
      while (this.peek() >= 0x30 && this.peek() <= 0x39) this.pos++;
    }
    if (this.peek() == 0x65 || this.peek() == 0x45) {
      integer = false;
      this.pos++;
      if (this.peek() == 0x2b || this.peek() == 0x2d) this.pos++;
      if (this.peek() < 0x30 || this.peek() > 0x39) return this.fail("bad number");
      while (this.peek() >= 0x30 && this.peek() <= 0x39) this.pos++;
    }
    v.num = negative ? -n : n;
    v.isInteger = integer;
    return v;
  }
}

export function parseJson(bytes: Uint8Array): JsonResult {
  const r = new Reader(bytes);
  const v = r.value(0);
  if (v === null) return new JsonResult(null, r.error);
  r.skipSpace();
  if (r.pos != bytes.length) {
    r.fail("trailing characters");
    return new JsonResult(null, r.error);
  }
  return new JsonResult(v, "");
}

export function parseJsonString(text: string): JsonResult {
  return parseJson(Uint8Array.wrap(String.UTF8.encode(text)));
}
