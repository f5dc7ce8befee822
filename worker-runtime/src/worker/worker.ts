/**
 * The worker: wires the parts Celery's own worker has and owns their lifecycle.
 *
 *   consumer.ts   delivery: channel, consumers, prefetch, decoding, poison, acks (acks.ts)
 *   admission.ts  checks before scheduling: expiry, stored-SUCCESS guard (more can be added)
 *   scheduler.ts  eta (delay queues), rate limits, priority, concurrency and autoscale
 *   pool.ts       the execution pool that runs handlers
 *   outcome.ts    store, retry, canvas follow-ups (canvas.ts), ack
 *   hooks.ts      lifecycle hooks; Celery events (events.ts) listen there
 *   control.ts    remote-control commands; pidbox.ts is their transport
 *
 * Acks come after the outcome is stored (at-least-once); start() resolves once consuming; stop()
 * drains. Probes and metrics are served on the health port.
 */
import { hostname as osHostname, cpus } from "node:os";
import type { Server } from "node:http";
import type { Channel } from "amqplib";
import type { App } from "../app.js";
import { AmqpConnection } from "../amqp/connection.js";
import type { DeclareMode, DelayQueueType } from "../amqp/topology.js";
import { createLogger, type Logger } from "../util/log.js";
import { Admission, expiryCheck, successGuard } from "./admission.js";
import { Autoscaler, type AutoscaleLimits } from "./autoscale.js";
import { BackendGate } from "./backendGate.js";
import { Consumer } from "./consumer.js";
import { ControlCommands, registerBuiltinCommands } from "./control.js";
import { EventDispatcher } from "./events.js";
import { startHealthServer } from "./health.js";
import { WorkerHooks } from "./hooks.js";
import { deliveryTag } from "./job.js";
import { WorkerMetrics } from "./metrics.js";
import { OutcomeRecorder } from "./outcome.js";
import { DEFAULT_CONSUMER_TIMEOUT_MS, runLimits } from "./limits.js";
import { Pidbox } from "./pidbox.js";
import { AsyncPool, type ExecutionPool } from "./pool.js";
import { Scheduler } from "./scheduler.js";

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
  /**
   * The broker's `consumer_timeout`: a delivery held longer makes RabbitMQ close the channel.
   * Retries of a result store or follow-ups end before it. @default 1800000 (RabbitMQ's default)
   */
  consumerTimeoutMs?: number;
  /**
   * Hard time limit of tasks that set none (Celery's `--time-limit`), seconds. Every run is also
   * capped below `consumer_timeout`. @default none
   */
  timeLimitSeconds?: number;
  /** Soft time limit of tasks that set none (Celery's `--soft-time-limit`), seconds. @default none */
  softTimeLimitSeconds?: number;
  /** Rounds over the broker URLs before start() fails. @default 3 */
  connectRounds?: number;
  logger?: Logger;
}

type State = "new" | "starting" | "running" | "stopping" | "stopped";

export class Worker {
  readonly app: App;
  readonly hostname: string;
  readonly queues: string[];
  readonly metrics = new WorkerMetrics();
  /** Lifecycle hooks (signals): listen here to trace, count or extend. */
  readonly hooks: WorkerHooks;
  /** Remote-control commands answered through the pidbox; register more here. */
  readonly control = new ControlCommands();
  /** Checks a job passes before it is scheduled; add more here. */
  readonly admission = new Admission();
  readonly prefetch: number;
  readonly pool: ExecutionPool;
  private readonly opts: WorkerOptions;
  private readonly log: Logger;
  private readonly conn: AmqpConnection;
  private readonly consumer: Consumer;
  private readonly scheduler: Scheduler;
  private readonly gate: BackendGate;
  private readonly events: EventDispatcher | null;
  private readonly pidbox: Pidbox | null;
  private readonly startedAt = Date.now();
  private readonly autoscaler: Autoscaler | null;
  private scaleTimer: NodeJS.Timeout | null = null;
  private health: Server | null = null;
  private state: State = "new";
  private stopPromise: Promise<void> | null = null;

  constructor(app: App, opts: WorkerOptions = {}) {
    this.app = app;
    this.opts = opts;
    this.hostname = opts.hostname ?? `celery@${osHostname()}`;
    this.queues = [...(opts.queues ?? [app.defaultQueue])];
    if (this.queues.length === 0)
      throw new Error("queues: empty; give at least one queue (-Q celery)");
    this.log = (opts.logger ?? app.log ?? createLogger("info")).child({ worker: this.hostname });
    const conc = opts.concurrency ?? Math.max(1, cpus().length);
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
    const autoscaler = opts.autoscale ? new Autoscaler(opts.autoscale, keep) : null;
    this.autoscaler = autoscaler;
    this.prefetch = mult * (opts.autoscale ? opts.autoscale.max : conc);
    this.hooks = new WorkerHooks(this.log);
    this.events = opts.events ? new EventDispatcher(this.hostname) : null;
    this.events?.listen(this.hooks);
    this.conn = new AmqpConnection({
      urls: app.brokerUrl,
      logger: this.log,
      name: `taskfleet-worker ${this.hostname}`,
      initialRounds: opts.connectRounds ?? 3,
    });
    const delayQueues = opts.delayQueues ?? "classic";
    const common = { app, log: this.log, hooks: this.hooks, metrics: this.metrics };
    const consumerTimeoutMs = opts.consumerTimeoutMs ?? DEFAULT_CONSUMER_TIMEOUT_MS;
    const limits = runLimits(
      app,
      {
        consumerTimeoutMs,
        timeLimitSeconds: opts.timeLimitSeconds ?? null,
        softTimeLimitSeconds: opts.softTimeLimitSeconds ?? null,
      },
      this.log,
    );
    this.pool = new AsyncPool(app, this.hostname, limits);
    this.gate = new BackendGate({
      app,
      log: this.log,
      onDown: () => {
        this.scheduler.pause();
        void this.consumer.pause();
      },
      onUp: () => {
        void this.consumer.resume();
        this.scheduler.resume();
      },
    });
    const outcomes = new OutcomeRecorder({
      ...common,
      delayQueues,
      consumerTimeoutMs,
      gate: this.gate,
      stopped: () => this.state === "stopped",
    });
    this.scheduler = new Scheduler({
      ...common,
      pool: this.pool,
      outcomes,
      delayQueues,
      consumerTimeoutMs,
      concurrency: conc,
      autoscaler,
    });
    this.admission.add(expiryCheck(common));
    this.admission.add(
      successGuard({
        ...common,
        runningHere: (id) => this.scheduler.runningHere(id),
        followUps: (job, value) => outcomes.followUps(job, value),
      }),
    );
    this.consumer = new Consumer({
      ...common,
      conn: this.conn,
      queues: this.queues,
      prefetch: this.prefetch,
      declareMode: opts.declareQueues ?? app.declareQueues,
      delayQueues,
      deadLetter: opts.deadLetter ?? "republish",
      attach: (ch) => this.attachChannel(ch),
      detach: () => this.detachChannel(),
      onJob: (job) =>
        this.admission.admit(
          job,
          (j) => this.scheduler.submit(j),
          (j, err) => {
            this.log.error("admission check failed; requeueing", {
              id: j.req.id,
              err: err as Error,
            });
            j.tracker.nack(deliveryTag(j), true);
          },
        ),
      active: () => this.state === "running" || this.state === "starting",
    });
    this.pidbox =
      (opts.remoteControl ?? true) ? new Pidbox(this.hostname, (m) => this.control.get(m)) : null;
    registerBuiltinCommands(this.control, {
      app,
      hostname: this.hostname,
      queues: this.queues,
      prefetch: this.prefetch,
      startedAt: this.startedAt,
      eventsEnabled: this.events !== null,
      brokerUrl: () => this.conn.currentUrl,
      concurrency: () => this.scheduler.currentConcurrency,
      processed: () => this.scheduler.processed,
      totals: () => this.scheduler.totals,
      running: () => this.scheduler.runningList(),
      pool: () => ({ implementation: this.pool.implementation, processes: this.pool.processes() }),
    });
  }

  private async attachChannel(ch: Channel): Promise<void> {
    if (this.events) await this.events.attach(ch);
    if (this.pidbox) await this.pidbox.attach(ch);
  }

  private detachChannel(): void {
    this.events?.detach();
    this.pidbox?.detach();
    this.scheduler.forgetUnstarted();
  }

  /** Tasks running now. */
  get inFlight(): number {
    return this.scheduler.running;
  }

  get currentConcurrency(): number {
    return this.scheduler.currentConcurrency;
  }

  /** Messages received and not finished. */
  get reserved(): number {
    return this.scheduler.reserved;
  }

  /** Connected and consuming every queue. */
  isReady(): { ready: boolean; reason: string } {
    if (this.state !== "running") return { ready: false, reason: `worker is ${this.state}` };
    const down = this.gate.downReason;
    if (down !== null)
      return { ready: false, reason: `task outcomes are not being recorded: ${down}` };
    const reason = this.consumer.notReadyReason();
    return reason ? { ready: false, reason } : { ready: true, reason: "consuming" };
  }

  get healthAddress(): { port: number; host: string } | null {
    const a = this.health?.address();
    return a && typeof a === "object" ? { port: a.port, host: a.address } : null;
  }

  renderMetrics(): string {
    return this.metrics.render({
      inFlight: this.scheduler.running,
      concurrency: this.scheduler.currentConcurrency,
      prefetch: this.prefetch,
      reserved: this.scheduler.reserved,
      ready: this.isReady().ready,
      overdue: this.pool.overdue(),
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
    await this.pool.start();
    try {
      await this.consumer.start();
    } catch (err) {
      if (!this.conn.connected) {
        this.state = "stopped";
        this.health?.close();
      }
      throw err;
    }
    // stop() may have been called while starting (a signal during start-up): leave it to finish.
    if (this.state !== "starting") return;
    this.state = "running";
    if (this.autoscaler) {
      this.scaleTimer = setInterval(
        () => this.scheduler.rescale(),
        Math.min(1000, this.autoscaler.keepAliveMs),
      );
    }
    this.events?.online(() => ({
      active: this.scheduler.running,
      processed: this.scheduler.processed,
    }));
    this.hooks.fire("worker-ready");
    this.log.info("worker ready", {
      queues: this.queues,
      concurrency: this.scheduler.currentConcurrency,
      prefetch: this.prefetch,
      autoscale: this.opts.autoscale ?? null,
      pool: this.pool.implementation,
    });
  }

  /**
   * Graceful stop: stop consuming, requeue prefetched tasks not started, let running tasks
   * finish within the shutdown timeout (then abort their signals; their messages are redelivered
   * when the channel closes), close the worker's connection. The app (producer, backend) stays
   * open: its owner closes it. Safe to call twice.
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
      running: this.scheduler.running,
      prefetched: this.scheduler.unstarted,
      timeoutMs,
    });
    if (this.scaleTimer) clearInterval(this.scaleTimer);
    if (prev !== "new") await this.consumer.cancel();
    this.scheduler.stop();
    const drained = await this.scheduler.waitIdle(timeoutMs);
    if (!drained) {
      this.log.warn("shutdown timeout reached; aborting running tasks (they are requeued)", {
        running: this.scheduler.running,
      });
      await this.scheduler.abortRunning(new Error("worker shutdown"));
      // Handlers that honour their signal end now and requeue themselves; the channel's close
      // requeues the others' messages.
      await this.scheduler.waitIdle(1000);
    }
    this.hooks.fire("worker-shutdown");
    this.events?.offline(this.scheduler.running, this.scheduler.processed);
    await this.consumer.close();
    await this.conn.close();
    await this.pool.close();
    this.gate.close();
    await new Promise<void>((r) => (this.health ? this.health.close(() => r()) : r()));
    this.state = "stopped";
    this.log.info("worker stopped", { processed: this.scheduler.processed, drained });
  }
}
