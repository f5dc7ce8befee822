/**
 * The worker's lifecycle hooks, for what is built on the worker without changing it: Celery events
 * (`events.ts` listens here), signals for tracing and metrics, revoke bookkeeping. Listeners are
 * synchronous and called in order; one that throws is logged and never affects the task.
 *
 * Order for one task: `task-received` → `task-started` → one of `task-succeeded`, `task-failed`,
 * `task-retried`, `task-requeued` (cut short by shutdown) → `task-finished`. `task-revoked` and
 * `task-rejected` (poison) replace the run. Outcome hooks fire after the outcome is stored and the
 * message acked (or requeued).
 */
import { EventEmitter } from "node:events";
import type { Logger } from "../util/log.js";
import type { Job } from "./job.js";

export interface RevokedInfo {
  readonly expired: boolean;
  readonly terminated: boolean;
  readonly signum: string | null;
}

export interface RejectedInfo {
  readonly queue: string;
  readonly reason: string;
  readonly correlationId: string | null;
}

export interface WorkerHookEvents {
  "task-received": [job: Job];
  "task-started": [job: Job];
  "task-succeeded": [job: Job, result: unknown, runtimeSeconds: number];
  "task-failed": [job: Job, error: unknown, runtimeSeconds: number];
  "task-retried": [job: Job, reason: unknown];
  "task-requeued": [job: Job, reason: string];
  "task-finished": [job: Job];
  "task-revoked": [job: Job, info: RevokedInfo];
  "task-rejected": [info: RejectedInfo];
  "worker-ready": [];
  "worker-shutdown": [];
}

export type WorkerHookName = keyof WorkerHookEvents;

export class WorkerHooks extends EventEmitter<WorkerHookEvents> {
  constructor(private readonly log: Logger) {
    super();
  }

  /** Calls every listener of `event`; a listener that throws is logged and skipped. */
  fire<K extends WorkerHookName>(event: K, ...args: WorkerHookEvents[K]): void {
    const listeners = this.listeners(event as WorkerHookName) as unknown as ((
      ...a: unknown[]
    ) => void)[];
    for (const l of listeners) {
      try {
        l(...args);
      } catch (err) {
        this.log.warn("worker hook failed", { hook: event, err: err as Error });
      }
    }
  }
}
