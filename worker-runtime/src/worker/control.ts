/**
 * Remote-control commands (what `celery inspect`/`celery control` and Flower call through the
 * pidbox): a registry the worker fills with the built-in subset, open for more commands
 * (`worker.control.register("revoke", ...)`). `pidbox.ts` is the transport; this is the table.
 */
import type { App } from "../app.js";
import type { Job } from "./job.js";

/** A command: gets the request's `arguments`, returns the reply (or throws: an `{error}` reply). */
export type ControlHandler = (args: Record<string, unknown>) => unknown;

export class ControlCommands {
  private readonly table = new Map<string, ControlHandler>();

  /** Adds or replaces a command. */
  register(method: string, handler: ControlHandler): void {
    this.table.set(method, handler);
  }

  get(method: string): ControlHandler | undefined {
    return this.table.get(method);
  }

  names(): string[] {
    return [...this.table.keys()].sort();
  }
}

/** What the built-in commands read from the worker. */
export interface ControlView {
  readonly app: App;
  readonly hostname: string;
  readonly queues: readonly string[];
  readonly prefetch: number;
  readonly startedAt: number;
  readonly eventsEnabled: boolean;
  brokerUrl(): string;
  concurrency(): number;
  processed(): number;
  totals(): ReadonlyMap<string, number>;
  running(): readonly Job[];
  pool(): { implementation: string; processes: number[] };
}

/** `ping`, `stats`, `registered`, `active_queues`, `active`, `enable_events`, `disable_events`. */
export function registerBuiltinCommands(c: ControlCommands, w: ControlView): void {
  c.register("ping", () => ({ ok: "pong" }));
  c.register("stats", () => {
    const pool = w.pool();
    return {
      pid: process.pid,
      clock: String(w.processed()),
      uptime: Math.round((Date.now() - w.startedAt) / 1000),
      total: Object.fromEntries(w.totals()),
      pool: {
        implementation: pool.implementation,
        "max-concurrency": w.concurrency(),
        processes: pool.processes,
        "put-guarded-by-semaphore": false,
      },
      prefetch_count: w.prefetch,
      broker: { transport: "amqp", hostname: w.brokerUrl() },
      sw_ident: "taskfleet",
      rusage: { maxrss: Math.round(process.memoryUsage().rss / 1024) },
    };
  });
  c.register("registered", () => [...w.app.tasks.keys()].sort());
  c.register("active_queues", () =>
    w.queues.map((q) => {
      const s = w.app.queueSpec(q);
      return {
        name: q,
        exchange: { name: s.exchange ?? "", type: s.exchangeType ?? "direct" },
        routing_key: s.routingKey ?? q,
        durable: true,
      };
    }),
  );
  c.register("active", () =>
    w.running().map((job) => ({
      id: job.req.id,
      name: job.req.task,
      args: job.req.args,
      kwargs: job.req.kwargs,
      type: job.req.task,
      hostname: w.hostname,
      acknowledged: !(job.task.options.acksLate ?? true),
      delivery_info: {
        routing_key: job.msg.fields.routingKey,
        exchange: job.msg.fields.exchange,
        redelivered: job.msg.fields.redelivered,
      },
      worker_pid: process.pid,
    })),
  );
  c.register("enable_events", () => ({
    ok: w.eventsEnabled
      ? "task events already enabled"
      : "events are off; start the worker with -E",
  }));
  c.register("disable_events", () => ({ ok: "events unchanged (set with -E)" }));
}
