/**
 * Scheduling: when an admitted job runs. An eta ≥ 1 s away goes down the delay queues (the
 * delivery is acked, nothing is held); a shorter one waits in memory; a per-task rate limit
 * (Celery's, per worker) releases jobs one interval apart; then a ready line ordered by AMQP
 * priority feeds the pool while fewer than `concurrency` jobs run (autoscale moves that number).
 */
import { parseRateLimit, type App } from "../app.js";
import { delayLevelFor, type DelayQueueType } from "../amqp/topology.js";
import { pythonIsoformat } from "../protocol/json.js";
import type { Logger } from "../util/log.js";
import type { Autoscaler } from "./autoscale.js";
import { publishDelayed } from "./delays.js";
import type { WorkerHooks } from "./hooks.js";
import { acksLate, deliveryTag, holdDeadline, isLive, type Job } from "./job.js";
import type { WorkerMetrics } from "./metrics.js";
import type { OutcomeRecorder } from "./outcome.js";
import { rateHoldMs } from "./limits.js";
import type { ExecutionPool } from "./pool.js";

export interface SchedulerDeps {
  readonly app: App;
  readonly log: Logger;
  readonly hooks: WorkerHooks;
  readonly metrics: WorkerMetrics;
  readonly pool: ExecutionPool;
  readonly outcomes: OutcomeRecorder;
  readonly delayQueues: DelayQueueType;
  /** The broker's `consumer_timeout`. */
  readonly consumerTimeoutMs: number;
  readonly concurrency: number;
  readonly autoscaler: Autoscaler | null;
}

/** Header of a rate-limited message sent to wait for its reserved slot (epoch ms). */
export const RATE_SLOT_HEADER = "taskfleet-rate-slot";

interface RateLine {
  /** Jobs with their reserved slot, in slot order. */
  queue: { job: Job; at: number }[];
  nextAt: number;
  timer: NodeJS.Timeout | null;
}

export class Scheduler {
  private concurrency: number;
  private readonly ready: Job[] = [];
  private readonly waiting = new Set<{ job: Job; timer: NodeJS.Timeout }>();
  private readonly rates = new Map<string, RateLine>();
  private readonly runningJobs = new Set<Job>();
  /** Running jobs the worker stopped (shutdown past its timeout): requeued, never reported. */
  private readonly cutShort = new Set<Job>();
  /** Task id → resolves when that run ends: true when its outcome was recorded and acked. */
  private readonly runningIds = new Map<string, Promise<boolean>>();
  private idleWaiters: (() => void)[] = [];
  private stopping = false;
  processed = 0;
  /** Start nothing (the result backend is away); see {@link pause}. */
  private paused = false;
  private sweeper: NodeJS.Timeout | null = null;
  readonly totals = new Map<string, number>();

  constructor(private readonly d: SchedulerDeps) {
    this.concurrency = d.autoscaler ? d.autoscaler.current : d.concurrency;
  }

  get currentConcurrency(): number {
    return this.concurrency;
  }

  /** Jobs running now. */
  get running(): number {
    return this.runningJobs.size;
  }

  runningList(): Job[] {
    return [...this.runningJobs];
  }

  /** The run of this task id under way here, resolving true when it completed. */
  runningHere(taskId: string): Promise<boolean> | null {
    return this.runningIds.get(taskId) ?? null;
  }

  /** Jobs held and not finished: running, ready, waiting for an eta or a rate limit. */
  get reserved(): number {
    let rated = 0;
    for (const st of this.rates.values()) rated += st.queue.length;
    return this.runningJobs.size + this.ready.length + this.waiting.size + rated;
  }

  /** Not started yet (ready or waiting in memory). */
  get unstarted(): number {
    return this.reserved - this.runningJobs.size;
  }

  /** eta, rate limit, then the ready line. */
  submit(job: Job): void {
    if (this.stopping) {
      job.tracker.nack(deliveryTag(job), true);
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
   * Per-task rate limit (Celery's, per worker): each job gets the next free slot, one interval
   * after the previous one (late timers never bunch). A slot within the hold bound
   * ({@link rateHoldMs}) is waited in memory; a later one is reserved and the message goes down
   * the delay queues with its eta set to the slot, marked so that on its return it takes that
   * slot instead of a new one. So no delivery waits in memory near `consumer_timeout`.
   */
  private rateLimited(job: Job): void {
    const name = job.task.name;
    const slot = job.msg.properties.headers?.[RATE_SLOT_HEADER];
    if (slot !== undefined && Number(slot) <= Date.now() + 1000) {
      this.enqueue(job); // its slot was reserved when it was sent to wait
      return;
    }
    let st = this.rates.get(name);
    if (!st) {
      st = { queue: [], nextAt: 0, timer: null };
      this.rates.set(name, st);
    }
    const interval = 1000 / parseRateLimit(job.task.options.rateLimit ?? "1/s");
    const now = Date.now();
    const at = Math.max(st.nextAt, now);
    st.nextAt = at + interval;
    if (at - now <= rateHoldMs(this.d.consumerTimeoutMs) || job.req.protocol !== 2) {
      st.queue.push({ job, at });
      this.releaseRated(name);
      return;
    }
    void this.delayToSlot(job, at);
  }

  private releaseRated(name: string): void {
    const st = this.rates.get(name);
    if (!st || st.timer) return;
    while (st.queue.length > 0) {
      const head = st.queue[0]!;
      const now = Date.now();
      if (now < head.at) {
        st.timer = setTimeout(() => {
          st.timer = null;
          this.releaseRated(name);
        }, head.at - now);
        return;
      }
      st.queue.shift();
      if (isLive(head.job)) this.enqueue(head.job);
    }
  }

  /** Sends a rate-limited message to wait for its reserved slot in the delay queues. */
  private async delayToSlot(job: Job, at: number): Promise<void> {
    const { msg } = job;
    if (!isLive(job)) return;
    const headers = {
      ...msg.properties.headers,
      eta: pythonIsoformat(new Date(at)),
      [RATE_SLOT_HEADER]: String(at),
    };
    try {
      await publishDelayed(
        this.d.app,
        this.d.delayQueues,
        job.queue,
        msg.content,
        { ...msg.properties, headers },
        at - Date.now(),
      );
      job.tracker.ack(deliveryTag(job));
    } catch (err) {
      this.d.log.warn("could not send a rate-limited task to wait; holding it in memory", {
        err: err as Error,
        id: job.req.id,
      });
      const st = this.rates.get(job.task.name)!;
      st.queue.push({ job, at });
      st.queue.sort((x, y) => x.at - y.at);
      this.releaseRated(job.task.name);
    }
  }

  /** Rate-limited jobs not released yet (all of them, emptying the lines). */
  private takeRated(): Job[] {
    const out: Job[] = [];
    for (const st of this.rates.values()) {
      if (st.timer) clearTimeout(st.timer);
      st.timer = null;
      out.push(...st.queue.splice(0).map((e) => e.job));
    }
    return out;
  }

  private wait(job: Job, ms: number): void {
    const entry = {
      job,
      timer: setTimeout(() => {
        this.waiting.delete(entry);
        this.submit(job);
      }, ms),
    };
    this.waiting.add(entry);
  }

  /** Sends a message down a delay level queue and acks the original once confirmed. */
  private async delay(job: Job, remainingMs: number): Promise<void> {
    const { msg } = job;
    if (!isLive(job)) return; // its channel is gone: the broker redelivers it
    try {
      await publishDelayed(
        this.d.app,
        this.d.delayQueues,
        job.queue,
        msg.content,
        msg.properties,
        remainingMs,
      );
      job.tracker.ack(deliveryTag(job));
    } catch (err) {
      this.d.log.warn("could not delay task; holding it in memory", {
        err: err as Error,
        id: job.req.id,
      });
      this.wait(job, Math.min(remainingMs, 5000));
    }
  }

  private enqueue(job: Job): void {
    if (!job.tracker.has(deliveryTag(job))) return;
    // Higher AMQP priority first; FIFO within a priority.
    let i = this.ready.length;
    while (i > 0 && this.ready[i - 1]!.priority < job.priority) i--;
    this.ready.splice(i, 0, job);
    this.rescale();
    this.pump();
  }

  /** Applies the autoscale rule to the backlog now. */
  rescale(): void {
    const a = this.d.autoscaler;
    if (!a) return;
    const before = this.concurrency;
    this.concurrency = a.update(this.reserved, Date.now());
    if (this.concurrency !== before) {
      this.d.log.info("autoscale", { from: before, to: this.concurrency, reserved: this.reserved });
      this.pump();
    }
  }

  private pump(): void {
    while (
      this.runningJobs.size < this.concurrency &&
      this.ready.length > 0 &&
      !this.stopping &&
      !this.paused
    ) {
      const job = this.ready.shift()!;
      if (!isLive(job)) continue;
      void this.execute(job);
    }
  }

  /** Runs one job in the pool, records its outcome, frees its slot. */
  private async execute(job: Job): Promise<void> {
    const { req } = job;
    this.runningJobs.add(job);
    let completed = false;
    let ended!: (v: boolean) => void;
    const ends = new Promise<boolean>((r) => (ended = r));
    if (!this.runningIds.has(req.id)) this.runningIds.set(req.id, ends);
    if (!acksLate(job)) job.tracker.ack(deliveryTag(job));
    this.d.hooks.fire("task-started", job);
    const started = performance.now();
    const handle = this.d.pool.run(job);
    let outcome = await handle.outcome;
    if (this.cutShort.has(job) && (outcome.kind === "error" || !acksLate(job)))
      outcome = { kind: "cut-short", reason: "worker shutdown" };
    const runtime = (performance.now() - started) / 1000;
    this.d.metrics.observeRuntime(runtime);
    try {
      await this.d.outcomes.record(job, outcome, runtime);
      completed = outcome.kind !== "cut-short";
    } catch (err) {
      // Not recorded within the delivery's hold deadline: leave it to a redelivery.
      this.d.log.error("could not record the task's outcome; requeueing it", {
        id: req.id,
        err: err as Error,
      });
      // Requeue after a pause, so a backend outage does not become a tight redelivery loop.
      if (acksLate(job)) setTimeout(() => job.tracker.nack(deliveryTag(job), true), 1000).unref();
    } finally {
      await handle.settled;
      this.runningJobs.delete(job);
      this.cutShort.delete(job);
      if (this.runningIds.get(req.id) === ends) this.runningIds.delete(req.id);
      ended(completed);
      this.processed++;
      this.totals.set(req.task, (this.totals.get(req.task) ?? 0) + 1);
      this.d.hooks.fire("task-finished", job);
      if (this.runningJobs.size === 0) for (const w of this.idleWaiters.splice(0)) w();
      this.pump();
    }
  }

  /** Resolves true once nothing runs, false after `timeoutMs`. */
  waitIdle(timeoutMs: number): Promise<boolean> {
    if (this.runningJobs.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /** Stops starting jobs and requeues every one not started. */
  stop(): void {
    this.stopping = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    for (const w of this.waiting) {
      clearTimeout(w.timer);
      w.job.tracker.nack(deliveryTag(w.job), true);
    }
    this.waiting.clear();
    for (const j of [...this.ready.splice(0), ...this.takeRated()]) {
      j.tracker.nack(deliveryTag(j), true);
    }
  }

  /**
   * Shutdown past its timeout: aborts every running job. An acks-late job that then fails was cut
   * short: it is requeued, never recorded. An early-ack job cannot come back (it was acked): it
   * is recorded now as FAILURE WorkerLostError, as Celery records a task whose child died.
   */
  async abortRunning(reason: Error): Promise<void> {
    const lost: Promise<void>[] = [];
    for (const job of this.runningJobs) {
      this.cutShort.add(job);
      if (!acksLate(job)) lost.push(this.d.outcomes.lost(job, "shutdown timeout reached"));
      this.d.pool.abort(job, reason);
    }
    await Promise.all(lost);
  }

  /**
   * Starts no new job until {@link resume} (the result backend is away: a result computed now
   * could not be stored). Jobs already held wait; one that would be held past its hold deadline
   * (`consumer_timeout`) is requeued instead.
   */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.sweeper = setInterval(() => this.requeueOverdue(), 5000);
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    this.pump();
  }

  private requeueOverdue(): void {
    const soon = Date.now() + 10_000;
    const overdue = (j: Job): boolean => holdDeadline(j, this.d.consumerTimeoutMs) < soon;
    for (let i = this.ready.length - 1; i >= 0; i--) {
      const j = this.ready[i]!;
      if (!overdue(j)) continue;
      this.ready.splice(i, 1);
      this.d.log.warn("held too long while the result backend is away; requeueing", {
        id: j.req.id,
      });
      j.tracker.nack(deliveryTag(j), true);
    }
  }

  /** The channel died: what waits in memory belongs to it (the broker redelivers it). */
  forgetUnstarted(): void {
    for (const w of this.waiting) clearTimeout(w.timer);
    this.waiting.clear();
    this.ready.length = 0;
    this.takeRated();
  }
}
