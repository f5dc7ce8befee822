/**
 * The task API's routes: send one task, send a batch, read a task, the OpenAPI document, and the
 * probes. Every task goes through the same steps, alone or in a batch: validate (400), the
 * client's globs (403), the in-flight cap (429), the idempotency key (replay, 409, 422), record
 * its owner, publish with confirms (202, or 503 with Retry-After when the broker did not store it).
 */
import { randomUUID } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { mayRun, type ApiClient } from "./auth.js";
import { forbidden, fromNotStored, HttpError, notStored, tooMany } from "./errors.js";
import type { IdentifiedTask, TaskGateway, TaskNotStoredError } from "./gateway.js";
import type { InFlightLimiter } from "./limits.js";
import type { ApiMetrics } from "./metrics.js";
import { BATCH_SCHEMA, PROBE_SCHEMA, STATUS_SCHEMA, SUBMIT_SCHEMA } from "./schemas.js";
import { fingerprint, type ApiState, type Claim, type StoredAnswer } from "./state.js";
import {
  validateSubmission,
  validateTaskId,
  ValidationError,
  type ApiRouting,
  type TaskSubmission,
} from "./validate.js";

export interface RouteContext {
  gateway: TaskGateway;
  state: ApiState;
  routing: ApiRouting;
  region: string;
  metrics: ApiMetrics;
  limiter: InFlightLimiter;
  retryAfterSeconds: number;
  maxBodyBytes: number;
  maxBatchBodyBytes: number;
  allowedTasks?: ReadonlySet<string>;
  log: (fields: Record<string, unknown>) => void;
  isClosed: () => boolean;
}

/** One task of a request on its way: its answer once it has one. */
interface Slot {
  readonly index: number;
  readonly body: unknown;
  task?: TaskSubmission;
  id?: string;
  key?: string;
  fp?: string;
  answer?: StoredAnswer;
}

const ROUTES: Record<string, string[]> = {
  "/v1/tasks": ["POST"],
  "/v1/tasks/batch": ["POST"],
  "/v1/openapi.json": ["GET"],
  "/healthz": ["GET"],
  "/readyz": ["GET"],
};

function client(req: FastifyRequest): ApiClient {
  if (!req.client) throw new Error("no client on an authenticated route");
  return req.client;
}

function refusal(err: HttpError): StoredAnswer {
  return { status: err.status, body: err.body };
}

/**
 * Runs the steps for the tasks of one request (after the cap was taken): idempotency, owners,
 * publish. Fills each slot's `answer`; throws only when nothing of the request could be done.
 */
async function runTasks(
  ctx: RouteContext,
  who: ApiClient,
  slots: Slot[],
  key: string | undefined,
): Promise<void> {
  const live = slots.filter((s) => s.answer === undefined);
  for (const s of live) s.id = randomUUID();
  const stateDown = (err: unknown): HttpError => {
    ctx.log({ msg: "state store (Redis) failed", error: (err as Error).message });
    return notStored(
      "the API's state store is unavailable; the task was not stored, retry later",
      ctx.retryAfterSeconds,
    );
  };
  if (key !== undefined) {
    for (const s of live) {
      s.key = slots.length === 1 && s.index === -1 ? key : `${key}#${s.index}`;
      s.fp = fingerprint(s.body);
    }
    let claims: Claim[];
    try {
      claims = await ctx.state.claimMany(
        who.id,
        live.map((s) => ({ key: s.key!, fp: s.fp!, id: s.id! })),
      );
    } catch (err) {
      throw stateDown(err);
    }
    live.forEach((s, i) => {
      const c = claims[i]!;
      if (c.kind === "owner") s.id = c.id;
      else if (c.kind === "replay") s.answer = c.answer;
      else if (c.kind === "mismatch") {
        s.answer = refusal(
          new HttpError(422, {
            error: "idempotency_key_reused",
            field: "Idempotency-Key",
            message: `Idempotency-Key: this key was used for another request body within 24 h; use a new key for a new request`,
          }),
        );
      } else {
        s.answer = refusal(
          new HttpError(409, {
            error: "conflict",
            field: "Idempotency-Key",
            message: `Idempotency-Key: a request with this key is still being published; retry after ${ctx.retryAfterSeconds} s`,
          }),
        );
      }
    });
  }
  const todo = live.filter((s) => s.answer === undefined);
  if (todo.length === 0) return;
  const settle = async (): Promise<void> => {
    if (key === undefined) return;
    await ctx.state
      .settleMany(
        who.id,
        todo.map((s) => ({
          key: s.key!,
          fp: s.fp!,
          id: s.id!,
          answer: s.answer?.status === 202 ? s.answer : null,
        })),
      )
      .catch((err: unknown) =>
        ctx.log({ msg: "could not store idempotent answers", error: (err as Error).message }),
      );
  };
  try {
    await ctx.state.setOwners(
      todo.map((s) => ({
        id: s.id!,
        client: who.id,
        ...(s.task!.countdownSeconds ? { countdownSeconds: s.task!.countdownSeconds } : {}),
      })),
    );
  } catch (err) {
    const e = stateDown(err);
    for (const s of todo) s.answer = refusal(e);
    await settle();
    return;
  }
  const items: IdentifiedTask[] = todo.map((s) => ({ task: s.task!, id: s.id! }));
  const started = process.hrtime.bigint();
  let errors: (TaskNotStoredError | null)[];
  if (items.length === 1) {
    try {
      await ctx.gateway.publish(items[0]!);
      errors = [null];
    } catch (err) {
      if ((err as Error).name !== "TaskNotStoredError") throw err;
      errors = [err as TaskNotStoredError];
    }
  } else {
    errors = await ctx.gateway.publishMany(items);
  }
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  todo.forEach((s, i) => {
    const e = errors[i];
    const queue = s.task!.queue;
    if (e) {
      if (e.cause) ctx.log({ msg: "task not stored", reason: e.reason, cause: String(e.cause) });
      ctx.metrics.publishRejected.inc({ queue, reason: e.reason });
      s.answer = refusal(fromNotStored(e, ctx.retryAfterSeconds));
    } else {
      ctx.metrics.publishSeconds.observe(secs, { queue });
      ctx.metrics.published.inc({ queue });
      s.answer = { status: 202, body: { id: s.id!, region: ctx.region, queue } };
    }
  });
  await settle();
}

/** Validates and authorizes one task; a refusal becomes the slot's answer. */
function check(ctx: RouteContext, who: ApiClient, s: Slot, prefix: string, now: Date): void {
  try {
    const task = validateSubmission(s.body, ctx.routing, now, ctx.allowedTasks);
    if (!mayRun(who, task.name)) throw forbidden(`${prefix}name`, who.id, task.name, who.globs);
    s.task = task;
  } catch (err) {
    if (err instanceof ValidationError) {
      s.answer = {
        status: 400,
        body: {
          error: "bad_request",
          field: `${prefix}${err.field}`,
          message: `${prefix}${err.message}`,
        },
      };
    } else if (err instanceof HttpError) s.answer = refusal(err);
    else throw err;
  }
}

function takeSlots(ctx: RouteContext, who: ApiClient, n: number): void {
  const why = ctx.limiter.acquire(who.id, n);
  if (why !== null) {
    ctx.metrics.throttled.inc({ limit: "in_flight" });
    throw tooMany(why, ctx.retryAfterSeconds);
  }
}

function idempotencyKey(req: FastifyRequest): string | undefined {
  const k = req.headers["idempotency-key"];
  return typeof k === "string" ? k : undefined;
}

export function registerTaskRoutes(app: FastifyInstance, ctx: RouteContext): void {
  let readiness: {
    at: number;
    check: Promise<{ broker: boolean; backend: boolean; detail?: string }>;
  } | null = null;
  const closedCheck = (): void => {
    if (ctx.isClosed()) {
      throw notStored(
        "the API is shutting down; send the task to another instance",
        ctx.retryAfterSeconds,
      );
    }
  };

  app.post("/v1/tasks", { schema: SUBMIT_SCHEMA }, async (req, reply) => {
    const who = client(req);
    const slot: Slot = { index: -1, body: req.body };
    check(ctx, who, slot, "", new Date());
    if (slot.answer) throw new HttpError(slot.answer.status, slot.answer.body);
    closedCheck();
    takeSlots(ctx, who, 1);
    try {
      await runTasks(ctx, who, [slot], idempotencyKey(req));
    } finally {
      ctx.limiter.release(who.id, 1);
    }
    const a = slot.answer!;
    if (a.status === 202) return reply.code(202).send(a.body);
    const headers: Record<string, string> =
      a.status === 503 || a.status === 409 ? { "retry-after": String(ctx.retryAfterSeconds) } : {};
    throw new HttpError(a.status, a.body, headers);
  });

  app.post(
    "/v1/tasks/batch",
    { schema: BATCH_SCHEMA, bodyLimit: ctx.maxBatchBodyBytes },
    async (req, reply) => {
      const who = client(req);
      const bodies = (req.body as { tasks: unknown[] }).tasks;
      const now = new Date();
      const slots: Slot[] = bodies.map((body, index) => ({ index, body }));
      for (const s of slots) check(ctx, who, s, `tasks[${s.index}].`, now);
      // A task in a batch is no bigger than a task sent alone (checked only when it could be).
      if (Number(req.headers["content-length"] ?? Infinity) > ctx.maxBodyBytes) {
        for (const s of slots) {
          const bytes = Buffer.byteLength(JSON.stringify(s.body));
          if (s.answer === undefined && bytes > ctx.maxBodyBytes) {
            s.answer = {
              status: 413,
              body: {
                error: "payload_too_large",
                field: `tasks[${s.index}]`,
                message: `tasks[${s.index}]: ${bytes} bytes; a task may have at most ${ctx.maxBodyBytes} bytes (store big inputs elsewhere and pass a reference)`,
              },
            };
          }
        }
      }
      const n = slots.filter((s) => s.answer === undefined).length;
      if (n > 0) {
        closedCheck();
        takeSlots(ctx, who, n);
        try {
          await runTasks(ctx, who, slots, idempotencyKey(req));
        } finally {
          ctx.limiter.release(who.id, n);
        }
      }
      const answers = slots.map((s) => s.answer!);
      const refused = answers.filter((a) => a.status !== 202).length;
      if (refused === 0) {
        return reply.code(202).send({ region: ctx.region, tasks: answers.map((a) => a.body) });
      }
      if (answers.some((a) => a.status === 503 || a.status === 409 || a.status === 429)) {
        void reply.header("retry-after", String(ctx.retryAfterSeconds));
      }
      return reply.code(207).send({
        region: ctx.region,
        accepted: answers.length - refused,
        refused,
        tasks: answers.map((a) => ({ status: a.status, ...a.body })),
      });
    },
  );

  app.get("/v1/tasks/:id", { schema: STATUS_SCHEMA }, async (req) => {
    const who = client(req);
    const id = validateTaskId((req.params as { id: string }).id);
    let owner: string | null;
    let status;
    try {
      [owner, status] = await Promise.all([ctx.state.ownerOf(id), ctx.gateway.status(id)]);
    } catch (err) {
      ctx.log({ msg: "result backend failed", error: (err as Error).message });
      throw notStored("the result backend is unavailable; retry later", ctx.retryAfterSeconds);
    }
    if (owner !== who.id) {
      throw new HttpError(404, {
        error: "not_found",
        message: `id: no task "${id}" sent by this client (tasks are kept 24 h after they were sent)`,
      });
    }
    return status;
  });

  app.get(
    "/v1/openapi.json",
    { schema: { summary: "This API's OpenAPI 3.1 document" } },
    async () => app.swagger(),
  );

  app.get("/healthz", { schema: PROBE_SCHEMA, config: { public: true, rateLimit: false } }, () => ({
    status: "ok",
  }));

  app.get(
    "/readyz",
    { schema: PROBE_SCHEMA, config: { public: true, rateLimit: false } },
    async (_req, reply) => {
      // Unauthenticated and unlimited: one check a second at most, whoever asks how often.
      if (readiness === null || Date.now() - readiness.at > 1000) {
        readiness = { at: Date.now(), check: ctx.gateway.check() };
      }
      const c = await readiness.check;
      const closing = ctx.isClosed();
      const ok = c.broker && c.backend && !closing;
      if (!ok && c.detail) ctx.log({ msg: "not ready", detail: c.detail });
      return reply.code(ok ? 200 : 503).send({
        status: ok ? "ready" : "not_ready",
        broker: c.broker,
        backend: c.backend,
        ...(closing ? { closing: true } : {}),
      });
    },
  );

  app.setNotFoundHandler((req) => {
    const path = req.url.split("?")[0] ?? "/";
    const allowed = ROUTES[path] ?? (path.startsWith("/v1/tasks/") ? ["GET"] : undefined);
    if (allowed) {
      throw new HttpError(
        405,
        { error: "method_not_allowed", message: `${req.method}: use ${allowed.join(", ")}` },
        { allow: allowed.join(", ") },
      );
    }
    throw new HttpError(404, {
      error: "not_found",
      message: `${path.slice(0, 100)}: no such route; routes are POST /v1/tasks, POST /v1/tasks/batch, GET /v1/tasks/{id}, GET /v1/openapi.json, GET /healthz, GET /readyz`,
    });
  });
}
