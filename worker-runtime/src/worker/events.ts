/**
 * Celery events (`-E`): JSON messages on the `celeryev` topic exchange, routing key = event type
 * with '-' replaced by '.', header `hostname`, delivery mode 1, so Flower and `celery events` see
 * taskfleet workers. Best effort: an event that cannot be sent is dropped, never a task. The task
 * events come from the worker's hooks ({@link EventDispatcher.listen}).
 */
import { loadavg } from "node:os";
import type { Channel } from "amqplib";
import { argsRepr } from "../protocol/message.js";
import { exceptionInfo, formatTraceback } from "../protocol/result.js";
import type { WorkerHooks } from "./hooks.js";

export const EVENT_EXCHANGE = "celeryev";
/** Celery's `Heart.interval` default, seconds. */
export const HEARTBEAT_SECONDS = 2;

export class EventDispatcher {
  private clock = 0;
  private channel: Channel | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  constructor(readonly hostname: string) {}

  async attach(ch: Channel): Promise<void> {
    await ch.assertExchange(EVENT_EXCHANGE, "topic", { durable: true });
    this.channel = ch;
  }

  detach(): void {
    this.channel = null;
  }

  send(type: string, fields: Record<string, unknown> = {}): void {
    const ch = this.channel;
    if (!ch) return;
    this.clock++;
    const body = {
      hostname: this.hostname,
      utcoffset: -new Date().getTimezoneOffset() / 60,
      pid: process.pid,
      clock: this.clock,
      ...fields,
      timestamp: Date.now() / 1000,
      type,
    };
    try {
      ch.publish(EVENT_EXCHANGE, type.replace(/-/g, "."), Buffer.from(JSON.stringify(body)), {
        headers: { hostname: this.hostname },
        deliveryMode: 1,
        contentType: "application/json",
        contentEncoding: "utf-8",
      });
    } catch {
      // channel gone; events are best effort
    }
  }

  workerFields(active: number, processed: number): Record<string, unknown> {
    return {
      freq: HEARTBEAT_SECONDS,
      active,
      processed,
      loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
      sw_ident: "taskfleet",
      sw_ver: "0.1.0",
      sw_sys: process.platform === "linux" ? "Linux" : process.platform,
    };
  }

  /** Sends worker-online, then a worker-heartbeat every {@link HEARTBEAT_SECONDS}. */
  online(counts: () => { active: number; processed: number }): void {
    const fields = (): Record<string, unknown> => {
      const c = counts();
      return this.workerFields(c.active, c.processed);
    };
    this.send("worker-online", fields());
    this.heartbeat = setInterval(
      () => this.send("worker-heartbeat", fields()),
      HEARTBEAT_SECONDS * 1000,
    );
  }

  offline(active: number, processed: number): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    this.send("worker-offline", this.workerFields(active, processed));
  }

  /** Sends the task events Celery's worker sends, from the worker's hooks. */
  listen(hooks: WorkerHooks): void {
    hooks.on("task-received", ({ req }) =>
      this.send("task-received", {
        uuid: req.id,
        name: req.task,
        args: argsRepr(req.args),
        kwargs: argsRepr(req.kwargs),
        root_id: req.rootId,
        parent_id: req.parentId,
        retries: req.retries,
        eta: req.eta?.toISOString() ?? null,
        expires: req.expires?.toISOString() ?? null,
      }),
    );
    hooks.on("task-started", ({ req }) => this.send("task-started", { uuid: req.id }));
    hooks.on("task-succeeded", ({ req }, result, runtime) =>
      this.send("task-succeeded", { uuid: req.id, result: argsRepr(result), runtime }),
    );
    hooks.on("task-retried", ({ req }, reason) =>
      this.send("task-retried", {
        uuid: req.id,
        exception: String(reason),
        traceback: formatTraceback(reason),
      }),
    );
    hooks.on("task-failed", ({ req }, err) => {
      const info = exceptionInfo(err);
      this.send("task-failed", {
        uuid: req.id,
        exception: `${info.exc_type}(${info.exc_message.map((m) => JSON.stringify(m)).join(", ")})`,
        traceback: formatTraceback(err),
      });
    });
    hooks.on("task-revoked", ({ req }, info) =>
      this.send("task-revoked", {
        uuid: req.id,
        terminated: info.terminated,
        signum: info.signum,
        expired: info.expired,
      }),
    );
  }
}
