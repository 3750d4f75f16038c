// Typed wrappers over the raw imports: strings in, strings/buffers out,
// statuses checked in one place.
import * as abi from "./imports";
import { Status, MapType, StreamType, LogLevel } from "./types";
import { RETURN_A, RETURN_B, RETURN_C, takeReturnedBuffer, clearReturnSlots, returnedPtr, returnedSize, insideMemory } from "./memory";
import { HeaderPair, serializeHeaders } from "./headers";

export function log(level: u32, message: string): void {
  const bytes = String.UTF8.encode(message);
  abi.proxy_log(level, changetype<usize>(bytes), <usize>bytes.byteLength);
}

export function logInfo(message: string): void { log(LogLevel.Info, message); }
export function logWarn(message: string): void { log(LogLevel.Warn, message); }
export function logError(message: string): void { log(LogLevel.Error, message); }

/** Host time in nanoseconds since 1970 (0 if the host refuses). */
export function nowNs(): u64 {
  store<u64>(RETURN_A, 0);
  if (abi.proxy_get_current_time_nanoseconds(RETURN_A) != Status.Ok) return 0;
  return load<u64>(RETURN_A);
}

/** Host time in milliseconds since 1970 (0 if the host refuses). */
export function nowMs(): u64 {
  return nowNs() / 1_000_000;
}

export function setTickPeriodMs(ms: u32): void {
  abi.proxy_set_tick_period_milliseconds(ms);
}

export function getBufferBytes(bufferType: u32, start: usize, maxSize: usize): ArrayBuffer | null {
  clearReturnSlots();
  if (abi.proxy_get_buffer_bytes(bufferType, start, maxSize, RETURN_A, RETURN_B) != Status.Ok) return null;
  return takeReturnedBuffer();
}

export function sendLocalResponse(statusCode: u32, details: string, body: ArrayBuffer, headers: Array<HeaderPair>): u32 {
  const d = String.UTF8.encode(details);
  const h = serializeHeaders(headers);
  return abi.proxy_send_local_response(
    statusCode, changetype<usize>(d), <usize>d.byteLength,
    changetype<usize>(body), <usize>body.byteLength,
    changetype<usize>(h), <usize>h.byteLength, -1);
}

/** Starts a callout; returns its token, or 0 when the host refused it. */
export function httpCall(cluster: string, headers: Array<HeaderPair>, timeoutMs: u32): u32 {
  const c = String.UTF8.encode(cluster);
  const h = serializeHeaders(headers);
  store<u32>(RETURN_A, 0);
  const status = abi.proxy_http_call(
    changetype<usize>(c), <usize>c.byteLength,
    changetype<usize>(h), <usize>h.byteLength,
    0, 0, 0, 0, timeoutMs, RETURN_A);
  if (status != Status.Ok) return 0;
  return load<u32>(RETURN_A);
}

export function continueRequest(): u32 {
  return abi.proxy_continue_stream(StreamType.HttpRequest);
}

export function setEffectiveContext(id: u32): bool {
  return abi.proxy_set_effective_context(id) == Status.Ok;
}

export class SharedValue {
  constructor(public data: ArrayBuffer, public cas: u32) {}
}

export function getSharedData(key: ArrayBuffer): SharedValue | null {
  clearReturnSlots();
  const status = abi.proxy_get_shared_data(changetype<usize>(key), <usize>key.byteLength, RETURN_A, RETURN_B, RETURN_C);
  if (status != Status.Ok) return null;
  const cas = load<u32>(RETURN_C);
  const data = takeReturnedBuffer();
  if (data === null) return null;
  return new SharedValue(data, cas);
}

/** Returns the proxy-wasm status (Ok, CasMismatch, ...). */
export function setSharedData(key: ArrayBuffer, value: ArrayBuffer, cas: u32): u32 {
  return abi.proxy_set_shared_data(changetype<usize>(key), <usize>key.byteLength,
    changetype<usize>(value), <usize>value.byteLength, cas);
}

/** Sets a single-segment property path (e.g. "backend") to raw bytes. */
export function setPropertyBytes(path: ArrayBuffer, valuePtr: usize, valueSize: usize): u32 {
  return abi.proxy_set_property(changetype<usize>(path), <usize>path.byteLength, valuePtr, valueSize);
}

export { MapType };

// Zero-copy variants for the cache-hit path: the value stays where the host
// put it (returnedPtr()/returnedSize(), valid until the callback ends).

/** Looks up a header; true when found and inside our memory. */
export function getHeaderRaw(mapType: u32, keyPtr: usize, keySize: usize): bool {
  clearReturnSlots();
  if (abi.proxy_get_header_map_value(mapType, keyPtr, keySize, RETURN_A, RETURN_B) != Status.Ok) return false;
  return returnedSize() == 0 || insideMemory(returnedPtr(), returnedSize());
}

/** Looks up shared data; true when found and inside our memory.  CAS in RETURN_C. */
export function getSharedRaw(keyPtr: usize, keySize: usize): bool {
  clearReturnSlots();
  if (abi.proxy_get_shared_data(keyPtr, keySize, RETURN_A, RETURN_B, RETURN_C) != Status.Ok) return false;
  return returnedSize() == 0 || insideMemory(returnedPtr(), returnedSize());
}

export function returnedCas(): u32 {
  return load<u32>(RETURN_C);
}
