/**
 * The outcome of a run: store it (SUCCESS, RETRY, FAILURE), republish retries, send canvas
 * follow-ups and errbacks, then ack, then tell the hooks (events, signals). The message is acked
 * only after all of that is done and confirmed.
 */
import { RetryRequest, type App } from "../app.js";
import type { DelayQueueType } from "../amqp/topology.js";
import { EncodeError } from "../protocol/json.js";
import { argsRepr, encodeRetry } from "../protocol/message.js";
import { MaxRetriesExceededError, WorkerLostError, exceptionInfo } from "../protocol/result.js";
import type { BuildMetaInput } from "../protocol/result.js";
import type { Logger } from "../util/log.js";
import type { BackendGate } from "./backendGate.js";
import { hasFollowUps, sendErrbacks, sendFollowUps } from "./canvas.js";
import { publishDelayed } from "./delays.js";
import type { WorkerHooks } from "./hooks.js";
import { acksLate, deliveryTag, holdDeadline, type Job, type Outcome } from "./job.js";
import type { WorkerMetrics } from "./metrics.js";
import { persist } from "./persist.js";
import { retryDelaySeconds } from "./retry.js";

export interface OutcomeDeps {
  readonly app: App;
  readonly log: Logger;
  readonly hooks: WorkerHooks;
  readonly metrics: WorkerMetrics;
  readonly delayQueues: DelayQueueType;
  /** The broker's `consumer_timeout`: retries of the store and follow-ups end before it. */
  readonly consumerTimeoutMs: number;
  /** Told of every failed and successful store. */
  readonly gate: BackendGate;
  /** The worker has stopped: stop retrying. */
  readonly stopped: () => boolean;
}

export class OutcomeRecorder {
  constructor(private readonly d: OutcomeDeps) {}

  /** Whether this job's states go to the result backend. */
  private stores(job: Job): boolean {
    return this.d.app.hasBackend() && !job.req.ignoreResult && !job.task.options.ignoreResult;
  }

  /**
   * Stores a state, retrying while the backend is unavailable (the gate closes meanwhile) until
   * the delivery's hold deadline; the delivery stays unacked all along. Throws after that (the
   * caller requeues) or at once for a value that cannot be encoded.
   */
  private async store(
    job: Job,
    input: Omit<BuildMetaInput, "taskId" | "groupId" | "parentId">,
  ): Promise<void> {
    const { req } = job;
    const full = { ...input, taskId: req.id, groupId: req.groupId, parentId: req.parentId };
    await persist(() => this.d.app.backend().store(full), {
      deadline: holdDeadline(job, this.d.consumerTimeoutMs),
      stop: this.d.stopped,
      onRetry: (err, attempt, delayMs) => {
        this.d.gate.failed(err);
        this.d.log.warn("could not store the task's state; retrying", {
          id: req.id,
          status: input.status,
          err: err as Error,
          attempt,
          delayMs,
        });
      },
    });
    this.d.gate.ok();
  }

  /**
   * Records the outcome and acks. Throws when the outcome could not be recorded (backend or
   * broker down): the message is not acked then.
   */
  async record(job: Job, outcome: Outcome, runtime: number): Promise<void> {
    switch (outcome.kind) {
      case "success":
        return this.succeeded(job, outcome.value, runtime);
      case "cut-short":
        // an early-ack job was recorded as lost when it was cut short (lost())
        if (!acksLate(job)) return;
        job.tracker.nack(deliveryTag(job), true);
        this.d.hooks.fire("task-requeued", job, outcome.reason);
        this.d.log.info("task cut short by shutdown; requeued", { id: job.req.id });
        return;
      case "error":
        return this.errored(job, outcome.error, outcome.autoretry, runtime);
    }
  }

  /** An early-acked job that will not finish (its worker stops): FAILURE WorkerLostError. */
  async lost(job: Job, why: string): Promise<void> {
    try {
      await this.failed(job, new WorkerLostError(`Worker exited prematurely: ${why}`), 0);
    } catch (err) {
      this.d.log.error("could not record a lost early-acked task", {
        id: job.req.id,
        err: err as Error,
      });
    }
  }

  private async succeeded(job: Job, value: unknown, runtime: number): Promise<void> {
    const { req } = job;
    try {
      if (this.stores(job)) await this.store(job, { status: "SUCCESS", result: value });
      if (hasFollowUps(req)) await this.followUps(job, value);
    } catch (err) {
      // Celery: a result the serializer refuses is stored as FAILURE EncodeError (app/trace.py).
      if (!(err instanceof EncodeError)) throw err;
      await this.failed(job, err, runtime);
      return;
    }
    if (acksLate(job)) job.tracker.ack(deliveryTag(job));
    this.d.metrics.succeeded++;
    this.d.hooks.fire("task-succeeded", job, value, runtime);
    this.d.log.debug("task succeeded", { id: req.id, task: req.task, runtime });
  }

  /**
   * Sends the chain step and links, retrying while the broker refuses them (a full queue with
   * reject-publish, a lost connection) until the delivery's hold deadline; after that the message
   * is requeued and its redelivery, finding SUCCESS stored, sends them again.
   */
  async followUps(job: Job, value: unknown): Promise<void> {
    await persist(() => sendFollowUps(this.d.app, job.req, value), {
      deadline: holdDeadline(job, this.d.consumerTimeoutMs),
      stop: this.d.stopped,
      onRetry: (err, attempt, delayMs) =>
        this.d.log.warn("could not send the task's follow-ups; retrying", {
          id: job.req.id,
          err: err as Error,
          attempt,
          delayMs,
        }),
    });
  }

  private async errored(
    job: Job,
    error: unknown,
    autoretry: boolean,
    runtime: number,
  ): Promise<void> {
    let err = error;
    const explicit = err instanceof RetryRequest;
    if (explicit || autoretry) {
      const max = job.task.options.maxRetries ?? 3;
      const exc = explicit ? (err as RetryRequest).exc : err;
      if (job.req.retries < max) {
        const countdown =
          explicit && (err as RetryRequest).countdownSeconds !== undefined
            ? (err as RetryRequest).countdownSeconds!
            : retryDelaySeconds(job.task, job.req.retries);
        await this.retry(job, exc ?? err, countdown);
        return;
      }
      // Celery's Task.retry(): out of retries, it raises exc if given, else MaxRetriesExceededError
      err =
        exc ??
        new MaxRetriesExceededError(
          `Can't retry ${job.req.task}[${job.req.id}] args:${argsRepr(job.req.args)} kwargs:${argsRepr(job.req.kwargs)}`,
        );
    }
    await this.failed(job, err, runtime);
  }

  private async retry(job: Job, cause: unknown, countdown: number): Promise<void> {
    const { req, msg } = job;
    const eta = new Date(Date.now() + countdown * 1000);
    const enc = encodeRetry(req, eta, this.d.app.jsonMode);
    if (this.stores(job)) await this.store(job, { status: "RETRY", error: cause });
    await publishDelayed(
      this.d.app,
      this.d.delayQueues,
      job.queue,
      enc.body,
      {
        headers: enc.headers,
        correlationId: enc.properties.correlationId,
        replyTo: enc.properties.replyTo,
        contentType: enc.properties.contentType,
        contentEncoding: enc.properties.contentEncoding,
        deliveryMode: 2,
        ...(msg.properties.priority !== undefined ? { priority: msg.properties.priority } : {}),
      },
      countdown * 1000,
    );
    if (acksLate(job)) job.tracker.ack(deliveryTag(job));
    this.d.metrics.retried++;
    this.d.hooks.fire("task-retried", job, cause);
    this.d.log.info("task retry scheduled", {
      id: req.id,
      task: req.task,
      retries: req.retries + 1,
      countdown,
    });
  }

  private async failed(job: Job, err: unknown, runtime: number): Promise<void> {
    const { req } = job;
    if (this.stores(job)) await this.store(job, { status: "FAILURE", error: err });
    await sendErrbacks(this.d.app, req);
    if (acksLate(job)) job.tracker.ack(deliveryTag(job));
    this.d.metrics.failed++;
    this.d.hooks.fire("task-failed", job, err, runtime);
    const info = exceptionInfo(err);
    this.d.log.warn("task failed", {
      id: req.id,
      task: req.task,
      error: `${info.exc_type}: ${info.exc_message.map(String).join(", ")}`,
    });
  }
}
