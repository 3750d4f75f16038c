// Types of the Node binding of the proxy-wasm host (host/node). Hand-written:
// this is the contract the filter's tests rely on; keep it in step with src/lib.rs.

/** A header list, in order, duplicates allowed: `[name, value]` pairs. */
export type Headers = Array<[string, string]>

/**
 * The in-memory shared-data store (proxy_get/set_shared_data), shareable between
 * several FilterHosts the way an nginx shm zone is shared by workers.
 * CAS per the proxy-wasm spec: every write gives the entry a new non-zero cas;
 * `set` with cas 0 writes unconditionally, any other cas must equal the current one.
 */
export declare class SharedData {
  constructor()
  get(key: string): { value: Buffer; cas: number } | null
  set(key: string, value: Buffer, cas: number): 'ok' | 'cas_mismatch'
  /** Number of keys. */
  readonly size: number
}

export interface FilterHostOptions {
  /** Buffer PLUGIN_CONFIGURATION, read in proxy_on_configure. */
  pluginConfig?: string
  /** Buffer VM_CONFIGURATION, read in proxy_on_vm_start. */
  vmConfig?: string
  /** The `plugin_name` property (default "filter"). */
  pluginName?: string
  /** Store to use; default: a private one. */
  shared?: SharedData
  /** Budget per guest call in ms of the calling thread's CPU time (default 10). */
  deadlineMs?: number
  /** Cap on the filter's linear memory (default 16 MiB). */
  memoryLimitBytes?: number
  /**
   * After a failed instance start (trap or false in start-up), calls fail at once
   * (action 'trap', error "...next attempt in N ms") for this long (default 1000).
   */
  restartBackoffMs?: number
}

export interface LocalResponse {
  status: number
  body: string
  headers: Headers
}

/** A proxy_http_call the filter made; answer it with deliverHttpCallResponse(token, ...). */
export interface HttpCall {
  token: number
  /** The cluster name the filter asked for. */
  upstream: string
  /** Includes :method, :path and :authority. */
  headers: Headers
  body: string
  timeoutMs: number
}

export interface LogEntry {
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'critical'
  message: string
}

/** What one context did during one host call. */
export interface Outcome {
  /** Context id: 1 is the root context, HTTP contexts are > 1 (0 if none could be created). */
  id: number
  /**
   * - continue: the request goes on (on_request_headers returned CONTINUE, or proxy_continue_stream);
   * - pause: waiting (e.g. for an http call);
   * - local_response: the filter answered itself (see localResponse);
   * - trap: the filter crashed or ran past its deadline (see error); the instance was replaced.
   */
  action: 'continue' | 'pause' | 'local_response' | 'trap'
  localResponse?: LocalResponse
  /** Properties set by the filter, keyed by path segments joined with '.' (e.g. "ngx.backend"). */
  properties: Record<string, string>
  httpCalls: HttpCall[]
  logs: LogEntry[]
  /** Why, when action is 'trap'. */
  error?: string
}

export interface HttpCallAnswer {
  /** Becomes the `:status` header (default 200). */
  status?: number
  headers?: Headers
  body?: string
}

export interface MetricValue {
  name: string
  kind: 'counter' | 'gauge' | 'histogram'
  value: number
}

/** One filter instance with its root context, driven like a proxy would. */
export declare class FilterHost {
  /**
   * Compiles `wasm` (binary, or WAT text), checks it exports proxy_abi_version_0_2_1,
   * and runs proxy_on_vm_start and proxy_on_configure. Throws an Error saying why
   * on failure (other ABI, start-up returned false, trap, bad options).
   */
  constructor(wasm: Buffer, opts?: FilterHostOptions)
  /** Fixes the clock the filter sees, in ms since the epoch; null/undefined = real time. */
  setTimeMs(ms?: number | null): void
  /** Creates an HTTP context and calls proxy_on_request_headers. `:authority` is the client's Host. */
  request(headers: Headers): Outcome
  /** Request headers of a live context as the filter left them, or null. */
  requestHeaders(id: number): Headers | null
  /**
   * Answers an http call; null = the call failed (the filter sees no headers and
   * an empty body). Returns the outcome of the context that made the call first
   * (the root context's for calls made in tick), then any other context the filter
   * acted on; [] if that context is gone (finished, or lost with a trapped instance).
   * Throws for unknown or already answered tokens.
   */
  deliverHttpCallResponse(token: number, resp: HttpCallAnswer | null): Outcome[]
  /** proxy_on_tick on the root context. */
  tick(): Outcome
  /** Period set with proxy_set_tick_period_milliseconds (0 = none). */
  readonly tickPeriodMs: number
  /** proxy_on_done, proxy_on_log, proxy_on_delete (unknown ids are ignored). */
  finishRequest(id: number): Outcome
  /** Traps so far (each one replaced the instance). */
  readonly trapCount: number
  /** Metrics the filter defined. */
  metrics(): MetricValue[]
}
