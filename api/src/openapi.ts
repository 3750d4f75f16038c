// The OpenAPI 3.1 description of the public listener. api/test/openapi.test.ts
// calls every operation below and checks each answer against these schemas.
const error = {
  type: "object",
  required: ["error", "message"],
  properties: {
    error: { type: "string", description: "A stable code, e.g. invalid_host, invalid_backend, unauthorized" },
    message: { type: "string", description: "What went wrong, for a person" },
  },
};

const entry = {
  type: "object",
  required: ["host", "backend"],
  additionalProperties: false,
  properties: {
    host: {
      type: "string",
      description: "A DNS name, `*.` followed by one (wildcard), or `*` (catch-all). Stored lowercase, IDN as punycode.",
      examples: ["some.host.com", "*.preview.example.com", "*"],
    },
    backend: {
      type: "string",
      description: "`host:port` (DNS name, IPv4 or [IPv6]; port 1-65535) or `unix:/absolute/path`.",
      examples: ["localhost:3000", "10.0.0.7:8080", "[::1]:3000", "unix:/run/app.sock"],
    },
  },
};

const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
});
const entryResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: { $ref: "#/components/schemas/Entry" } } },
});
const unauthorized = errorResponse("Missing or wrong bearer token");
// Answers only the etcd store gives (ROUTE_STORE=etcd, docs/fleet.md). The LMDB-mode
// contract test skips them; the fleet tests produce them and check them here.
const etcdOnly = (description: string) => ({ ...errorResponse(description), "x-route-store": "etcd" });
const storeUnavailable = etcdOnly(
  "etcd mode only: the write was not acknowledged — etcd is unreachable (store_unavailable), this node's replica did not catch up (replica_behind) or imports kept switching the table (store_busy); nothing was changed",
);
const invalid = errorResponse("Invalid host, backend, JSON or field");
const hostParam = {
  name: "host",
  in: "path",
  required: true,
  description: "The route's host, URL-encoded (`*.example.com` is `%2A.example.com`)",
  schema: { type: "string" },
};
// POST /entries.json and PUT /entries/{host}.json answer alike.
const upsertResponses = {
  "200": entryResponse("Replaced"),
  "201": entryResponse("Created"),
  "400": invalid,
  "401": unauthorized,
  "413": errorResponse("Body over 64 KiB"),
  "415": errorResponse("Content type is not JSON"),
  "503": storeUnavailable,
};
const jsonBody = (schema: object) => ({
  required: true,
  content: { "application/json": { schema } },
});

export const openapi = {
  openapi: "3.1.0",
  info: {
    title: "set-backend route API",
    version: "1.0.0",
    description:
      "Routes a Host to a backend for nginx's `set_backend`. Changes are live on every nginx worker within a second, without a reload.",
  },
  components: {
    securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
    schemas: { Entry: entry, Error: error },
  },
  paths: {
    "/entries.json": {
      get: {
        summary: "List routes, sorted by host",
        description:
          "Streams the whole table as a JSON array. With `limit`, returns one page and a `Link: <…>; rel=\"next\"` header when more may follow.",
        security: [{ bearer: [] }],
        parameters: [
          { name: "prefix", in: "query", schema: { type: "string", maxLength: 300 }, description: "Only hosts starting with this" },
          { name: "after", in: "query", schema: { type: "string", maxLength: 300 }, description: "Only hosts sorting after this one (the cursor)" },
          { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 100000 }, description: "Page size" },
        ],
        responses: {
          "200": {
            description: "Routes",
            content: { "application/json": { schema: { type: "array", items: { $ref: "#/components/schemas/Entry" } } } },
          },
          "400": errorResponse("Invalid query parameter"),
          "401": unauthorized,
        },
      },
      post: {
        summary: "Create or replace a route",
        security: [{ bearer: [] }],
        requestBody: jsonBody({ $ref: "#/components/schemas/Entry" }),
        responses: upsertResponses,
      },
    },
    "/entries/{host}.json": {
      parameters: [hostParam],
      get: {
        summary: "Get one route",
        security: [{ bearer: [] }],
        responses: { "200": entryResponse("The route"), "400": invalid, "401": unauthorized, "404": errorResponse("No such route") },
      },
      put: {
        summary: "Create or replace the route of this host",
        security: [{ bearer: [] }],
        requestBody: jsonBody({
          type: "object",
          required: ["backend"],
          additionalProperties: false,
          properties: { backend: entry.properties.backend },
        }),
        responses: upsertResponses,
      },
      delete: {
        summary: "Delete a route",
        security: [{ bearer: [] }],
        responses: {
          "204": { description: "Deleted" },
          "400": invalid,
          "401": unauthorized,
          "404": errorResponse("No such route"),
          "503": storeUnavailable,
        },
      },
    },
    "/entries/export": {
      get: {
        summary: "Export routes as NDJSON, sorted by host",
        description:
          "Streams one `{\"host\",\"backend\"}` object a line from one snapshot of the table: the format `POST /entries/import` takes, so an export imported again leaves the table as it was.",
        security: [{ bearer: [] }],
        parameters: [
          { name: "prefix", in: "query", schema: { type: "string", maxLength: 300 }, description: "Only hosts starting with this" },
        ],
        responses: {
          "200": { description: "Routes, one JSON object a line", content: { "application/x-ndjson": { schema: { type: "string" } } } },
          "400": errorResponse("Invalid query parameter"),
          "401": unauthorized,
        },
      },
    },
    "/entries/import": {
      post: {
        summary: "Import routes from NDJSON, all or nothing",
        description: "One `{\"host\",\"backend\"}` object a line. When any line is invalid nothing is written and the answer lists the bad lines.",
        security: [{ bearer: [] }],
        requestBody: { required: true, content: { "application/x-ndjson": { schema: { type: "string" } } } },
        responses: {
          "200": {
            description: "Imported",
            content: {
              "application/json": {
                schema: {
                  type: "object",
                  required: ["imported", "created", "replaced", "unchanged"],
                  properties: {
                    imported: { type: "integer" },
                    created: { type: "integer" },
                    replaced: { type: "integer" },
                    unchanged: { type: "integer" },
                  },
                },
              },
            },
          },
          "400": {
            description: "Invalid lines; nothing was imported",
            content: {
              "application/json": {
                schema: {
                  allOf: [
                    { $ref: "#/components/schemas/Error" },
                    {
                      type: "object",
                      required: ["lines"],
                      properties: {
                        lines: {
                          type: "array",
                          description: "The first 100 bad lines",
                          items: {
                            type: "object",
                            required: ["line", "error", "message"],
                            properties: { line: { type: "integer" }, error: { type: "string" }, message: { type: "string" } },
                          },
                        },
                      },
                    },
                  ],
                },
              },
            },
          },
          "401": unauthorized,
          "409": etcdOnly("etcd mode only: another import switched the table first (import_conflict); nothing of this one was imported"),
          "413": errorResponse("Body over the import limit (IMPORT_LIMIT_BYTES, 64 MiB by default)"),
          "415": errorResponse("Content type is not NDJSON"),
          "503": storeUnavailable,
        },
      },
    },
    "/healthz": {
      get: {
        summary: "Liveness and store check",
        responses: {
          "200": {
            description: "Healthy",
            content: {
              "application/json": {
                schema: {
                  type: "object",
                  required: ["status", "entries", "seq"],
                  properties: {
                    status: {
                      enum: ["ok", "degraded"],
                      description: "degraded: ROUTE_STORE=etcd and etcd is unreachable; routes are served from the local replica, writes are refused",
                    },
                    entries: { type: "integer" },
                    seq: { type: "integer" },
                    store: {
                      type: "object",
                      description: "ROUTE_STORE=etcd only: the replica's state (docs/fleet.md)",
                      properties: {
                        kind: { const: "etcd" },
                        connected: { type: "boolean" },
                        watching: { type: "boolean" },
                        revision: { type: "integer" },
                        generation: { type: ["string", "null"] },
                        last_contact: { type: ["string", "null"] },
                        stale_ms: { type: ["integer", "null"] },
                        last_error: { type: "string" },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
    "/metrics": {
      get: {
        summary: "Prometheus metrics",
        security: [{ bearer: [] }],
        responses: {
          "200": { description: "Prometheus text format", content: { "text/plain": { schema: { type: "string" } } } },
          "401": unauthorized,
        },
      },
    },
    "/edge/metrics": {
      get: {
        summary: "The nginx edge's metrics",
        description:
          "What the edge this API node serves reports (its `set_backend_metrics` listener, `EDGE_METRICS_URL`): requests by how routing ended, " +
          "lookups, the change feed, the shared zone, filter traps (docs/metrics.md), in Prometheus text.",
        security: [{ bearer: [] }],
        responses: {
          "200": { description: "Prometheus text format", content: { "text/plain": { schema: { type: "string" } } } },
          "401": unauthorized,
          "503": errorResponse("No edge is configured, or it does not answer"),
        },
      },
    },
    "/openapi.json": {
      get: {
        summary: "This document",
        responses: { "200": { description: "OpenAPI 3.1", content: { "application/json": { schema: { type: "object" } } } } },
      },
    },
    "/ui": {
      get: {
        summary: "The admin page: sign in with the token, search, edit and import routes, live status",
        responses: { "200": { description: "HTML", content: { "text/html": { schema: { type: "string" } } } } },
      },
    },
    "/ui/{file}": {
      parameters: [{ name: "file", in: "path", required: true, description: "A script or style sheet of the admin page", schema: { type: "string" } }],
      get: {
        summary: "A file of the admin page",
        responses: {
          "200": { description: "JavaScript, CSS or an SVG icon", content: { "text/javascript": { schema: { type: "string" } } } },
          "404": errorResponse("No such file"),
        },
      },
    },
    "/": {
      get: {
        summary: "The API's documentation page",
        responses: { "200": { description: "HTML", content: { "text/html": { schema: { type: "string" } } } } },
      },
    },
  },
} as const;
