/**
 * The application object: task registry, configuration, producing tasks and reading results.
 * A task module exports `app = createApp()` and registers handlers with `app.task(...)`; the
 * `worker` CLI imports it and runs a {@link Worker} on it.
 */
import { randomUUID } from "node:crypto";
import { AmqpConnection } from "./amqp/connection.js";
import { Producer, PublishRejectedError, type PublishItem } from "./amqp/producer.js";
import { DEFAULT_QUEUES, ensureQueue, type DeclareMode, type QueueSpec } from "./amqp/topology.js";
import { ResultBackend } from "./backend/resultBackend.js";
import type { JsonMode } from "./protocol/json.js";
import { encodeTaskV2, type TaskRequest } from "./protocol/message.js";
import { metaError, type ResultMeta, type TaskState } from "./protocol/result.js";
import { createLogger, type Logger } from "./util/log.js";
import type { ChannelModel } from "amqplib";

/** What a handler sees besides its positional arguments (passed as the last argument). */
export interface TaskContext {
  /** The request: id, retries, eta, headers, ... */
  request: TaskRequest;
  /** Keyword arguments (Celery kwargs). */
  kwargs: Record<string, unknown>;
  /** Aborted at the soft time limit and when the worker shuts down past its timeout. */
  signal: AbortSignal;
  /** The worker's node name. */
  hostname: string;
  /** The app, to send follow-up tasks. */
  app: App;
  /**
   * Returns an error to `throw` that retries the task (Celery's `self.retry()`): same id,
   * retries + 1, after `countdownSeconds` (default: the task's backoff).
   */
  retry(opts?: { countdownSeconds?: number; exc?: unknown }): RetryRequest;
}

/** Thrown (via `ctx.retry()`) to ask for a retry. */
export class RetryRequest extends Error {
  override name = "Retry";
  constructor(
    readonly countdownSeconds: number | undefined,
    readonly exc: unknown,
  ) {
    super(exc instanceof Error ? `Retry: ${exc.message}` : "Retry requested");
  }
}

/**
 * A handler takes the task's positional arguments and then the context. `never[]` accepts
 * handlers with any parameter types (`(a: number, b: string, ctx: TaskContext) => ...`).
 */
export type TaskHandler = (...args: never[]) => unknown;

type ErrorClass = abstract new (...args: never[]) => Error;

export interface TaskOptions {
  /** Queue this task goes to when sent without one. @default the app's defaultQueue ("celery") */
  queue?: string;
  /** Retries before the task fails for good. @default 3 */
  maxRetries?: number;
  /**
   * Exponential backoff for retries: true = factor 1 s, a number = factor in seconds; delay =
   * min(retryBackoffMaxSeconds, factor·2^retries), with full jitter. false = fixed
   * `defaultRetryDelaySeconds`. @default true
   */
  retryBackoff?: boolean | number;
  /** @default 600 */
  retryBackoffMaxSeconds?: number;
  /** Full jitter on the backoff. @default true */
  retryJitter?: boolean;
  /** Delay when retryBackoff is false. @default 180 (Celery's default_retry_delay) */
  defaultRetryDelaySeconds?: number;
  /** Errors (classes or `name`s) that retry automatically. @default [] */
  autoretryFor?: readonly (ErrorClass | string)[];
  /** Hard limit: the task fails with TimeLimitExceeded and its slot is freed. @default none */
  timeLimitSeconds?: number;
  /** Soft limit: the handler's signal aborts with SoftTimeLimitExceeded. @default none */
  softTimeLimitSeconds?: number;
  /** Ack after the result is stored (at-least-once). false = ack before running. @default true */
  acksLate?: boolean;
  /** Do not store the result. @default false */
  ignoreResult?: boolean;
  /** Per-worker start rate, Celery style: "100/s", "10/m", "1/h". @default none */
  rateLimit?: string;
  /**
   * Number of positional arguments the task takes; a message with another count is poison.
   * @default handler.length - 1 as a minimum (the last parameter being the context)
   */
  arity?: number;
}

export interface SendOptions {
  /** Seconds from now. */
  countdown?: number;
  eta?: Date;
  /** Seconds from now, or an absolute time. */
  expires?: number | Date;
  /** AMQP priority (queue needs x-max-priority). */
  priority?: number;
  queue?: string;
  exchange?: string;
  routingKey?: string;
  headers?: Record<string, unknown>;
  /** AMQP `reply_to` (Celery's RPC result backend queue). @default "" */
  replyTo?: string;
  /** Task id. @default a random UUID */
  taskId?: string;
  timeLimitSeconds?: number;
  softTimeLimitSeconds?: number;
  ignoreResult?: boolean;
  parentId?: string;
  rootId?: string;
  /** Celery canvas: the rest of a chain (a reversed stack of signature dicts). */
  chain?: unknown[] | null;
  /** Celery canvas: signatures to call with this task's result (`link`). */
  callbacks?: unknown[] | null;
  /** Celery canvas: signatures to call with this task's id when it fails for good (`link_error`). */
  errbacks?: unknown[] | null;
}

export interface AppOptions {
  /** Broker URL(s). @default TASKFLEET_BROKER_URL, CELERY_BROKER_URL, amqp://guest:guest@localhost:5672// */
  brokerUrl?: string | readonly string[];
  /** Redis result backend URL; null disables results. @default TASKFLEET_RESULT_BACKEND, CELERY_RESULT_BACKEND */
  resultBackend?: string | null;
  /** @default 86400 */
  resultExpiresSeconds?: number;
  /** @default "celery" */
  defaultQueue?: string;
  /** Known queues (routing). @default Celery's `celery` plus the seed's `high_priority` and `default` */
  queues?: readonly QueueSpec[];
  /** Declare queues (falling back to passive when they exist with other arguments) or only check. @default "declare" */
  declareQueues?: DeclareMode;
  /** kombu JSON flavour for messages and results: "tagged" (kombu ≥ 5.3) or "plain" (5.2). @default "tagged" */
  jsonMode?: JsonMode;
  /** Unconfirmed publishes in flight (persistent messages are confirmed after an fsync, so a small window starves the pipe). @default 5000 */
  confirmWindow?: number;
  logger?: Logger;
}

export class BatchPublishError extends Error {
  override name = "BatchPublishError";
  constructor(
    readonly results: (AsyncResult | null)[],
    readonly errors: (Error | null)[],
  ) {
    const failed = errors.filter((e) => e !== null);
    super(
      `${failed.length} of ${errors.length} tasks were not published; first: ${failed[0]?.message ?? ""}`,
    );
  }
}

export class AsyncResult {
  constructor(
    readonly id: string,
    private readonly app: App,
  ) {}

  /** The stored state; PENDING when nothing is stored yet. */
  async state(): Promise<TaskState> {
    const meta = await this.app.backend().getMeta(this.id);
    return meta?.status ?? "PENDING";
  }

  /** The stored meta, or null. */
  async meta(): Promise<ResultMeta | null> {
    return this.app.backend().getMeta(this.id);
  }

  /**
   * Waits for the result. Rejects with the task's error ({@link TaskError}, keeping the Python
   * type name as `name`) when it failed or was revoked, with a TimeoutError after `timeoutMs`.
   */
  async get(opts: { timeoutMs?: number } = {}): Promise<unknown> {
    const meta = await this.app.backend().waitForReady(this.id, opts.timeoutMs);
    if (meta.status === "SUCCESS") return meta.result;
    throw metaError(meta);
  }
}

export class Task {
  constructor(
    readonly app: App,
    readonly name: string,
    readonly handler: TaskHandler,
    readonly options: TaskOptions,
  ) {}

  delay(...args: unknown[]): Promise<AsyncResult> {
    return this.app.sendTask(this.name, args);
  }

  applyAsync(
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
    options: SendOptions = {},
  ): Promise<AsyncResult> {
    return this.app.sendTask(this.name, args, kwargs, options);
  }
}

function envUrl(...names: string[]): string | undefined {
  for (const n of names) {
    const v = process.env[n];
    if (v) return v;
  }
  return undefined;
}

const RATE = /^(\d+(?:\.\d+)?)\s*\/\s*([smh])$/;

/** Parses Celery's "n/s|m|h" into tasks per second. */
export function parseRateLimit(text: string, field = "rateLimit"): number {
  const m = RATE.exec(text.trim());
  if (!m)
    throw new Error(
      `${field}: "${text}" is not a rate; use "<n>/s", "<n>/m" or "<n>/h" (e.g. "100/m")`,
    );
  const per = m[2] === "s" ? 1 : m[2] === "m" ? 60 : 3600;
  return Number(m[1]) / per;
}

export class App {
  readonly tasks = new Map<string, Task>();
  readonly options: AppOptions;
  readonly queues: readonly QueueSpec[];
  readonly defaultQueue: string;
  readonly declareQueues: DeclareMode;
  readonly jsonMode: JsonMode;
  private readonly overrides: {
    brokerUrl?: string | readonly string[];
    resultBackend?: string | null;
  } = {};
  private conn: AmqpConnection | null = null;
  private producerInst: Producer | null = null;
  private backendInst: ResultBackend | null = null;
  private readonly declared = new Map<string, Promise<unknown>>();
  private declaredFor: ChannelModel | null = null;
  private closed = false;
  log: Logger;

  constructor(options: AppOptions = {}) {
    this.options = options;
    this.queues = options.queues ?? DEFAULT_QUEUES;
    this.defaultQueue = options.defaultQueue ?? "celery";
    this.declareQueues = options.declareQueues ?? "declare";
    this.jsonMode = options.jsonMode ?? "tagged";
    this.log = options.logger ?? createLogger("warn");
  }

  /** Overrides broker/backend (the CLI uses this); must be called before connecting. */
  configure(o: {
    brokerUrl?: string | readonly string[];
    resultBackend?: string | null;
    logger?: Logger;
  }): void {
    if (o.brokerUrl !== undefined) this.overrides.brokerUrl = o.brokerUrl;
    if (o.resultBackend !== undefined) this.overrides.resultBackend = o.resultBackend;
    if (o.logger) this.log = o.logger;
  }

  get brokerUrl(): string | readonly string[] {
    return (
      this.overrides.brokerUrl ??
      this.options.brokerUrl ??
      envUrl("TASKFLEET_BROKER_URL", "CELERY_BROKER_URL") ??
      "amqp://guest:guest@localhost:5672//"
    );
  }

  get resultBackendUrl(): string | null {
    if (this.overrides.resultBackend !== undefined) return this.overrides.resultBackend;
    if (this.options.resultBackend !== undefined) return this.options.resultBackend;
    return envUrl("TASKFLEET_RESULT_BACKEND", "CELERY_RESULT_BACKEND") ?? null;
  }

  /** Registers a task handler under a Celery task name. */
  task(name: string, handler: TaskHandler, options: TaskOptions = {}): Task {
    if (typeof name !== "string" || name.length === 0)
      throw new Error(`task name: ${JSON.stringify(name)} must be a non-empty string`);
    if (this.tasks.has(name)) throw new Error(`task "${name}" is already registered`);
    if (options.rateLimit !== undefined)
      parseRateLimit(options.rateLimit, `task "${name}" rateLimit`);
    for (const [k, v] of [
      ["timeLimitSeconds", options.timeLimitSeconds],
      ["softTimeLimitSeconds", options.softTimeLimitSeconds],
      ["maxRetries", options.maxRetries],
    ] as const) {
      if (v !== undefined && !(typeof v === "number" && v >= 0 && Number.isFinite(v))) {
        throw new Error(`task "${name}" ${k}: ${String(v)} is not allowed; use a number ≥ 0`);
      }
    }
    const t = new Task(this, name, handler, options);
    this.tasks.set(name, t);
    return t;
  }

  /** The broker connection (created on first use). */
  connection(): AmqpConnection {
    if (this.closed) throw new Error("app is closed");
    this.conn ??= new AmqpConnection({
      urls: this.brokerUrl,
      logger: this.log,
      name: "taskfleet-producer",
    });
    return this.conn;
  }

  producer(): Producer {
    this.producerInst ??= new Producer(this.connection(), {
      confirmWindow: this.options.confirmWindow ?? 5000,
    });
    return this.producerInst;
  }

  /** The result backend (created on first use); throws when none is configured. */
  backend(): ResultBackend {
    if (this.closed) throw new Error("app is closed");
    if (!this.backendInst) {
      const url = this.resultBackendUrl;
      if (!url)
        throw new Error(
          "no result backend configured; set TASKFLEET_RESULT_BACKEND or the app's resultBackend",
        );
      this.backendInst = new ResultBackend({
        url,
        resultExpiresSeconds: this.options.resultExpiresSeconds ?? 86400,
        jsonMode: this.jsonMode,
      });
    }
    return this.backendInst;
  }

  hasBackend(): boolean {
    return this.resultBackendUrl !== null;
  }

  queueSpec(name: string): QueueSpec {
    return this.queues.find((q) => q.name === name) ?? { name };
  }

  AsyncResult(id: string): AsyncResult {
    return new AsyncResult(id, this);
  }

  private async declareOnce(spec: QueueSpec): Promise<void> {
    if (this.declareQueues === "passive") return;
    const model = this.connection().current ?? (await this.connection().connect());
    if (this.declaredFor !== model) {
      this.declared.clear();
      this.declaredFor = model;
    }
    let p = this.declared.get(spec.name);
    if (!p) {
      p = ensureQueue(model, spec, "declare");
      this.declared.set(spec.name, p);
      p.catch(() => this.declared.delete(spec.name));
    }
    await p;
  }

  /** Builds the message and route for a task without publishing it. */
  prepare(
    name: string,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
    options: SendOptions = {},
  ): { id: string; item: PublishItem; spec: QueueSpec } {
    const task = this.tasks.get(name);
    const queueName = options.queue ?? task?.options.queue ?? this.defaultQueue;
    const spec = this.queueSpec(queueName);
    const id = options.taskId ?? randomUUID();
    const now = Date.now();
    if (
      options.countdown !== undefined &&
      !(Number.isFinite(options.countdown) && options.countdown >= 0)
    ) {
      throw new Error(`countdown: ${options.countdown} is not allowed; use seconds ≥ 0`);
    }
    const eta = options.countdown
      ? new Date(now + options.countdown * 1000)
      : (options.eta ?? null);
    const expires =
      options.expires === undefined
        ? null
        : options.expires instanceof Date
          ? options.expires
          : new Date(now + options.expires * 1000);
    const enc = encodeTaskV2({
      id,
      task: name,
      args,
      kwargs,
      eta,
      expires,
      timeLimit: options.timeLimitSeconds ?? task?.options.timeLimitSeconds ?? null,
      softTimeLimit: options.softTimeLimitSeconds ?? task?.options.softTimeLimitSeconds ?? null,
      ignoreResult: options.ignoreResult ?? task?.options.ignoreResult ?? false,
      parentId: options.parentId ?? null,
      rootId: options.rootId ?? null,
      chain: options.chain ?? null,
      callbacks: options.callbacks ?? null,
      errbacks: options.errbacks ?? null,
      ...(options.priority !== undefined ? { priority: options.priority } : {}),
      ...(options.headers ? { headers: options.headers } : {}),
      ...(options.replyTo ? { replyTo: options.replyTo } : {}),
      jsonMode: this.jsonMode,
    });
    const exchange = options.exchange ?? spec.exchange ?? "";
    const routingKey =
      options.routingKey ?? (exchange === "" ? spec.name : (spec.routingKey ?? spec.name));
    const item: PublishItem = {
      exchange,
      routingKey,
      content: enc.body,
      options: {
        headers: enc.headers,
        correlationId: enc.properties.correlationId,
        replyTo: enc.properties.replyTo,
        contentType: enc.properties.contentType,
        contentEncoding: enc.properties.contentEncoding,
        deliveryMode: 2,
        ...(enc.properties.priority !== undefined ? { priority: enc.properties.priority } : {}),
      },
    };
    return { id, item, spec };
  }

  /**
   * Publishes a task by name and waits for the broker's confirm. Rejects with
   * {@link PublishRejectedError} when the message is unroutable or nacked.
   */
  async sendTask(
    name: string,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
    options: SendOptions = {},
  ): Promise<AsyncResult> {
    const { id, item, spec } = this.prepare(name, args, kwargs, options);
    if (options.exchange === undefined) await this.declareOnce(spec);
    await this.producer().publish(item);
    return new AsyncResult(id, this);
  }

  /**
   * Publishes many tasks in one confirm window. Resolves with one AsyncResult per task; if any
   * publish fails, rejects with {@link BatchPublishError} holding per-task results and errors.
   */
  async sendTasks(
    tasks: readonly {
      name: string;
      args?: unknown[];
      kwargs?: Record<string, unknown>;
      options?: SendOptions;
    }[],
  ): Promise<AsyncResult[]> {
    const prepared = tasks.map((t) => this.prepare(t.name, t.args, t.kwargs, t.options));
    const specs = new Map<string, QueueSpec>();
    prepared.forEach((p, i) => {
      if (tasks[i]!.options?.exchange === undefined) specs.set(p.spec.name, p.spec);
    });
    for (const s of specs.values()) await this.declareOnce(s);
    const errors = await this.producer().publishMany(prepared.map((p) => p.item));
    const results = prepared.map((p, i) => (errors[i] ? null : new AsyncResult(p.id, this)));
    if (errors.some((e) => e !== null)) throw new BatchPublishError(results, errors);
    return results as AsyncResult[];
  }

  /** Closes producer, broker connection and backend; safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.producerInst?.close();
    await this.conn?.close();
    await this.backendInst?.close();
  }
}

export function createApp(options: AppOptions = {}): App {
  return new App(options);
}

export { PublishRejectedError };
