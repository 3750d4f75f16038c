// The OpenAPI 3.1 description of the internal listener, the one contract between
// the route API and nginx's resolver filter (docs/internal-api.md explains it).
// api/test/internal-openapi.test.ts calls every operation on the real service and
// checks each answer against these schemas; tests/filter/contract.test.ts checks
// the answers the filter's tests hand it against the same schemas, and
// tests/nginx/harness.ts every answer its route API stand-in sends. The numbers
// both sides rely on are in `internalLimits`; tests/filter/contract.test.ts checks
// the built filter against them.
import { MAX_ADDRESSES } from "./names.ts";
import { MAX_WAIT_MS } from "./schemas.ts";

/** The numbers of the contract (docs/internal-api.md, "Limits and constants"). */
export const internalLimits = {
  /** `addresses` holds at most this many (the API keeps the first of a name's addresses). */
  maxAddresses: MAX_ADDRESSES,
  /** A backend is refused beyond this many characters (api/src/backend.ts; the filter's MAX_BACKEND_TEXT). */
  maxBackendLength: 512,
  /** The longest address: "unix:" and a socket path of 107 bytes (sun_path with its NUL). */
  maxAddressLength: 112,
  /** A /changes page holds at most this many changes (RouteStore.changesSince). */
  changesPage: 1000,
  /** The longest a /changes long poll is held; a larger `wait` is cut to it. */
  maxWaitMs: MAX_WAIT_MS,
  /** The largest `since` the API accepts; the filter asks from it when it has no seq yet. */
  maxSince: Number.MAX_SAFE_INTEGER,
  /**
   * The largest seq the filter reads in an answer: its JSON reader takes integers of at
   * most 15 digits (wasm/src/resolver/json.ts). The API's seq, one per change, would need
   * 10^15 changes to pass it.
   */
  maxSeqTheFilterReads: 999_999_999_999_999,
  /** The filter treats a larger /resolve body as a failure. */
  maxResolveBody: 64 * 1024,
  /** The filter treats a larger /changes body as a failure. */
  maxChangesBody: 1024 * 1024,
} as const;

const error = {
  type: "object",
  required: ["error", "message"],
  properties: { error: { type: "string" }, message: { type: "string" } },
};

/** A backend or an address, in the grammar of tests/vectors/backends.json (shape only). */
const backendShape = { type: "string", minLength: 3, maxLength: internalLimits.maxBackendLength, pattern: "^(unix:/[A-Za-z0-9._/-]+|[a-z0-9.-]+:[1-9][0-9]{0,4}|\\[[0-9a-fA-F:.]+\\]:[1-9][0-9]{0,4})$" };
const addressShape = { type: "string", maxLength: internalLimits.maxAddressLength, pattern: "^(unix:/[A-Za-z0-9._/-]+|[0-9.]+:[1-9][0-9]{0,4}|\\[[0-9a-fA-F:.]+\\]:[1-9][0-9]{0,4})$" };

const resolution = {
  type: "object",
  required: ["host", "backend", "match", "pattern", "addresses"],
  additionalProperties: false,
  properties: {
    host: { type: "string", description: "The request's host, normalized" },
    backend: { ...backendShape, description: "The route's backend as stored" },
    match: { enum: ["exact", "wildcard", "default"], description: "exact host, `*.suffix`, or the catch-all `*`" },
    pattern: { type: "string", description: "The stored host that matched" },
    addresses: {
      type: "array",
      maxItems: internalLimits.maxAddresses,
      items: addressShape,
      description: "Where to connect, in order; never a name. Empty when the backend's name does not resolve.",
    },
    ttl_ms: { type: "integer", minimum: 1, description: "How long the addresses hold (names only)" },
    error: { type: "string", description: "Why there are no addresses" },
  },
};

const change = {
  type: "object",
  required: ["seq", "op", "host"],
  additionalProperties: false,
  properties: { seq: { type: "integer", minimum: 1 }, op: { enum: ["put", "delete"] }, host: { type: "string" } },
};

const changesPage = {
  oneOf: [
    {
      type: "object",
      required: ["seq", "changes"],
      additionalProperties: false,
      properties: { seq: { type: "integer", minimum: 0 }, changes: { type: "array", maxItems: internalLimits.changesPage, items: change } },
    },
    {
      type: "object",
      required: ["seq", "reset"],
      additionalProperties: false,
      properties: { seq: { type: "integer", minimum: 0 }, reset: { const: true } },
    },
  ],
};

const json = (description: string, schema: object) => ({ description, content: { "application/json": { schema } } });

export const internalOpenapi = {
  openapi: "3.1.0",
  info: {
    title: "set-backend internal API (route API → resolver filter)",
    version: "1.0.0",
    description: "Served on RESOLVER_LISTEN (a unix socket) only, to nginx's workers.",
  },
  components: { schemas: { Resolution: resolution, ChangesPage: changesPage, Error: error } },
  paths: {
    "/resolve/{host}": {
      get: {
        summary: "Which backend serves a host, and where to connect",
        parameters: [{ name: "host", in: "path", required: true, schema: { type: "string" } }],
        responses: {
          "200": json("A route matches", { $ref: "#/components/schemas/Resolution" }),
          "400": json("The host is not a DNS name", { $ref: "#/components/schemas/Error" }),
          "404": json("No route matches", { $ref: "#/components/schemas/Error" }),
        },
      },
    },
    "/changes": {
      get: {
        summary: "What changed after `since` (a long poll with `wait`)",
        parameters: [
          {
            name: "since",
            in: "query",
            required: true,
            description: "The last seq the caller applied; beyond the last change (or older than the log keeps) the answer is a reset",
            schema: { type: "integer", minimum: 0, maximum: internalLimits.maxSince },
          },
          {
            name: "wait",
            in: "query",
            description: `How long to hold the request while nothing is new (ms); held at most ${internalLimits.maxWaitMs}`,
            schema: { type: "integer", minimum: 0 },
          },
        ],
        responses: {
          "200": json("A page of changes, or a reset", { $ref: "#/components/schemas/ChangesPage" }),
          "400": json("A bad query", { $ref: "#/components/schemas/Error" }),
        },
      },
    },
    "/healthz": {
      get: {
        summary: "Liveness",
        responses: {
          "200": json("Healthy (degraded: ROUTE_STORE=etcd and etcd unreachable; answers come from the local replica, docs/fleet.md)", {
            type: "object",
            required: ["status", "entries", "seq"],
            properties: { status: { enum: ["ok", "degraded"] } },
          }),
        },
      },
    },
    "/metrics": {
      get: {
        summary: "The route API's Prometheus metrics (no token here: only nginx's workers reach this socket)",
        responses: { "200": { description: "Prometheus text", content: { "text/plain": { schema: { type: "string" } } } } },
      },
    },
  },
} as const;
