/** Celery's retry rules: which errors retry automatically, and the backoff between tries. */
import type { Task } from "../app.js";

/** `autoretry_for`: the error is an instance of a listed class or has a listed `name`. */
export function matchesAutoretry(task: Task, err: unknown): boolean {
  const list = task.options.autoretryFor ?? [];
  return list.some((c) =>
    typeof c === "string"
      ? err instanceof Error && err.name === c
      : err instanceof (c as abstract new (...a: never[]) => Error),
  );
}

/**
 * Seconds before retry number `retries + 1`: `min(retryBackoffMaxSeconds, factor·2^retries)` with
 * full jitter (`celery/utils/time.py` `get_exponential_backoff_interval`), or the fixed
 * `defaultRetryDelaySeconds` when backoff is off.
 */
export function retryDelaySeconds(task: Task, retries: number): number {
  const o = task.options;
  const backoff = o.retryBackoff ?? true;
  if (backoff === false) return o.defaultRetryDelaySeconds ?? 180;
  const factor = backoff === true ? 1 : backoff;
  const max = o.retryBackoffMaxSeconds ?? 600;
  const countdown = Math.min(max, factor * 2 ** retries);
  return (o.retryJitter ?? true) ? Math.random() * countdown : countdown;
}
