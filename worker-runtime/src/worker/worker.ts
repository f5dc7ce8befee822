/**
 * The worker: consumes task messages with per-consumer prefetch (concurrency × multiplier, so it
 * works on quorum queues), runs handlers with bounded in-process concurrency, stores results and
 * acks after the store (at-least-once), retries through delay queues, dead-letters poison,
 * honours eta/expires/time limits, autoscales, reconnects, drains on stop, serves probes and
 * metrics, and sends Celery events when asked.
 */
import { hostname as osHostname, cpus } from "node:os";
import type { Server } from "node:http";
import type { Channel, ChannelModel, ConsumeMessage } from "amqplib";
import { RetryRequest, parseRateLimit, type App, type Task, type TaskContext } from "../app.js";
import { AmqpConnection } from "../amqp/connection.js";
import {
  DELAY_HEADER,
  delayExchange,
  POISON_EXCHANGE,
  declareDelayTopology,
  type DelayQueueType,
  declarePoisonTopology,
  delayLevelFor,
  ensureQueue,
  type DeclareMode,
} from "../amqp/topology.js";
import { decodeTask, encodeRetry, type TaskRequest } from "../protocol/message.js";
import {
  SoftTimeLimitExceeded,
  TaskRevokedError,
  TimeLimitExceeded,
  exceptionInfo,
  formatTraceback,
} from "../protocol/result.js";
import { argsRepr } from "../protocol/message.js";
import { createLogger, type Logger } from "../util/log.js";
import { AckTracker } from "./acks.js";
import { Autoscaler, type AutoscaleLimits } from "./autoscale.js";
import { EventDispatcher } from "./events.js";
import { startHealthServer } from "./health.js";
import { WorkerMetrics } from "./metrics.js";
import { Pidbox } from "./pidbox.js";

export interface WorkerOptions {
  /** Queues to consume. @default [app.defaultQueue] */
  queues?: readonly string[];
  /** Tasks run at once. @default the CPU count */
  concurrency?: number;
  /** Prefetch = concurrency (or autoscale max) × this; 0 = unlimited. @default 4 */
  prefetchMultiplier?: number;
  /** Scale concurrency between min and max with the backlog. */
  autoscale?: AutoscaleLimits;
  /** @default AUTOSCALE_KEEPALIVE env (seconds) × 1000, or 30000 */
  autoscaleKeepAliveMs?: number;
  /** Node name, e.g. `worker1@host`. @default celery@<hostname> */
  hostname?: string;
  /** Send Celery events (-E). @default false */
  events?: boolean;
  /** How long stop() lets running tasks finish. @default 30000 */
  shutdownTimeoutMs?: number;
  /** Serve /healthz, /readyz, /metrics on this port (0 = any free port). @default none */
  healthPort?: number;
  /** @default 127.0.0.1 */
  healthHost?: string;
  /** Declare queues or only check them. @default the app's declareQueues */
  declareQueues?: DeclareMode;
  /**
   * Poison messages: "republish" sends them to the `taskfleet.poison` exchange (with the reason
   * in headers) and acks; "reject" rejects them without requeue, for queues that have their own
   * dead-letter exchange. @default "republish"
   */
  deadLetter?: "republish" | "reject";
  /**
   * Delay level queues: "classic" (one node each) or "quorum" (replicated; at-least-once
   * dead-lettering, for clusters). @default "classic"
   */
  delayQueues?: DelayQueueType;
  /** Answer Celery remote control (`celery inspect ping`, Flower). @default true */
  remoteControl?: boolean;
  /** Rounds over the broker URLs before start() fails. @default 3 */
  connectRounds?: number;
  logger?: Logger;
}

/** A Celery signature dict (`celery/canvas.py`). */
interface Signature {
  task: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  options?: Record<string, unknown>;
  immutable?: boolean;
}

function isSignature(v: unknown): v is Signature {
  return typeof v === "object" && v !== null && typeof (v as { task?: unknown }).task === "string";
}

interface Job {
  msg: ConsumeMessage;
  tracker: AckTracker;
  queue: string;
  req: TaskRequest;
  task: Task;
  priority: number;
}

function workerDefaults(): { concurrency: number } {
  return { concurrency: Math.max(1, cpus().length) };
}

export class Worker {
  readonly app: App;
  readonly hostname: string;
  readonly queues: string[];
  readonly metrics = new WorkerMetrics();
  private readonly opts: WorkerOptions;
  private readonly log: Logger;
  private readonly conn: AmqpConnection;
  private readonly autoscaler: Autoscaler | null;
  private concurrency: number;
  readonly prefetch: number;
  private channel: Channel | null = null;
  private tracker: AckTracker | null = null;
  private consumerTags: string[] = [];
  private readonly ready: Job[] = [];
  private readonly waiting = new Set<{ job: Job; timer: NodeJS.Timeout }>();
  private running = 0;
  private readonly runningJobs = new Set<{ job: Job; abort: AbortController }>();
  private processed = 0;
  private readonly rates = new Map<
    string,
    { queue: Job[]; nextAt: number; timer: NodeJS.Timeout | null }
  >();
  private readonly events: EventDispatcher | null;
  private readonly pidbox: Pidbox | null;
  private readonly startedAt = Date.now();
  private heartbeat: NodeJS.Timeout | null = null;
  private scaleTimer: NodeJS.Timeout | null = null;
  private health: Server | null = null;
  private state: "new" | "starting" | "running" | "stopping" | "stopped" = "new";
  private stopPromise: Promise<void> | null = null;
  private idleWaiters: (() => void)[] = [];
  private setupError: string | null = null;

  constructor(app: App, opts: WorkerOptions = {}) {
    this.app = app;
    this.opts = opts;
    this.hostname = opts.hostname ?? `celery@${osHostname()}`;
    this.queues = [...(opts.queues ?? [app.defaultQueue])];
    if (this.queues.length === 0)
      throw new Error("queues: empty; give at least one queue (-Q celery)");
    this.log = (opts.logger ?? app.log ?? createLogger("info")).child({ worker: this.hostname });
    const conc = opts.concurrency ?? workerDefaults().concurrency;
    if (!Number.isInteger(conc) || conc < 1) {
      throw new Error(`concurrency: ${conc} is not allowed; use a whole number ≥ 1`);
    }
    const mult = opts.prefetchMultiplier ?? 4;
    if (!Number.isInteger(mult) || mult < 0) {
      throw new Error(
        `prefetch multiplier: ${mult} is not allowed; use a whole number ≥ 0 (0 = unlimited)`,
      );
    }
    const keep =
      opts.autoscaleKeepAliveMs ??
      (process.env.AUTOSCALE_KEEPALIVE ? Number(process.env.AUTOSCALE_KEEPALIVE) * 1000 : 30_000);
    this.autoscaler = opts.autoscale ? new Autoscaler(opts.autoscale, keep) : null;
    this.concurrency = this.autoscaler ? this.autoscaler.current : conc;
    this.prefetch = mult * (opts.autoscale ? opts.autoscale.max : conc);
    this.events = opts.events ? new EventDispatcher(this.hostname) : null;
    this.pidbox =
      (opts.remoteControl ?? true) ? new Pidbox(this.hostname, this.controlHandlers()) : null;
    this.conn = new AmqpConnection({
      urls: app.brokerUrl,
      logger: this.log,
      name: `taskfleet-worker ${this.hostname}`,
      initialRounds: opts.connectRounds ?? 3,
    });
    this.conn.on("connected", (m) => void this.setup(m));
    this.conn.on("disconnected", () => this.teardownChannel());
  }

  private controlHandlers(): Record<string, (args: Record<string, unknown>) => unknown> {
    return {
      ping: () => ({ ok: "pong" }),
      stats: () => ({
        pid: process.pid,
        clock: String(this.processed),
        uptime: Math.round((Date.now() - this.startedAt) / 1000),
        total: Object.fromEntries(this.totals),
        pool: {
          implementation: "taskfleet:async",
          "max-concurrency": this.concurrency,
          processes: [process.pid],
          "put-guarded-by-semaphore": false,
        },
        prefetch_count: this.prefetch,
        broker: { transport: "amqp", hostname: this.conn.currentUrl },
        sw_ident: "taskfleet",
        rusage: { maxrss: Math.round(process.memoryUsage().rss / 1024) },
      }),
      registered: () => [...this.app.tasks.keys()].sort(),
      active_queues: () =>
        this.queues.map((q) => {
          const s = this.app.queueSpec(q);
          return {
            name: q,
            exchange: { name: s.exchange ?? "", type: s.exchangeType ?? "direct" },
            routing_key: s.routingKey ?? q,
            durable: true,
          };
        }),
      active: () =>
        [...this.runningJobs].map(({ job }) => ({
          id: job.req.id,
          name: job.req.task,
          args: job.req.args,
          kwargs: job.req.kwargs,
          type: job.req.task,
          hostname: this.hostname,
          acknowledged: !(job.task.options.acksLate ?? true),
          delivery_info: {
            routing_key: job.msg.fields.routingKey,
            exchange: job.msg.fields.exchange,
            redelivered: job.msg.fields.redelivered,
          },
          worker_pid: process.pid,
        })),
      enable_events: () => ({
        ok: this.events
          ? "task events already enabled"
          : "events are off; start the worker with -E",
      }),
      disable_events: () => ({ ok: "events unchanged (set with -E)" }),
    };
  }

  private readonly totals = new Map<string, number>();

  /** Tasks running now. */
  get inFlight(): number {
    return this.running;
  }

  get currentConcurrency(): number {
    return this.concurrency;
  }

  /** Messages received and not finished. */
  get reserved(): number {
    let rated = 0;
    for (const st of this.rates.values()) rated += st.queue.length;
    return this.running + this.ready.length + this.waiting.size + rated;
  }

  /** Connected and consuming every queue. */
  isReady(): { ready: boolean; reason: string } {
    if (this.state !== "running") return { ready: false, reason: `worker is ${this.state}` };
    if (!this.conn.connected) return { ready: false, reason: "not connected to the broker" };
    if (this.setupError) return { ready: false, reason: this.setupError };
    if (this.consumerTags.length !== this.queues.length)
      return { ready: false, reason: "not consuming every queue" };
    return { ready: true, reason: "consuming" };
  }

  get healthAddress(): { port: number; host: string } | null {
    const a = this.health?.address();
    return a && typeof a === "object" ? { port: a.port, host: a.address } : null;
  }

  renderMetrics(): string {
    return this.metrics.render({
      inFlight: this.running,
      concurrency: this.concurrency,
      prefetch: this.prefetch,
      reserved: this.reserved,
      ready: this.isReady().ready,
    });
  }

  /** Connects, declares, starts consuming; resolves once consuming (or throws). */
  async start(): Promise<void> {
    if (this.state !== "new") throw new Error(`worker already ${this.state}`);
    this.state = "starting";
    if (this.opts.healthPort !== undefined) {
      this.health = await startHealthServer(
        {
          live: () => this.state !== "stopped",
          ready: () => this.isReady(),
          metrics: () => this.renderMetrics(),
        },
        this.opts.healthPort,
        this.opts.healthHost ?? "127.0.0.1",
      );
    }
    if (this.app.hasBackend()) await this.app.backend().connect();
    const ready = new Promise<void>((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    try {
      await this.conn.connect();
    } catch (err) {
      this.state = "stopped";
      this.health?.close();
      throw err;
    }
    await ready;
    // stop() may have been called while starting (a signal during start-up): leave it to finish.
    if (this.state !== "starting") return;
    this.state = "running";
    if (this.autoscaler) {
      this.scaleTimer = setInterval(
        () => this.rescale(),
        Math.min(1000, this.autoscaler.keepAliveMs),
      );
    }
    if (this.events) {
      this.events.send("worker-online", this.events.workerFields(this.running, this.processed));
      this.heartbeat = setInterval(
        () =>
          this.events?.send(
            "worker-heartbeat",
            this.events.workerFields(this.running, this.processed),
          ),
        2000,
      );
    }
    this.log.info("worker ready", {
      queues: this.queues,
      concurrency: this.concurrency,
      prefetch: this.prefetch,
      autoscale: this.opts.autoscale ?? null,
    });
  }

  private readyResolve: (() => void) | null = null;
  private readyReject: ((e: Error) => void) | null = null;

  private async setup(model: ChannelModel): Promise<void> {
    try {
      const mode = this.opts.declareQueues ?? this.app.declareQueues;
      const specs = this.queues.map((q) => this.app.queueSpec(q));
      for (const s of specs) await ensureQueue(model, s, mode);
      const ch = await model.createChannel();
      ch.on("error", (err: Error) => this.log.warn("channel error", { err }));
      ch.on("close", () => {
        if (this.channel === ch) {
          this.teardownChannel();
          if (this.state === "running" || this.state === "starting") {
            // the connection is alive but the channel died (e.g. queue deleted): set up again
            setTimeout(() => {
              const m = this.conn.current;
              if (m === model && (this.state === "running" || this.state === "starting"))
                void this.setup(m);
            }, 1000);
          }
        }
      });
      await declareDelayTopology(ch, this.opts.delayQueues ?? "classic");
      await declarePoisonTopology(ch);
      if (this.events) await this.events.attach(ch);
      await ch.prefetch(this.prefetch, false);
      const tracker = new AckTracker(ch);
      this.channel = ch;
      this.tracker = tracker;
      this.consumerTags = [];
      for (const q of this.queues) {
        const { consumerTag } = await ch.consume(q, (msg) => {
          if (msg) this.onMessage(msg, tracker, q);
          else this.onCancelled(q, ch);
        });
        this.consumerTags.push(consumerTag);
      }
      if (this.pidbox) await this.pidbox.attach(ch);
      this.setupError = null;
      this.log.info("consuming", { queues: this.queues, prefetch: this.prefetch });
      this.readyResolve?.();
      this.readyResolve = null;
    } catch (err) {
      this.setupError = `setup failed: ${(err as Error).message}`;
      this.log.error("worker setup failed", { err: err as Error });
      if (this.readyReject) {
        this.readyReject(err as Error);
        this.readyReject = null;
        this.readyResolve = null;
      } else {
        setTimeout(() => {
          const m = this.conn.current;
          if (m === model && this.state === "running") void this.setup(m);
        }, 2000);
      }
    }
  }

  private onCancelled(queue: string, ch: Channel): void {
    this.log.warn("broker cancelled the consumer (queue deleted?); re-subscribing", { queue });
    this.consumerTags = [];
    void ch.close().catch(() => undefined);
  }

  private teardownChannel(): void {
    if (this.tracker) this.tracker.closed = true;
    this.channel = null;
    this.tracker = null;
    this.consumerTags = [];
    this.events?.detach();
    this.pidbox?.detach();
    // Waiting messages belong to the dead channel: the broker redelivers them.
    for (const w of this.waiting) clearTimeout(w.timer);
    this.waiting.clear();
    this.ready.length = 0;
    this.takeRated();
  }

  private onMessage(msg: ConsumeMessage, tracker: AckTracker, queue: string): void {
    tracker.track(msg.fields.deliveryTag);
    this.metrics.received++;
    let req: TaskRequest;
    try {
      req = decodeTask(msg.content, msg.properties);
    } catch (err) {
      this.poison(msg, tracker, queue, (err as Error).message);
      return;
    }
    const task = this.app.tasks.get(req.task);
    if (!task) {
      this.poison(
        msg,
        tracker,
        queue,
        `unknown task "${req.task}" (registered: ${[...this.app.tasks.keys()].join(", ") || "none"})`,
      );
      return;
    }
    const arity = task.options.arity;
    if (
      arity !== undefined ? req.args.length !== arity : req.args.length < task.handler.length - 1
    ) {
      const want = arity !== undefined ? `${arity}` : `at least ${task.handler.length - 1}`;
      this.poison(
        msg,
        tracker,
        queue,
        `task "${req.task}" takes ${want} positional arguments, got ${req.args.length}`,
      );
      return;
    }
    const job: Job = { msg, tracker, queue, req, task, priority: msg.properties.priority ?? 0 };
    this.events?.send("task-received", {
      uuid: req.id,
      name: req.task,
      args: argsRepr(req.args),
      kwargs: argsRepr(req.kwargs),
      root_id: req.rootId,
      parent_id: req.parentId,
      retries: req.retries,
      eta: req.eta?.toISOString() ?? null,
      expires: req.expires?.toISOString() ?? null,
    });
    if (req.expires && req.expires.getTime() <= Date.now()) {
      void this.revokeExpired(job);
      return;
    }
    if (msg.fields.redelivered && this.app.hasBackend()) {
      // A redelivery of a task whose SUCCESS is stored (lost ack): do not run it again.
      this.app
        .backend()
        .getMeta(req.id)
        .then(
          (m) => {
            if (m?.status === "SUCCESS") {
              this.log.info("redelivered task already succeeded; acking without running", {
                id: req.id,
                task: req.task,
              });
              tracker.ack(msg.fields.deliveryTag);
            } else this.schedule(job);
          },
          () => this.schedule(job),
        );
      return;
    }
    this.schedule(job);
  }

  private poison(msg: ConsumeMessage, tracker: AckTracker, queue: string, reason: string): void {
    this.metrics.rejected++;
    const tag = msg.fields.deliveryTag;
    this.log.error("poison message dead-lettered", {
      queue,
      reason,
      correlationId: msg.properties.correlationId ?? null,
    });
    if ((this.opts.deadLetter ?? "republish") === "reject") {
      tracker.nack(tag, false);
      return;
    }
    this.app
      .producer()
      .publish({
        exchange: POISON_EXCHANGE,
        routingKey: queue,
        content: msg.content,
        options: {
          ...msg.properties,
          headers: {
            ...msg.properties.headers,
            "x-taskfleet-poison-reason": reason,
            "x-taskfleet-original-queue": queue,
          },
        },
      })
      .then(
        () => tracker.ack(tag),
        (err: unknown) => {
          this.log.error("could not republish poison message; rejecting it", { err: err as Error });
          tracker.nack(tag, false);
        },
      );
  }

  private async revokeExpired(job: Job): Promise<void> {
    const { req } = job;
    this.metrics.revoked++;
    this.log.info("task expired; recording REVOKED", {
      id: req.id,
      task: req.task,
      expires: req.expires?.toISOString(),
    });
    try {
      if (this.app.hasBackend() && !req.ignoreResult) {
        await this.app
          .backend()
          .store({ taskId: req.id, status: "REVOKED", error: new TaskRevokedError("expired") });
      }
      this.events?.send("task-revoked", {
        uuid: req.id,
        terminated: false,
        signum: null,
        expired: true,
      });
      job.tracker.ack(job.msg.fields.deliveryTag);
    } catch (err) {
      this.log.error("could not store REVOKED; requeueing", { err: err as Error });
      job.tracker.nack(job.msg.fields.deliveryTag, true);
    }
  }

  /** eta, rate limit, then the ready queue. */
  private schedule(job: Job): void {
    if (this.state === "stopping" || this.state === "stopped") {
      job.tracker.nack(job.msg.fields.deliveryTag, true);
      return;
    }
    const now = Date.now();
    const eta = job.req.eta?.getTime() ?? 0;
    if (eta > now) {
      const remaining = eta - now;
      if (delayLevelFor(remaining) !== null) {
        void this.delay(job, remaining);
        return;
      }
      this.wait(job, remaining);
      return;
    }
    if (job.task.options.rateLimit) {
      this.rateLimited(job);
      return;
    }
    this.enqueue(job);
  }

  /**
   * Per-task rate limit (Celery's, per worker): jobs wait in a per-task line and are released one
   * at a time, each at least one interval after the previous release (late timers never bunch).
   */
  private rateLimited(job: Job): void {
    const name = job.task.name;
    let st = this.rates.get(name);
    if (!st) {
      st = { queue: [], nextAt: 0, timer: null };
      this.rates.set(name, st);
    }
    st.queue.push(job);
    this.releaseRated(name);
  }

  private releaseRated(name: string): void {
    const st = this.rates.get(name);
    if (!st || st.timer) return;
    const interval = 1000 / parseRateLimit(st.queue[0]?.task.options.rateLimit ?? "1/s");
    while (st.queue.length > 0) {
      const now = Date.now();
      if (now < st.nextAt) {
        st.timer = setTimeout(() => {
          st.timer = null;
          this.releaseRated(name);
        }, st.nextAt - now);
        return;
      }
      const job = st.queue.shift()!;
      if (!job.tracker.has(job.msg.fields.deliveryTag)) continue;
      st.nextAt = now + interval;
      this.enqueue(job);
    }
  }

  /** Rate-limited jobs not released yet (all of them, emptying the lines). */
  private takeRated(): Job[] {
    const out: Job[] = [];
    for (const st of this.rates.values()) {
      if (st.timer) clearTimeout(st.timer);
      st.timer = null;
      out.push(...st.queue.splice(0));
    }
    return out;
  }

  private wait(job: Job, ms: number): void {
    const entry = {
      job,
      timer: setTimeout(() => {
        this.waiting.delete(entry);
        this.schedule(job);
      }, ms),
    };
    this.waiting.add(entry);
  }

  /** Sends a message down a delay level queue and acks the original once confirmed. */
  private async delay(job: Job, remainingMs: number): Promise<void> {
    const level = delayLevelFor(remainingMs)!;
    const { msg } = job;
    try {
      await this.app.producer().publish({
        exchange: delayExchange(this.opts.delayQueues ?? "classic"),
        routingKey: job.queue,
        content: msg.content,
        options: {
          ...msg.properties,
          headers: { ...msg.properties.headers, [DELAY_HEADER]: String(level) },
        },
      });
      job.tracker.ack(msg.fields.deliveryTag);
    } catch (err) {
      this.log.warn("could not delay task; holding it in memory", {
        err: err as Error,
        id: job.req.id,
      });
      this.wait(job, Math.min(remainingMs, 5000));
    }
  }

  private enqueue(job: Job): void {
    if (!job.tracker.has(job.msg.fields.deliveryTag)) return;
    // Higher AMQP priority first; FIFO within a priority.
    let i = this.ready.length;
    while (i > 0 && this.ready[i - 1]!.priority < job.priority) i--;
    this.ready.splice(i, 0, job);
    this.rescale();
    this.pump();
  }

  private rescale(): void {
    if (!this.autoscaler) return;
    const before = this.concurrency;
    this.concurrency = this.autoscaler.update(this.reserved, Date.now());
    if (this.concurrency !== before) {
      this.log.info("autoscale", { from: before, to: this.concurrency, reserved: this.reserved });
      this.pump();
    }
  }

  private pump(): void {
    while (this.running < this.concurrency && this.ready.length > 0 && this.state !== "stopping") {
      const job = this.ready.shift()!;
      if (!job.tracker.has(job.msg.fields.deliveryTag) || job.tracker.closed) continue;
      void this.run(job);
    }
  }

  private retryDelaySeconds(task: Task, retries: number): number {
    const o = task.options;
    const backoff = o.retryBackoff ?? true;
    if (backoff === false) return o.defaultRetryDelaySeconds ?? 180;
    const factor = backoff === true ? 1 : backoff;
    const max = o.retryBackoffMaxSeconds ?? 600;
    const countdown = Math.min(max, factor * 2 ** retries);
    return (o.retryJitter ?? true) ? Math.random() * countdown : countdown;
  }

  private matchesAutoretry(task: Task, err: unknown): boolean {
    const list = task.options.autoretryFor ?? [];
    return list.some((c) =>
      typeof c === "string"
        ? err instanceof Error && err.name === c
        : err instanceof (c as abstract new (...a: never[]) => Error),
    );
  }

  private async run(job: Job): Promise<void> {
    const { req, task, msg, tracker } = job;
    const tag = msg.fields.deliveryTag;
    const acksLate = task.options.acksLate ?? true;
    this.running++;
    const abort = new AbortController();
    const entry = { job, abort };
    this.runningJobs.add(entry);
    if (!acksLate) tracker.ack(tag);
    this.events?.send("task-started", { uuid: req.id });
    const started = performance.now();
    const [hard, soft] = [
      req.timelimit[0] ?? task.options.timeLimitSeconds,
      req.timelimit[1] ?? task.options.softTimeLimitSeconds,
    ];
    let softTimer: NodeJS.Timeout | undefined;
    let hardTimer: NodeJS.Timeout | undefined;
    if (soft) {
      softTimer = setTimeout(
        () => abort.abort(new SoftTimeLimitExceeded(`soft time limit (${soft}s) exceeded`)),
        soft * 1000,
      );
    }
    const ctx: TaskContext = {
      request: req,
      kwargs: req.kwargs,
      signal: abort.signal,
      hostname: this.hostname,
      app: this.app,
      retry: (o = {}) => new RetryRequest(o.countdownSeconds, o.exc),
    };
    let outcome: { ok: true; value: unknown } | { ok: false; err: unknown };
    try {
      const handler = task.handler as (...args: unknown[]) => unknown;
      const p = Promise.resolve().then(() => handler(...req.args, ctx));
      const value = hard
        ? await Promise.race([
            p,
            new Promise<never>((_, reject) => {
              hardTimer = setTimeout(() => {
                abort.abort(new TimeLimitExceeded(`hard time limit (${hard}s) exceeded`));
                reject(new TimeLimitExceeded(`TimeLimitExceeded(${hard})`));
              }, hard * 1000);
            }),
          ])
        : await p;
      outcome = { ok: true, value };
    } catch (err) {
      outcome = { ok: false, err };
    } finally {
      clearTimeout(softTimer);
      clearTimeout(hardTimer);
    }
    const runtime = (performance.now() - started) / 1000;
    this.metrics.observeRuntime(runtime);
    try {
      await this.finish(job, outcome, runtime, acksLate);
    } catch (err) {
      // The result could not be stored (backend down): leave it to a redelivery.
      this.log.error("could not record the task's outcome; requeueing it", {
        id: req.id,
        err: err as Error,
      });
      // Requeue after a pause, so a backend outage does not become a tight redelivery loop.
      if (acksLate) setTimeout(() => tracker.nack(tag, true), 1000).unref();
    } finally {
      this.runningJobs.delete(entry);
      this.running--;
      this.processed++;
      this.totals.set(req.task, (this.totals.get(req.task) ?? 0) + 1);
      if (this.running === 0) for (const w of this.idleWaiters.splice(0)) w();
      this.pump();
    }
  }

  private async finish(
    job: Job,
    outcome: { ok: true; value: unknown } | { ok: false; err: unknown },
    runtime: number,
    acksLate: boolean,
  ): Promise<void> {
    const { req, task, msg, tracker } = job;
    const tag = msg.fields.deliveryTag;
    const store = this.app.hasBackend() && !req.ignoreResult && !task.options.ignoreResult;
    const base = { taskId: req.id, groupId: req.groupId, parentId: req.parentId };
    if (outcome.ok) {
      if (store)
        await this.app.backend().store({ ...base, status: "SUCCESS", result: outcome.value });
      if (req.chain?.length || req.callbacks?.length) await this.followUps(req, outcome.value);
      if (acksLate) tracker.ack(tag);
      this.metrics.succeeded++;
      this.events?.send("task-succeeded", {
        uuid: req.id,
        result: argsRepr(outcome.value),
        runtime,
      });
      this.log.debug("task succeeded", { id: req.id, task: req.task, runtime });
      return;
    }
    let err = outcome.err;
    const explicit = err instanceof RetryRequest;
    if (explicit || this.matchesAutoretry(task, err)) {
      const max = task.options.maxRetries ?? 3;
      const cause = explicit ? ((err as RetryRequest).exc ?? err) : err;
      if (req.retries < max) {
        const countdown =
          explicit && (err as RetryRequest).countdownSeconds !== undefined
            ? (err as RetryRequest).countdownSeconds!
            : this.retryDelaySeconds(task, req.retries);
        const eta = new Date(Date.now() + countdown * 1000);
        const enc = encodeRetry(req, eta, this.app.jsonMode);
        const level = delayLevelFor(countdown * 1000);
        if (store) await this.app.backend().store({ ...base, status: "RETRY", error: cause });
        await this.app.producer().publish({
          exchange: level === null ? "" : delayExchange(this.opts.delayQueues ?? "classic"),
          routingKey: job.queue,
          content: enc.body,
          options: {
            headers:
              level === null ? enc.headers : { ...enc.headers, [DELAY_HEADER]: String(level) },
            correlationId: enc.properties.correlationId,
            replyTo: enc.properties.replyTo,
            contentType: enc.properties.contentType,
            contentEncoding: enc.properties.contentEncoding,
            deliveryMode: 2,
            ...(msg.properties.priority !== undefined ? { priority: msg.properties.priority } : {}),
          },
        });
        if (acksLate) tracker.ack(tag);
        this.metrics.retried++;
        this.events?.send("task-retried", {
          uuid: req.id,
          exception: String(cause),
          traceback: formatTraceback(cause),
        });
        this.log.info("task retry scheduled", {
          id: req.id,
          task: req.task,
          retries: req.retries + 1,
          countdown,
        });
        return;
      }
      err = cause;
    }
    if (store) await this.app.backend().store({ ...base, status: "FAILURE", error: err });
    // link_error: remote errbacks get the failed task's id, as Celery sends them.
    for (const eb of req.errbacks ?? []) {
      if (!isSignature(eb)) continue;
      const args = eb.immutable ? [...(eb.args ?? [])] : [req.id, ...(eb.args ?? [])];
      await this.app.sendTask(eb.task, args, eb.kwargs ?? {}, {
        ...(typeof eb.options?.queue === "string" ? { queue: eb.options.queue } : {}),
        parentId: req.id,
        rootId: req.rootId ?? req.id,
      });
    }
    if (acksLate) tracker.ack(tag);
    this.metrics.failed++;
    const info = exceptionInfo(err);
    this.events?.send("task-failed", {
      uuid: req.id,
      exception: `${info.exc_type}(${info.exc_message.map((m) => JSON.stringify(m)).join(", ")})`,
      traceback: formatTraceback(err),
    });
    this.log.warn("task failed", {
      id: req.id,
      task: req.task,
      error: `${info.exc_type}: ${info.exc_message.map(String).join(", ")}`,
    });
  }

  /**
   * Celery canvas after a success: each `link` callback and the next step of a chain are sent
   * with the result prepended to their args (unless immutable), confirmed before the ack.
   */
  private async followUps(req: TaskRequest, value: unknown): Promise<void> {
    const sigs: { sig: Signature; chain: unknown[] | null }[] = [];
    for (const cb of req.callbacks ?? []) if (isSignature(cb)) sigs.push({ sig: cb, chain: null });
    if (req.chain && req.chain.length > 0) {
      const rest = [...req.chain];
      const next = rest.pop();
      if (isSignature(next)) sigs.push({ sig: next, chain: rest.length ? rest : null });
    }
    for (const { sig, chain } of sigs) {
      const o = sig.options ?? {};
      const args = sig.immutable ? [...(sig.args ?? [])] : [value, ...(sig.args ?? [])];
      await this.app.sendTask(sig.task, args, sig.kwargs ?? {}, {
        ...(typeof o.task_id === "string" ? { taskId: o.task_id } : {}),
        ...(typeof o.queue === "string" ? { queue: o.queue } : {}),
        ...(typeof o.routing_key === "string" ? { routingKey: o.routing_key } : {}),
        ...(typeof o.priority === "number" ? { priority: o.priority } : {}),
        parentId: req.id,
        rootId: req.rootId ?? req.id,
        chain,
        callbacks: Array.isArray(o.link) ? (o.link as unknown[]) : null,
      });
    }
  }

  private waitIdle(timeoutMs: number): Promise<boolean> {
    if (this.running === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /**
   * Graceful stop: stop consuming, requeue prefetched tasks not started, let running tasks
   * finish within the shutdown timeout (then abort their signals; their messages are redelivered
   * when the channel closes), close the worker's connection. The app (producer, backend) stays open: its owner closes it.
   * Safe to call twice.
   */
  stop(opts: { timeoutMs?: number } = {}): Promise<void> {
    this.stopPromise ??= this.doStop(opts.timeoutMs ?? this.opts.shutdownTimeoutMs ?? 30_000);
    return this.stopPromise;
  }

  close(): Promise<void> {
    return this.stop();
  }

  private async doStop(timeoutMs: number): Promise<void> {
    const prev = this.state;
    this.state = "stopping";
    this.log.info("worker stopping", {
      running: this.running,
      prefetched: this.ready.length + this.waiting.size,
      timeoutMs,
    });
    if (this.scaleTimer) clearInterval(this.scaleTimer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    const ch = this.channel;
    if (ch && prev !== "new") {
      for (const t of this.consumerTags) await ch.cancel(t).catch(() => undefined);
    }
    this.consumerTags = [];
    for (const w of this.waiting) {
      clearTimeout(w.timer);
      w.job.tracker.nack(w.job.msg.fields.deliveryTag, true);
    }
    this.waiting.clear();
    for (const j of [...this.ready.splice(0), ...this.takeRated()]) {
      j.tracker.nack(j.msg.fields.deliveryTag, true);
    }
    const drained = await this.waitIdle(timeoutMs);
    if (!drained) {
      this.log.warn(
        "shutdown timeout reached; aborting running tasks (their messages are redelivered)",
        { running: this.running },
      );
      for (const r of this.runningJobs) r.abort.abort(new Error("worker shutdown"));
    }
    this.tracker?.flush();
    this.events?.send("worker-offline", this.events.workerFields(this.running, this.processed));
    if (ch) await ch.close().catch(() => undefined);
    await this.conn.close();
    await new Promise<void>((r) => (this.health ? this.health.close(() => r()) : r()));
    this.state = "stopped";
    this.log.info("worker stopped", { processed: this.processed, drained });
  }
}
