// Decimal formatting for log lines and URLs.  The standard library's
// number-to-string pulls in ~2 KiB of lookup tables; this loop is enough.
export function decimal(n: u64): string {
  if (n == 0) return "0";
  let out = "";
  while (n > 0) {
    out = String.fromCharCode(<i32>(0x30 + n % 10)) + out;
    n /= 10;
  }
  return out;
}
