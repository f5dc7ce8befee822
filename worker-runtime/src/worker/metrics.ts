/** The worker's Prometheus metrics, rendered as text exposition format 0.0.4. */
export const RUNTIME_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300];

export class WorkerMetrics {
  received = 0;
  succeeded = 0;
  failed = 0;
  retried = 0;
  rejected = 0;
  revoked = 0;
  readonly runtimeBuckets = RUNTIME_BUCKETS.map(() => 0);
  runtimeCount = 0;
  runtimeSum = 0;

  observeRuntime(seconds: number): void {
    this.runtimeCount++;
    this.runtimeSum += seconds;
    for (let i = 0; i < RUNTIME_BUCKETS.length; i++) {
      if (seconds <= RUNTIME_BUCKETS[i]!) this.runtimeBuckets[i]!++;
    }
  }

  render(g: {
    inFlight: number;
    concurrency: number;
    prefetch: number;
    reserved: number;
    ready: boolean;
    overdue: number;
  }): string {
    const lines: string[] = [];
    const counter = (name: string, help: string, v: number): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`, `${name} ${v}`);
    };
    const gauge = (name: string, help: string, v: number): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${v}`);
    };
    counter("taskfleet_tasks_received_total", "Task messages received.", this.received);
    counter("taskfleet_tasks_succeeded_total", "Tasks that succeeded.", this.succeeded);
    counter("taskfleet_tasks_failed_total", "Tasks that failed for good.", this.failed);
    counter("taskfleet_tasks_retried_total", "Task retries scheduled.", this.retried);
    counter("taskfleet_tasks_rejected_total", "Poison messages dead-lettered.", this.rejected);
    counter("taskfleet_tasks_revoked_total", "Expired tasks recorded as REVOKED.", this.revoked);
    lines.push(
      "# HELP taskfleet_task_runtime_seconds Task run time.",
      "# TYPE taskfleet_task_runtime_seconds histogram",
    );
    RUNTIME_BUCKETS.forEach((b, i) =>
      lines.push(`taskfleet_task_runtime_seconds_bucket{le="${b}"} ${this.runtimeBuckets[i]}`),
    );
    lines.push(
      `taskfleet_task_runtime_seconds_bucket{le="+Inf"} ${this.runtimeCount}`,
      `taskfleet_task_runtime_seconds_sum ${this.runtimeSum}`,
      `taskfleet_task_runtime_seconds_count ${this.runtimeCount}`,
    );
    gauge("taskfleet_tasks_in_flight", "Tasks running now.", g.inFlight);
    gauge(
      "taskfleet_tasks_overdue",
      "Handlers still running past their hard time limit (outcome recorded; slot still taken).",
      g.overdue,
    );
    gauge(
      "taskfleet_tasks_reserved",
      "Messages received and not finished (running, waiting, prefetched).",
      g.reserved,
    );
    gauge("taskfleet_worker_concurrency", "Tasks allowed to run at once.", g.concurrency);
    gauge("taskfleet_worker_prefetch", "Per-consumer prefetch count (0 = unlimited).", g.prefetch);
    gauge("taskfleet_worker_ready", "1 when connected and consuming every queue.", g.ready ? 1 : 0);
    return lines.join("\n") + "\n";
  }
}
