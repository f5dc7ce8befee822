/**
 * The task API (ingress layer, seed S5/S7/S11): an HTTP server that turns `POST /v1/tasks` into a
 * Celery task message published with confirms, and answers `GET /v1/tasks/{id}` from the result
 * backend. It answers 202 only once the broker confirmed the publish; a task the broker refused
 * (full queue, nack, unroutable) gets a 503 with `Retry-After`, never a 202.
 *
 * The broker and backend are behind `TaskGateway` (gateway.ts has the real one), so this file is
 * only HTTP: routing, body limits, validation, status codes and metrics. It handles no signals.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ApiMetrics } from "./metrics.js";
import {
  validateSubmission,
  validateTaskId,
  ValidationError,
  type ApiRouting,
  type TaskSubmission,
} from "./validate.js";

/** What the broker did with a publish the API could not confirm. */
export type RefusalReason = "nack" | "returned" | "unavailable";

/** Thrown by a gateway when a task was not stored by the broker. */
export class TaskNotStoredError extends Error {
  constructor(
    readonly reason: RefusalReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "TaskNotStoredError";
  }
}

/** A task's state as the API reports it. */
export interface TaskStatus {
  readonly id: string;
  /** Celery state: PENDING (nothing stored yet), STARTED, RETRY, SUCCESS, FAILURE, REVOKED, ... */
  readonly state: string;
  readonly result?: unknown;
  readonly error?: { readonly type: string; readonly message: string };
  readonly dateDone?: string | null;
  /** Node name of the worker that stored the result, when the backend records it. */
  readonly worker?: string;
  readonly retries?: number;
}

/** The broker and result backend as the API sees them. */
export interface TaskGateway {
  /** Publishes with confirms; resolves with the task id once confirmed, else throws `TaskNotStoredError`. */
  publish(task: TaskSubmission): Promise<string>;
  status(id: string): Promise<TaskStatus>;
  /** Whether the broker and the backend answer right now. */
  check(): Promise<{ broker: boolean; backend: boolean; detail?: string }>;
  close(): Promise<void>;
}

export interface TaskApiOptions {
  gateway: TaskGateway;
  routing: ApiRouting;
  /** The region this API serves; returned with every accepted task. */
  region: string;
  /** Task names accepted; without it every well-formed name is accepted. @default - no allow-list */
  allowedTasks?: ReadonlySet<string>;
  /** Largest request body accepted, in bytes. @default 1048576 (1 MiB) */
  maxBodyBytes?: number;
  /** `Retry-After` sent with a 503, in seconds. @default 1 */
  retryAfterSeconds?: number;
  metrics?: ApiMetrics;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** How long close() lets open connections finish before closing them. */
const SHUTDOWN_GRACE_MS = 10_000;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(String(body.message ?? status));
  }
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, {
    "content-type": typeof body === "string" ? "text/plain; version=0.0.4" : "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = (): HttpError =>
    new HttpError(413, {
      error: "payload_too_large",
      message: `body: larger than ${limit} bytes; send at most ${limit} bytes (store big inputs elsewhere and pass a reference)`,
    });
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        reject(tooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on("error", (e) => {
      if (!failed) reject(e);
    });
  });
}

export class TaskApi {
  readonly metrics: ApiMetrics;
  private readonly server: Server;
  private readonly opts: TaskApiOptions;
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(opts: TaskApiOptions) {
    this.opts = opts;
    this.metrics = opts.metrics ?? new ApiMetrics();
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 65_000;
  }

  /** Listens on `host:port` (port 0 = a free one); resolves with the bound port. */
  listen(port: number, host = "127.0.0.1"): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  get port(): number {
    const a = this.server.address();
    return a && typeof a !== "string" ? a.port : 0;
  }

  /** Stops accepting connections, lets running requests finish, then closes the gateway. Safe to call twice. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.closing = (async () => {
      await new Promise<void>((resolve) => {
        // Requests in flight finish (their answers carry `connection: close`); keep-alive
        // connections that stay open past the grace period are closed.
        const force = setTimeout(() => this.server.closeAllConnections(), SHUTDOWN_GRACE_MS);
        force.unref();
        this.server.close(() => {
          clearTimeout(force);
          resolve();
        });
        this.server.closeIdleConnections();
      });
      await this.opts.gateway.close();
    })();
    return this.closing;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const m = this.metrics;
    m.inFlight.add(1);
    const method = req.method ?? "GET";
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    let route = "other";
    try {
      if (this.closed) res.setHeader("connection", "close");
      if (path === "/v1/tasks") {
        route = "/v1/tasks";
        this.allow(method, ["POST"]);
        await this.submit(req, res);
      } else if (path.startsWith("/v1/tasks/")) {
        route = "/v1/tasks/{id}";
        this.allow(method, ["GET"]);
        await this.lookup(decodeURIComponent(path.slice("/v1/tasks/".length)), res);
      } else if (path === "/healthz") {
        route = path;
        this.allow(method, ["GET"]);
        send(res, 200, { status: "ok" });
      } else if (path === "/readyz") {
        route = path;
        this.allow(method, ["GET"]);
        await this.ready(res);
      } else if (path === "/metrics") {
        route = path;
        this.allow(method, ["GET"]);
        send(res, 200, m.render());
      } else {
        throw new HttpError(404, {
          error: "not_found",
          message: `${path}: no such route; routes are POST /v1/tasks, GET /v1/tasks/{id}, GET /healthz, GET /readyz, GET /metrics`,
        });
      }
    } catch (err) {
      if (err instanceof HttpError) send(res, err.status, err.body, err.headers);
      else if (err instanceof ValidationError) {
        send(res, 400, { error: "bad_request", field: err.field, message: err.message });
      } else {
        send(res, 500, { error: "internal", message: (err as Error).message });
      }
    } finally {
      m.inFlight.add(-1);
      m.requests.inc({ route, method, status: String(res.statusCode) });
    }
  }

  private allow(method: string, allowed: string[]): void {
    if (!allowed.includes(method)) {
      throw new HttpError(
        405,
        { error: "method_not_allowed", message: `${method}: use ${allowed.join(", ")}` },
        { allow: allowed.join(", ") },
      );
    }
  }

  private async submit(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req, this.opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch (e) {
      throw new ValidationError("body", `body: not valid JSON (${(e as Error).message})`);
    }
    const task = validateSubmission(body, this.opts.routing, new Date(), this.opts.allowedTasks);
    if (this.closed) {
      throw this.unavailable("the API is shutting down; send the task to another instance");
    }
    const started = process.hrtime.bigint();
    let id: string;
    try {
      id = await this.opts.gateway.publish(task);
    } catch (err) {
      if (err instanceof TaskNotStoredError) {
        this.metrics.publishRejected.inc({ queue: task.queue, reason: err.reason });
        throw this.unavailable(err.message, err.reason);
      }
      throw err;
    }
    this.metrics.publishSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9, {
      queue: task.queue,
    });
    this.metrics.published.inc({ queue: task.queue });
    send(res, 202, { id, region: this.opts.region, queue: task.queue });
  }

  private unavailable(message: string, reason?: RefusalReason): HttpError {
    const retry = String(this.opts.retryAfterSeconds ?? 1);
    return new HttpError(
      503,
      { error: "not_stored", ...(reason ? { reason } : {}), message },
      { "retry-after": retry },
    );
  }

  private async lookup(rawId: string, res: ServerResponse): Promise<void> {
    const id = validateTaskId(rawId);
    let st: TaskStatus;
    try {
      st = await this.opts.gateway.status(id);
    } catch (err) {
      throw this.unavailable(`result backend: ${(err as Error).message}`);
    }
    send(res, 200, st);
  }

  private async ready(res: ServerResponse): Promise<void> {
    const c = await this.opts.gateway.check();
    const ok = c.broker && c.backend && !this.closed;
    send(res, ok ? 200 : 503, {
      status: ok ? "ready" : "not_ready",
      broker: c.broker,
      backend: c.backend,
      ...(this.closed ? { closing: true } : {}),
      ...(c.detail ? { detail: c.detail } : {}),
    });
  }
}

export type { TaskSubmission, ApiRouting };
