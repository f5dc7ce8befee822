/**
 * How the task API answers what went wrong: one JSON shape (`{ error, field?, reason?, message }`),
 * a 4xx naming the field for anything the caller sent wrong, and 5xx bodies that never carry an
 * internal message (host names, addresses and user names stay in the API's log).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { TaskNotStoredError, type RefusalReason } from "./gateway.js";
import { show, ValidationError } from "./validate.js";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(String(body.message ?? status));
  }
}

export function notStored(
  message: string,
  retryAfterSeconds: number,
  reason: RefusalReason = "unavailable",
): HttpError {
  return new HttpError(
    503,
    { error: "not_stored", reason, message },
    { "retry-after": String(retryAfterSeconds) },
  );
}

export function fromNotStored(err: TaskNotStoredError, retryAfterSeconds: number): HttpError {
  return notStored(err.message, retryAfterSeconds, err.reason);
}

export function tooMany(message: string, retryAfterSeconds = 1): HttpError {
  return new HttpError(
    429,
    { error: "too_many_requests", message },
    { "retry-after": String(retryAfterSeconds) },
  );
}

export function forbidden(
  field: string,
  clientId: string,
  name: string,
  globs: readonly string[],
): HttpError {
  return new HttpError(403, {
    error: "forbidden",
    field,
    message: `${field}: task "${name}" is not one client "${clientId}" may send; its tasks are ${globs.join(", ")}`,
  });
}

/** Where an Ajv error points: the field as the caller wrote it. */
export function ajvField(err: FastifyError): string {
  const ctx = (err as { validationContext?: string }).validationContext;
  if (ctx === "headers") return "Idempotency-Key";
  if (ctx === "params") return "id";
  const e = err.validation?.[0];
  if (!e) return "body";
  const params = e.params as Record<string, unknown>;
  if (e.keyword === "required" && typeof params.missingProperty === "string") {
    return params.missingProperty;
  }
  if (e.keyword === "additionalProperties" && typeof params.additionalProperty === "string") {
    return params.additionalProperty;
  }
  return e.instancePath.split("/")[1] || "body";
}

export interface ErrorContext {
  /** The exact message for a body the schema refused (validate.ts's), when the route has one. */
  explain(req: FastifyRequest, field: string): string | null;
  bodyLimit(req: FastifyRequest): number;
  log(fields: Record<string, unknown>): void;
}

/** Fastify's error handler for the task API. */
export function errorHandler(ctx: ErrorContext) {
  return (err: FastifyError, req: FastifyRequest, reply: FastifyReply): void => {
    const send = (status: number, body: Record<string, unknown>): void => {
      void reply.code(status).send(body);
    };
    if (err instanceof HttpError) {
      void reply.headers(err.headers);
      return send(err.status, err.body);
    }
    if (err instanceof ValidationError) {
      return send(400, { error: "bad_request", field: err.field, message: err.message });
    }
    if (err.validation) {
      const field = ajvField(err);
      const exact = field === "Idempotency-Key" ? null : ctx.explain(req, field);
      const message =
        field === "Idempotency-Key"
          ? `Idempotency-Key: ${show(req.headers["idempotency-key"])} is not a key; use 1-255 visible ASCII characters`
          : field === "id"
            ? `id: ${show((req.params as { id?: string }).id)} is not a task id; use the id a POST /v1/tasks answered (letters, digits, "-", "_", ".", ":")`
            : (exact ?? `${field}: ${err.validation[0]?.message ?? "is not allowed"}`);
      return send(400, { error: "bad_request", field, message });
    }
    if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      const limit = ctx.bodyLimit(req);
      return send(413, {
        error: "payload_too_large",
        field: "body",
        message: `body: larger than ${limit} bytes; send at most ${limit} bytes (store big inputs elsewhere and pass a reference)`,
      });
    }
    if (err.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") {
      return send(415, {
        error: "unsupported_media_type",
        field: "content-type",
        message: `content-type: ${show(req.headers["content-type"] ?? null)} is not accepted; send the body as application/json`,
      });
    }
    if (err.code === "FST_ERR_CTP_EMPTY_JSON_BODY") {
      return send(400, {
        error: "bad_request",
        field: "body",
        message: "body: empty; send a JSON object",
      });
    }
    if (err.code === "FST_ERR_CTP_INVALID_JSON_BODY") {
      return send(400, {
        error: "bad_request",
        field: "body",
        message:
          "body: not valid JSON (or it has a __proto__ or constructor.prototype key, which are refused); send a JSON object",
      });
    }
    const status = err.statusCode ?? 500;
    if (status === 429) {
      return send(429, {
        error: "too_many_requests",
        message: `too many requests from this client; retry after ${String(reply.getHeader("retry-after") ?? 1)} s`,
      });
    }
    if (status >= 400 && status < 500) {
      return send(status, {
        error: "bad_request",
        field: "request",
        message: `request: ${err.message.slice(0, 200)}`,
      });
    }
    ctx.log({ msg: "internal error", request: req.id, error: err.message, stack: err.stack });
    return send(500, {
      error: "internal",
      message: `internal error (request ${req.id}); the API's log has the details`,
    });
  };
}

export { TaskNotStoredError };
