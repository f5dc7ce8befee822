/**
 * A job: one delivery the worker accepted, decoded into a Celery request, with the task that runs
 * it. Every part of the worker (consumer, scheduler, pool, outcome) passes jobs along; only the
 * consumer makes them.
 */
import type { ConsumeMessage } from "amqplib";
import type { Task } from "../app.js";
import type { TaskRequest } from "../protocol/message.js";
import type { AckTracker } from "./acks.js";

export interface Job {
  readonly msg: ConsumeMessage;
  /** The ack tracker of the channel the message came on. */
  readonly tracker: AckTracker;
  /** The queue it was consumed from. */
  readonly queue: string;
  readonly req: TaskRequest;
  readonly task: Task;
  /** AMQP priority (0 when none). */
  readonly priority: number;
  /** `Date.now()` at receipt. */
  readonly receivedAt: number;
}

/** What running a job's handler came to. */
export type Outcome =
  | { readonly kind: "success"; readonly value: unknown }
  /** The handler threw (a {@link RetryRequest} included); `autoretry` says the task's autoretryFor matched. */
  | { readonly kind: "error"; readonly error: unknown; readonly autoretry: boolean }
  /** Stopped by the worker (shutdown past its timeout): requeue, never report. */
  | { readonly kind: "cut-short"; readonly reason: string };

export function deliveryTag(job: Job): number {
  return job.msg.fields.deliveryTag;
}

/** The delivery can still be acked or requeued (its channel is open and it was not settled). */
export function isLive(job: Job): boolean {
  return !job.tracker.closed && job.tracker.has(job.msg.fields.deliveryTag);
}

/** Acks late tasks after their outcome is recorded; early-ack tasks were acked at start. */
export function acksLate(job: Job): boolean {
  return job.task.options.acksLate ?? true;
}

/**
 * Until when this delivery may be held before RabbitMQ's `consumer_timeout` closes its channel:
 * 90% of the timeout after receipt (the broker checks once a minute, so never later).
 */
export function holdDeadline(job: Job, consumerTimeoutMs: number): number {
  return job.receivedAt + consumerTimeoutMs * 0.9;
}
