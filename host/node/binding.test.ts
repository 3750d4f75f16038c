// The Node binding against a small resolver-like filter written in WAT:
// shared-data hit → property, miss → http call → property or local response,
// ticks, traps, deadline, clock, CAS. Run: npx ava host/node/binding.test.ts
import test from 'ava'
import { FilterHost, SharedData, type Outcome } from './index.js'

/** The first element, failing loudly when there is none. */
function first<T>(list: T[]): T {
  if (list.length === 0) throw new Error('expected at least one element')
  return list[0] as T
}

/** proxy-wasm serialized header map, as a WAT data-string body. */
function watMap(pairs: Array<[string, string]>): { data: string; len: number } {
  const parts: Buffer[] = []
  const u32 = (n: number) => {
    const b = Buffer.alloc(4)
    b.writeUInt32LE(n)
    return b
  }
  parts.push(u32(pairs.length))
  for (const [k, v] of pairs) parts.push(u32(Buffer.byteLength(k)), u32(Buffer.byteLength(v)))
  for (const [k, v] of pairs) parts.push(Buffer.from(k), Buffer.from([0]), Buffer.from(v), Buffer.from([0]))
  const bytes = Buffer.concat(parts)
  return { data: [...bytes].map((b) => '\\' + b.toString(16).padStart(2, '0')).join(''), len: bytes.length }
}

const call = watMap([[':method', 'GET'], [':path', '/resolve'], [':authority', 'route-api']])
const textPlain = watMap([['content-type', 'text/plain']])

const FILTER = `(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $get_header (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_shared_data" (func $get_shared (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_shared_data" (func $set_shared (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_property" (func $set_property (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_http_call" (func $http_call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $get_buffer (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_send_local_response" (func $local_response (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_continue_stream" (func $continue (param i32) (result i32)))
  (import "env" "proxy_set_tick_period_milliseconds" (func $set_tick (param i32) (result i32)))
  (import "env" "proxy_get_current_time_nanoseconds" (func $now (param i32) (result i32)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 65536))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (local.get $p))
  (data (i32.const 2048) ":authority")    ;; 10
  (data (i32.const 2064) "ngx\\00backend") ;; 11
  (data (i32.const 2080) "route_api")     ;; 9
  (data (i32.const 2096) "no route")      ;; 8
  (data (i32.const 2112) "tick")          ;; 4
  (data (i32.const 2128) "now")           ;; 3
  (data (i32.const 2144) "configured")    ;; 10
  (data (i32.const 2304) "${call.data}")
  (data (i32.const 2560) "${textPlain.data}")
  (func $dispatch
    (drop (call $http_call (i32.const 2080) (i32.const 9) (i32.const 2304) (i32.const ${call.len})
      (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 250) (i32.const 1020))))
  (func (export "proxy_on_configure") (param i32 $size i32) (result i32)
    (drop (call $get_buffer (i32.const 7) (i32.const 0) (local.get $size) (i32.const 1000) (i32.const 1004)))
    (drop (call $log (i32.const 2) (i32.load (i32.const 1000)) (i32.load (i32.const 1004))))
    (drop (call $set_tick (i32.const 500)))
    (i32.const 1))
  (func (export "proxy_on_tick") (param i32)
    (drop (call $log (i32.const 1) (i32.const 2112) (i32.const 4)))
    (call $dispatch))
  (func (export "proxy_on_request_headers") (param i32) (param $n i32) (param i32) (result i32)
    (if (i32.eq (local.get $n) (i32.const 3)) (then unreachable))
    (if (i32.eq (local.get $n) (i32.const 4)) (then (loop $forever (br $forever))))
    (drop (call $now (i32.const 1040)))
    (drop (call $set_shared (i32.const 2128) (i32.const 3) (i32.const 1040) (i32.const 8) (i32.const 0)))
    (drop (call $get_header (i32.const 0) (i32.const 2048) (i32.const 10) (i32.const 1008) (i32.const 1012)))
    (if (i32.eqz (call $get_shared (i32.load (i32.const 1008)) (i32.load (i32.const 1012)) (i32.const 1024) (i32.const 1028) (i32.const 1032)))
      (then
        (drop (call $set_property (i32.const 2064) (i32.const 11) (i32.load (i32.const 1024)) (i32.load (i32.const 1028))))
        (return (i32.const 0))))
    (call $dispatch)
    (i32.const 1))
  (func (export "proxy_on_http_call_response") (param i32 i32) (param $headers i32) (param $body i32) (param i32)
    (if (i32.eqz (local.get $headers)) (then
      (drop (call $local_response (i32.const 503) (i32.const 0) (i32.const 0) (i32.const 2096) (i32.const 8)
        (i32.const 2560) (i32.const ${textPlain.len}) (i32.const -1)))
      (return)))
    (drop (call $get_buffer (i32.const 4) (i32.const 0) (local.get $body) (i32.const 1024) (i32.const 1028)))
    (drop (call $set_property (i32.const 2064) (i32.const 11) (i32.load (i32.const 1024)) (i32.load (i32.const 1028))))
    (drop (call $continue (i32.const 0))))
)`.replace('(param i32 $size i32)', '(param i32) (param $size i32)')

const wasm = Buffer.from(FILTER)

test('cache hit: the backend comes out as a property, from a store shared by hosts', (t) => {
  const shared = new SharedData()
  t.is(shared.set('a.example', Buffer.from('10.0.0.7:3000'), 0), 'ok')
  const one = new FilterHost(wasm, { shared, pluginConfig: 'configured' })
  const two = new FilterHost(wasm, { shared })
  for (const host of [one, two]) {
    const out = host.request([[':authority', 'a.example'], [':path', '/']])
    t.is(out.action, 'continue')
    t.is(out.properties['ngx.backend'], '10.0.0.7:3000')
    t.deepEqual(out.httpCalls, [])
    t.true(out.id > 1)
    host.finishRequest(out.id)
  }
})

test('cache miss: http call, then the answer resumes the request', (t) => {
  const host = new FilterHost(wasm)
  const out = host.request([[':authority', 'b.example']])
  t.is(out.action, 'pause')
  t.is(out.httpCalls.length, 1)
  const callOut = first(out.httpCalls)
  t.is(callOut.upstream, 'route_api')
  t.is(callOut.timeoutMs, 250)
  t.deepEqual(callOut.headers, [[':method', 'GET'], [':path', '/resolve'], [':authority', 'route-api']])
  const outcomes: Outcome[] = host.deliverHttpCallResponse(callOut.token, { status: 200, body: '10.0.0.9:80' })
  t.is(outcomes.length, 1)
  const resumed = first(outcomes)
  t.is(resumed.id, out.id)
  t.is(resumed.action, 'continue')
  t.is(resumed.properties['ngx.backend'], '10.0.0.9:80')
  t.throws(() => host.deliverHttpCallResponse(callOut.token, null), { message: /unknown http call token/ })
})

test('failed call: the filter answers with a local response', (t) => {
  const host = new FilterHost(wasm)
  const out = host.request([[':authority', 'c.example']])
  const resumed = first(host.deliverHttpCallResponse(first(out.httpCalls).token, null))
  t.is(resumed.action, 'local_response')
  t.deepEqual(resumed.localResponse, { status: 503, body: 'no route', headers: [['content-type', 'text/plain']] })
})

test('ticks run on the root context and their calls answer there', (t) => {
  const host = new FilterHost(wasm, { pluginConfig: 'configured' })
  t.is(host.tickPeriodMs, 500)
  const tick = host.tick()
  t.is(tick.id, 1)
  t.deepEqual(tick.logs, [{ level: 'debug', message: 'tick' }])
  const root = first(host.deliverHttpCallResponse(first(tick.httpCalls).token, { body: 'x' }))
  t.is(root.id, 1)
  t.is(root.properties['ngx.backend'], 'x')
})

test('a trap costs one request; the next one runs on a fresh instance', (t) => {
  const host = new FilterHost(wasm)
  const bad = host.request([['a', '1'], ['b', '2'], ['c', '3']])
  t.is(bad.action, 'trap')
  t.regex(bad.error ?? '', /proxy_on_request_headers/)
  t.is(host.trapCount, 1)
  const loop = host.request([['a', '1'], ['b', '2'], ['c', '3'], ['d', '4']])
  t.is(loop.action, 'trap')
  t.regex(loop.error ?? '', /deadline/)
  const shared = new SharedData()
  shared.set('d.example', Buffer.from('10.1.1.1:1'), 0)
  const ok = new FilterHost(wasm, { shared, deadlineMs: 5 }).request([[':authority', 'd.example']])
  t.is(ok.action, 'continue')
  t.is(host.request([[':authority', 'z.example']]).action, 'pause')
})

test('the clock is the one the test sets', (t) => {
  const shared = new SharedData()
  const host = new FilterHost(wasm, { shared })
  host.setTimeMs(1_700_000_000_000)
  host.request([[':authority', 'e.example']])
  t.is(shared.get('now')?.value.readBigUInt64LE(), 1_700_000_000_000_000_000n)
})

test('shared data CAS: 0 is unconditional, anything else must match', (t) => {
  const s = new SharedData()
  t.is(s.get('k'), null)
  t.is(s.set('k', Buffer.from('1'), 5), 'cas_mismatch')
  t.is(s.set('k', Buffer.from('1'), 0), 'ok')
  const { cas } = s.get('k')!
  t.is(s.set('k', Buffer.from('2'), cas), 'ok')
  t.is(s.set('k', Buffer.from('3'), cas), 'cas_mismatch')
  t.is(s.get('k')!.value.toString(), '2')
  t.is(s.size, 1)
})

test('loading errors are clear', (t) => {
  t.throws(() => new FilterHost(Buffer.from(FILTER.replace('proxy_abi_version_0_2_1', 'proxy_abi_version_0_2_0'))), {
    message: /proxy_abi_version_0_2_0/,
  })
  t.throws(() => new FilterHost(Buffer.from('not wasm')), { message: /not a valid WebAssembly module/ })
  t.throws(() => new FilterHost(wasm, { deadlineMs: -1 }), { message: /deadlineMs/ })
  t.throws(() => new FilterHost(wasm, { memoryLimitBytes: 65536 }), { message: /cannot be instantiated/ })
  t.throws(() => new FilterHost(wasm, { memoryLimitBytes: 1 }), { message: /memoryLimitBytes/ })
  t.throws(() => new FilterHost(wasm, { shared: {} as unknown as InstanceType<typeof SharedData> }))
  const refusing = FILTER.replace('(drop (call $set_tick (i32.const 500)))\n    (i32.const 1))', '(i32.const 0))')
  t.throws(() => new FilterHost(Buffer.from(refusing)), { message: /proxy_on_configure returned false/ })
})
