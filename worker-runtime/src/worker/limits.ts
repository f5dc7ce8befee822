/**
 * Time limits and RabbitMQ's `consumer_timeout`. A delivery is held (unacked) from receipt until
 * its outcome is stored; held past `consumer_timeout`, RabbitMQ closes the channel and redelivers
 * every delivery on it, so every task on that channel runs again. The budget, from receipt:
 *
 *   rate-limit wait ≤ min(60 s, consumer_timeout / 10)   (longer waits go to the delay queues)
 *   run             ≤ 80% of consumer_timeout − that wait (the hard limit, capped to this)
 *   storing         until 90% of consumer_timeout        (retries end there: holdDeadline)
 *
 * Limits given in configuration that do not fit are refused when the worker is made; a limit
 * from a message that does not fit, or none at all, becomes the cap (logged once per task).
 */
import type { App } from "../app.js";
import type { Logger } from "../util/log.js";
import type { Job } from "./job.js";

/** RabbitMQ's default `consumer_timeout` (30 min since 3.8.17), ms. */
export const DEFAULT_CONSUMER_TIMEOUT_MS = 1_800_000;

/** Longest a rate-limited delivery waits in memory for its slot, ms. */
export function rateHoldMs(consumerTimeoutMs: number): number {
  return Math.min(60_000, consumerTimeoutMs / 10);
}

/** Longest a run may last, seconds. */
export function maxRunSeconds(consumerTimeoutMs: number): number {
  return (0.8 * consumerTimeoutMs - rateHoldMs(consumerTimeoutMs)) / 1000;
}

const num = (x: number): string => String(Math.round(x * 1000) / 1000);

/** Throws when a configured hard limit does not fit the consumer timeout. */
export function checkTimeLimit(seconds: number, label: string, consumerTimeoutMs: number): void {
  const max = maxRunSeconds(consumerTimeoutMs);
  if (seconds <= max) return;
  throw new Error(
    `time limit: ${num(seconds)} s (${label}) does not fit the broker's consumer_timeout of ${num(consumerTimeoutMs / 1000)} s: a delivery is held while it waits (rate limit, up to ${num(rateHoldMs(consumerTimeoutMs) / 1000)} s), runs and stores its result, and RabbitMQ closes the channel (redelivering every task on it) at consumer_timeout; use at most ${num(max)} s or raise consumer_timeout (--consumer-timeout, TASKFLEET_CONSUMER_TIMEOUT) with the broker's`,
  );
}

export interface RunLimits {
  /** Seconds; always set (the cap at most). */
  readonly hard: number;
  readonly soft: number | null;
}

export interface LimitPolicy {
  readonly consumerTimeoutMs: number;
  /** The worker's defaults for tasks that set none. */
  readonly timeLimitSeconds: number | null;
  readonly softTimeLimitSeconds: number | null;
}

/** Checks the worker's and the app's tasks' limits; returns the function giving a job's limits. */
export function runLimits(app: App, p: LimitPolicy, log: Logger): (job: Job) => RunLimits {
  const ct = p.consumerTimeoutMs;
  if (!(Number.isFinite(ct) && ct > 0))
    throw new Error(`consumer timeout: ${ct} ms is not allowed; use a positive number of ms`);
  for (const [name, v] of [
    ["timeLimitSeconds", p.timeLimitSeconds],
    ["softTimeLimitSeconds", p.softTimeLimitSeconds],
  ] as const) {
    if (v !== null && !(Number.isFinite(v) && v > 0))
      throw new Error(`worker ${name}: ${v} is not allowed; use seconds > 0`);
  }
  if (p.timeLimitSeconds !== null)
    checkTimeLimit(
      p.timeLimitSeconds,
      "the worker's timeLimitSeconds, --time-limit or TASKFLEET_TASK_TIME_LIMIT",
      ct,
    );
  for (const t of app.tasks.values()) {
    const v = t.options.timeLimitSeconds;
    if (v !== undefined && v > 0) checkTimeLimit(v, `task "${t.name}" timeLimitSeconds`, ct);
  }
  const cap = maxRunSeconds(ct);
  const warned = new Set<string>();
  return (job) => {
    const { req, task } = job;
    const want = req.timelimit[0] || task.options.timeLimitSeconds || p.timeLimitSeconds || null;
    const soft =
      req.timelimit[1] || task.options.softTimeLimitSeconds || p.softTimeLimitSeconds || null;
    if (want !== null && want > cap && !warned.has(task.name)) {
      warned.add(task.name);
      log.warn("a message's time limit does not fit consumer_timeout; capping it", {
        task: task.name,
        requested: want,
        cap,
      });
    }
    return { hard: want === null ? cap : Math.min(want, cap), soft };
  };
}
