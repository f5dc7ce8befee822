/**
 * Retrying an operation whose failure is transient (the result backend or the broker briefly
 * away) within a deadline, with exponential backoff and jitter. Used for what must happen before
 * a delivery is acked: the result store and the canvas follow-ups.
 */
import { backoffDelay } from "../amqp/connection.js";
import { EncodeError } from "../protocol/json.js";

export interface PersistOptions {
  /** `Date.now()` after which the last error is thrown. */
  readonly deadline: number;
  /** Stop retrying now (the last error is thrown). */
  readonly stop?: () => boolean;
  /** Called before each wait with the error and the attempt number. */
  readonly onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** @default 250 */
  readonly initialDelayMs?: number;
  /** @default 5000 */
  readonly maxDelayMs?: number;
}

/** Errors retrying cannot help: a value that cannot be encoded. */
export function isPermanent(err: unknown): boolean {
  return err instanceof EncodeError;
}

export async function persist<T>(op: () => Promise<T>, o: PersistOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      const delay = backoffDelay(attempt, o.initialDelayMs ?? 250, o.maxDelayMs ?? 5000);
      if (isPermanent(err) || o.stop?.() || Date.now() + delay > o.deadline) throw err;
      o.onRetry?.(err, attempt, delay);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
