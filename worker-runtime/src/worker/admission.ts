/**
 * Admission: the checks a decoded job passes before it is scheduled, in order. A check either lets
 * the job go on (`"run"`) or settles it itself (`"handled"`: stored, acked or requeued). Built in:
 * expiry (Celery's `expires`: REVOKED without running) and the stored-SUCCESS guard for
 * redeliveries. More can be added (`worker.admission.add(...)`, e.g. revoked ids).
 */
import type { App } from "../app.js";
import { TaskRevokedError } from "../protocol/result.js";
import { hasFollowUps } from "./canvas.js";
import type { Logger } from "../util/log.js";
import type { WorkerHooks } from "./hooks.js";
import { deliveryTag, isLive, type Job } from "./job.js";
import type { WorkerMetrics } from "./metrics.js";

export type AdmissionResult = "run" | "handled";
export type AdmissionCheck = (job: Job) => AdmissionResult | Promise<AdmissionResult>;

export class Admission {
  private readonly checks: AdmissionCheck[] = [];

  /** Appends a check (run after the ones added before). */
  add(check: AdmissionCheck): void {
    this.checks.push(check);
  }

  /** Runs the checks; calls `next(job)` when all of them say run. */
  admit(job: Job, next: (job: Job) => void, onError: (job: Job, err: unknown) => void): void {
    this.from(0, job, next, onError);
  }

  private from(
    i: number,
    job: Job,
    next: (job: Job) => void,
    onError: (job: Job, err: unknown) => void,
  ): void {
    for (; i < this.checks.length; i++) {
      let r: AdmissionResult | Promise<AdmissionResult>;
      try {
        r = this.checks[i]!(job);
      } catch (err) {
        onError(job, err);
        return;
      }
      if (r === "handled") return;
      if (r !== "run") {
        const at = i;
        r.then(
          (v) => {
            // The delivery's channel died meanwhile: the broker redelivers it; going on would
            // act on it twice (e.g. delay-publish it twice).
            if (v === "run" && isLive(job)) this.from(at + 1, job, next, onError);
          },
          (err: unknown) => onError(job, err),
        );
        return;
      }
    }
    next(job);
  }
}

export interface CheckDeps {
  readonly app: App;
  readonly log: Logger;
  readonly hooks: WorkerHooks;
  readonly metrics: WorkerMetrics;
}

export interface GuardDeps extends CheckDeps {
  /** The run of this task id in this worker, if one is under way: resolves true when it completed. */
  readonly runningHere: (taskId: string) => Promise<boolean> | null;
  /** Re-sends the follow-ups of a stored success. */
  readonly followUps: (job: Job, value: unknown) => Promise<void>;
}

/** A message past its `expires` is not run: REVOKED with `TaskRevokedError('expired')`. */
export function expiryCheck(d: CheckDeps): AdmissionCheck {
  return (job) => {
    const { req } = job;
    if (!req.expires || req.expires.getTime() > Date.now()) return "run";
    return revokeExpired(d, job).then(() => "handled" as const);
  };
}

async function revokeExpired(d: CheckDeps, job: Job): Promise<void> {
  const { req } = job;
  d.metrics.revoked++;
  d.log.info("task expired; recording REVOKED", {
    id: req.id,
    task: req.task,
    expires: req.expires?.toISOString(),
  });
  try {
    if (d.app.hasBackend() && !req.ignoreResult) {
      await d.app
        .backend()
        .store({ taskId: req.id, status: "REVOKED", error: new TaskRevokedError("expired") });
    }
    d.hooks.fire("task-revoked", job, { expired: true, terminated: false, signum: null });
    job.tracker.ack(deliveryTag(job));
  } catch (err) {
    d.log.error("could not store REVOKED; requeueing", { err: err as Error });
    job.tracker.nack(deliveryTag(job), true);
  }
}

/**
 * A redelivery of a task whose SUCCESS is stored (its ack was lost) is acked without running,
 * after sending its chain step and links again (the first run may have died before sending them;
 * they keep their ids). A redelivery of a task still running in this worker (the connection was
 * cut) waits for that run first. When the backend cannot be read the job runs (at-least-once).
 */
export function successGuard(d: GuardDeps): AdmissionCheck {
  const settle = (job: Job): AdmissionResult => {
    job.tracker.ack(deliveryTag(job));
    return "handled";
  };
  const lookup = async (job: Job): Promise<AdmissionResult> => {
    let meta;
    try {
      meta = await d.app.backend().getMeta(job.req.id);
    } catch {
      return "run";
    }
    if (meta?.status !== "SUCCESS") return "run";
    d.log.info("redelivered task already succeeded; acking without running", {
      id: job.req.id,
      task: job.req.task,
    });
    if (hasFollowUps(job.req)) await d.followUps(job, meta.result);
    return settle(job);
  };
  return (job) => {
    if (!job.msg.fields.redelivered) return "run";
    const running = d.runningHere(job.req.id);
    if (running) {
      d.log.info("redelivered task is still running here; waiting for that run", {
        id: job.req.id,
      });
      return running.then((completed) => {
        if (completed) return settle(job);
        return d.app.hasBackend() ? lookup(job) : "run";
      });
    }
    return d.app.hasBackend() ? lookup(job) : "run";
  };
}
