/**
 * JSON Schemas of the task API's routes: Fastify validates every request against them (Ajv) and
 * `@fastify/swagger` turns them into the OpenAPI 3.1 document served at `/v1/openapi.json` (and
 * committed as docs/openapi.json). The semantic checks (routing, conflicts, time bounds, nesting
 * depth) and the exact error messages live in validate.ts. Pure data.
 */
import {
  ALLOWED_FIELDS,
  MAX_COUNTDOWN_SECONDS,
  MAX_EXPIRES_SECONDS,
  MAX_ROUTING_KEY_BYTES,
} from "./validate.js";

/** Most tasks one `POST /v1/tasks/batch` takes. */
export const MAX_BATCH_TASKS = 1000;
/** Shape of `Idempotency-Key`: 1-255 visible ASCII characters. */
export const IDEMPOTENCY_KEY_RE = /^[\x21-\x7e]{1,255}$/;

export const TASK_SCHEMA = {
  $id: "Task",
  type: "object",
  description:
    "A task to run: a Celery task name and its arguments, where it goes (at most one of queue, priority and key) and when.",
  required: ["name"],
  additionalProperties: false,
  properties: {
    name: {
      type: "string",
      pattern: "^[A-Za-z_][A-Za-z0-9_.:-]{0,199}$",
      description: "Celery task name; the calling client's globs must match it.",
      examples: ["reports.build"],
    },
    args: { type: "array", description: "Positional arguments (JSON, at most 32 levels deep)." },
    kwargs: { type: "object", description: "Keyword arguments (JSON, at most 32 levels deep)." },
    queue: { type: "string", maxLength: 200, description: "A queue of this region." },
    priority: { type: "string", maxLength: 200, description: "A priority of this region's pools." },
    key: {
      type: "string",
      minLength: 1,
      maxLength: 255,
      description: `Shard key: the same key always lands on the same shard of the sharded queue class (routing key at most ${MAX_ROUTING_KEY_BYTES} bytes).`,
    },
    countdown: {
      type: "number",
      minimum: 0,
      maximum: MAX_COUNTDOWN_SECONDS,
      description: "Seconds to wait before running.",
    },
    expires: {
      type: ["number", "string"],
      description: `Seconds from now (1-${MAX_EXPIRES_SECONDS}) or an ISO-8601 time within 30 days; an expired task is revoked, not run.`,
    },
  },
} as const;

// The schema's fields and validate.ts's list must agree.
for (const f of ALLOWED_FIELDS) {
  if (!(f in TASK_SCHEMA.properties)) throw new Error(`schemas.ts: TASK_SCHEMA lacks ${f}`);
}

const error = (codes: readonly string[], withField = true): Record<string, unknown> => ({
  type: "object",
  required: ["error", "message"],
  properties: {
    error: { type: "string", enum: [...codes] },
    ...(withField
      ? { field: { type: "string", description: "The field (or header) that was wrong." } }
      : {}),
    reason: { type: "string", enum: ["nack", "returned", "unavailable"] },
    message: { type: "string", description: "What was wrong and what is allowed." },
  },
});

const accepted = {
  type: "object",
  required: ["id", "region", "queue"],
  properties: {
    id: { type: "string", description: "Task id (Celery's), to read the result with." },
    region: { type: "string" },
    queue: { type: "string" },
  },
} as const;

const authHeaders = {
  type: "object",
  properties: {
    "idempotency-key": {
      type: "string",
      pattern: IDEMPOTENCY_KEY_RE.source,
      description:
        "A repeat with the same key from the same client within 24 h answers the first answer (same task id) instead of sending another task.",
    },
  },
} as const;

const common = {
  400: error(["bad_request"]),
  401: error(["unauthorized"], false),
  413: error(["payload_too_large"]),
  415: error(["unsupported_media_type"]),
  429: error(["too_many_requests"], false),
};

export const SUBMIT_SCHEMA = {
  summary: "Send a task",
  description:
    "Answers 202 only once the broker confirmed it holds the task. A full queue, an unroutable task or an unreachable broker answers 503 with Retry-After: nothing is stored then.",
  headers: authHeaders,
  body: { $ref: "Task#" },
  response: {
    202: accepted,
    ...common,
    403: error(["forbidden"]),
    409: error(["conflict"]),
    422: error(["idempotency_key_reused"]),
    503: error(["not_stored"], false),
  },
} as const;

export const BATCH_SCHEMA = {
  summary: "Send up to 1,000 tasks",
  description:
    "Each task is checked, authorized, made idempotent (Idempotency-Key + '#' + its index) and published on its own; the answer lists them in order. 202 when every task was confirmed; 207 when any was refused, each refused one with its own status and message (nothing is dropped silently).",
  headers: authHeaders,
  body: {
    type: "object",
    required: ["tasks"],
    additionalProperties: false,
    properties: {
      tasks: {
        type: "array",
        minItems: 1,
        maxItems: MAX_BATCH_TASKS,
        items: { type: "object", description: "A Task (see the Task schema)." },
      },
    },
  },
  response: {
    202: {
      type: "object",
      required: ["region", "tasks"],
      properties: {
        region: { type: "string" },
        tasks: { type: "array", items: accepted },
      },
    },
    207: {
      type: "object",
      required: ["region", "accepted", "refused", "tasks"],
      properties: {
        region: { type: "string" },
        accepted: { type: "integer" },
        refused: { type: "integer" },
        tasks: {
          type: "array",
          items: {
            type: "object",
            required: ["status"],
            properties: {
              status: {
                type: "integer",
                description: "202, or the status a single POST would get.",
              },
              id: { type: "string" },
              queue: { type: "string" },
              error: { type: "string" },
              field: { type: "string" },
              reason: { type: "string" },
              message: { type: "string" },
            },
          },
        },
      },
    },
    ...common,
    503: error(["not_stored"], false),
  },
} as const;

export const STATUS_SCHEMA = {
  summary: "Read a task's state and result",
  description:
    "Only the client that sent the task reads it; any other id answers 404. PENDING means nothing is stored yet.",
  params: {
    type: "object",
    required: ["id"],
    properties: { id: { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$" } },
  },
  response: {
    200: {
      type: "object",
      required: ["id", "state"],
      properties: {
        id: { type: "string" },
        state: { type: "string", examples: ["PENDING", "STARTED", "SUCCESS", "FAILURE"] },
        result: {},
        error: {
          type: "object",
          properties: { type: { type: "string" }, message: { type: "string" } },
        },
        dateDone: { type: ["string", "null"] },
        worker: { type: "string" },
        retries: { type: "integer" },
      },
    },
    400: common[400],
    401: common[401],
    404: error(["not_found"], false),
    429: common[429],
    503: error(["not_stored", "unavailable"], false),
  },
} as const;

export const PROBE_SCHEMA = {
  security: [],
  response: {
    200: {
      type: "object",
      properties: {
        status: { type: "string" },
        broker: { type: "boolean" },
        backend: { type: "boolean" },
      },
    },
    503: {
      type: "object",
      properties: {
        status: { type: "string" },
        broker: { type: "boolean" },
        backend: { type: "boolean" },
        closing: { type: "boolean" },
      },
    },
  },
} as const;
