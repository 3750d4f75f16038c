// Simple (1:1) lowercase for the scripts most IDN hosts use, instead of
// AssemblyScript's String#toLowerCase, whose Unicode tables alone would take a
// third of the filter's 32 KiB budget.  Covered: ASCII, Latin-1 Supplement,
// Latin Extended-A, Greek, Cyrillic (U+0400–U+042F).  Fullwidth ASCII
// (U+FF01–U+FF5E) is first mapped to ASCII, as UTS#46 does.
// Everything else is returned unchanged.  Pure code.

export function lowerCodePoint(c: u32): u32 {
  if (c >= 0xff01 && c <= 0xff5e) c -= 0xfee0;
  if (c < 0x80) return c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
  // Latin-1: À–Þ except ×
  if (c >= 0xc0 && c <= 0xde) return c == 0xd7 ? c : c + 0x20;
  if (c >= 0x100 && c <= 0x17f) {
    if (c == 0x130) return c; // İ → "i̇" is 1:2; normalize.ts expands it
    if (c == 0x178) return 0xff; // Ÿ → ÿ
    // Pairs with the capital on the even code point ...
    if ((c <= 0x137 || (c >= 0x14a && c <= 0x177)) && (c & 1) == 0) return c + 1;
    // ... and on the odd one.
    if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e)) && (c & 1) == 1) return c + 1;
    return c;
  }
  if (c >= 0x386 && c <= 0x3ab) {
    if (c == 0x386) return 0x3ac;
    if (c >= 0x388 && c <= 0x38a) return c + 0x25;
    if (c == 0x38c) return 0x3cc;
    if (c == 0x38e || c == 0x38f) return c + 0x3f;
    if (c >= 0x391 && c != 0x3a2) return c + 0x20;
    return c;
  }
  if (c >= 0x400 && c <= 0x40f) return c + 0x50;
  if (c >= 0x410 && c <= 0x42f) return c + 0x20;
  return c;
}
