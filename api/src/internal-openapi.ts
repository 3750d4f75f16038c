// The OpenAPI 3.1 description of the internal listener, the one contract between
// the route API and nginx's resolver filter (docs/internal-api.md explains it).
// api/test/internal-openapi.test.ts calls every operation on the real service and
// checks each answer against these schemas; tests/filter/contract.test.ts checks
// the answers the filter's tests hand it against the same schemas.
const error = {
  type: "object",
  required: ["error", "message"],
  properties: { error: { type: "string" }, message: { type: "string" } },
};

/** A backend or an address, in the grammar of tests/vectors/backends.json (shape only). */
const backendShape = { type: "string", minLength: 3, maxLength: 512, pattern: "^(unix:/[A-Za-z0-9._/-]+|[a-z0-9.-]+:[1-9][0-9]{0,4}|\\[[0-9a-fA-F:.]+\\]:[1-9][0-9]{0,4})$" };
const addressShape = { type: "string", maxLength: 512, pattern: "^(unix:/[A-Za-z0-9._/-]+|[0-9.]+:[1-9][0-9]{0,4}|\\[[0-9a-fA-F:.]+\\]:[1-9][0-9]{0,4})$" };

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
      maxItems: 8,
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
      properties: { seq: { type: "integer", minimum: 0 }, changes: { type: "array", maxItems: 1000, items: change } },
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
          { name: "since", in: "query", required: true, schema: { type: "integer", minimum: 0 } },
          { name: "wait", in: "query", schema: { type: "integer", minimum: 0, maximum: 30000 } },
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
