/**
 * The execution pool: where handlers run. {@link AsyncPool} (the default, `-P async`) runs them on
 * this process's event loop, for I/O-bound tasks. A pool runs one job per call; the scheduler
 * decides when (it owns the concurrency slots).
 */
import { RetryRequest, type App, type TaskContext } from "../app.js";
import { SoftTimeLimitExceeded, TimeLimitExceeded } from "../protocol/result.js";
import type { Job, Outcome } from "./job.js";
import type { RunLimits } from "./limits.js";
import { matchesAutoretry } from "./retry.js";

export interface RunHandle {
  /** What the handler came to (at the hard limit: a TimeLimitExceeded error). */
  readonly outcome: Promise<Outcome>;
  /** The handler has really ended: its slot may be given to another job. */
  readonly settled: Promise<void>;
}

export interface ExecutionPool {
  /** The pool's name in `celery inspect stats` (`pool.implementation`). */
  readonly implementation: string;
  start(): Promise<void>;
  /** Starts the job's handler. */
  run(job: Job): RunHandle;
  /** Asks a running job to stop; `reason` becomes its signal's reason. */
  abort(job: Job, reason: Error): void;
  /** Process ids running handlers (Celery's `pool.processes`). */
  processes(): number[];
  /** Handlers still running past their hard limit (their outcome is recorded already). */
  overdue(): number;
  /** Ends the pool (after the scheduler drained it). Safe to call twice. */
  close(): Promise<void>;
}

/** The context a handler gets as its last argument. */
export function taskContext(
  job: Job,
  app: App,
  hostname: string,
  signal: AbortSignal,
): TaskContext {
  return {
    request: job.req,
    kwargs: job.req.kwargs,
    signal,
    hostname,
    app,
    retry: (o = {}) => new RetryRequest(o.countdownSeconds, o.exc),
  };
}

/**
 * Runs handlers as promises on this event loop. JavaScript cannot stop a promise: at the hard
 * limit the outcome is TimeLimitExceeded (stored and acked at once) and the signal aborts, but
 * the slot stays taken until the handler really ends, so never more than `-c` handlers run. A
 * handler that ignores its signal keeps its slot (`taskfleet_tasks_overdue` counts them); use the
 * process pool for such code.
 */
export class AsyncPool implements ExecutionPool {
  readonly implementation = "taskfleet:async";
  private readonly aborts = new Map<Job, AbortController>();
  private readonly late = new Set<Job>();

  constructor(
    private readonly app: App,
    private readonly hostname: string,
    private readonly limits: (job: Job) => RunLimits,
  ) {}

  async start(): Promise<void> {}

  run(job: Job): RunHandle {
    const abort = new AbortController();
    this.aborts.set(job, abort);
    const { hard, soft } = this.limits(job);
    let softTimer: NodeJS.Timeout | undefined;
    let hardTimer: NodeJS.Timeout | undefined;
    if (soft) {
      softTimer = setTimeout(
        () => abort.abort(new SoftTimeLimitExceeded(`soft time limit (${soft}s) exceeded`)),
        soft * 1000,
      );
    }
    const ctx = taskContext(job, this.app, this.hostname, abort.signal);
    const handler = job.task.handler as (...args: unknown[]) => unknown;
    const p = Promise.resolve().then(() => handler(...job.req.args, ctx));
    const raced = hard
      ? Promise.race([
          p,
          new Promise<never>((_, reject) => {
            hardTimer = setTimeout(() => {
              this.late.add(job);
              abort.abort(new TimeLimitExceeded(`hard time limit (${hard}s) exceeded`));
              reject(new TimeLimitExceeded(`TimeLimitExceeded(${hard})`));
            }, hard * 1000);
          }),
        ])
      : p;
    const outcome = raced.then(
      (value): Outcome => ({ kind: "success", value }),
      (error: unknown): Outcome => ({
        kind: "error",
        error,
        autoretry: !(error instanceof RetryRequest) && matchesAutoretry(job.task, error),
      }),
    );
    // the handler's own end, not the race's: the slot is free only then
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    void settled.then(() => {
      clearTimeout(softTimer);
      clearTimeout(hardTimer);
      this.aborts.delete(job);
      this.late.delete(job);
    });
    return { outcome, settled };
  }

  abort(job: Job, reason: Error): void {
    this.aborts.get(job)?.abort(reason);
  }

  processes(): number[] {
    return [process.pid];
  }

  overdue(): number {
    return this.late.size;
  }

  async close(): Promise<void> {}
}
