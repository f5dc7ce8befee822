/**
 * The task API's broker and backend, through the runtime's own producer: `app.sendTask` publishes
 * a Celery protocol v2 message on a confirm channel with `mandatory` set (connection recovery,
 * heartbeats and the confirm window come with it), and results are read from the runtime's Redis
 * result backend. A publish resolves only on the broker's ack; a nack (queue full with
 * `reject-publish`), a return (unroutable), a lost connection or no confirm in time rejects with
 * `TaskNotStoredError`, which the server turns into a 503.
 */
import { createApp, PublishRejectedError, type App } from "../app.js";
import type { ResultMeta } from "../protocol/result.js";
import { TaskNotStoredError, type TaskGateway, type TaskStatus } from "./server.js";
import type { TaskSubmission } from "./validate.js";

export interface GatewayOptions {
  /** One AMQP URL, or several (comma-separated) of one cluster, tried in turn. */
  brokerUrl: string;
  backendUrl: string;
  region: string;
  /** A publish not confirmed within this time is reported as not stored. @default 10000 */
  confirmTimeoutMs?: number;
}

function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export class BrokerGateway implements TaskGateway {
  private readonly app: App;
  private readonly opts: GatewayOptions;
  private closed = false;

  constructor(opts: GatewayOptions) {
    this.opts = opts;
    this.app = createApp({
      brokerUrl: opts.brokerUrl,
      resultBackend: opts.backendUrl,
      // The API publishes to exchanges the broker layer declared; it never declares queues.
      declareQueues: "passive",
    });
  }

  /** Opens the broker connection and the backend (fails if either is unreachable). */
  async connect(): Promise<void> {
    await this.app.connection().connect();
    await this.app.backend().getMeta("readiness-probe");
  }

  async publish(task: TaskSubmission): Promise<string> {
    if (this.closed) throw new TaskNotStoredError("unavailable", "the API is shutting down");
    const timeoutMs = this.opts.confirmTimeoutMs ?? 10_000;
    try {
      const r = await withTimeout(
        this.app.sendTask(
          task.name,
          [...task.args],
          { ...task.kwargs },
          {
            exchange: task.exchange,
            routingKey: task.routingKey,
            ...(task.countdownSeconds ? { countdown: task.countdownSeconds } : {}),
            ...(task.expires ? { expires: task.expires } : {}),
            headers: { taskfleet_region: this.opts.region },
          },
        ),
        timeoutMs,
        () =>
          new TaskNotStoredError(
            "unavailable",
            `the broker did not confirm the task within ${timeoutMs} ms; it may not be stored, send it again`,
          ),
      );
      return r.id;
    } catch (err) {
      if (err instanceof TaskNotStoredError) throw err;
      if (err instanceof PublishRejectedError) {
        if (err.reason === "returned") {
          throw new TaskNotStoredError(
            "returned",
            `no queue is bound for exchange "${task.exchange}" with routing key "${task.routingKey}"; the task was not stored`,
            { cause: err },
          );
        }
        throw new TaskNotStoredError(
          "nack",
          `the broker refused the task (queue ${task.queue} is full or unavailable); retry later`,
          { cause: err },
        );
      }
      throw new TaskNotStoredError("unavailable", `broker unavailable: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  async status(id: string): Promise<TaskStatus> {
    const meta = await this.app.backend().getMeta(id);
    return toStatus(id, meta);
  }

  async check(): Promise<{ broker: boolean; backend: boolean; detail?: string }> {
    const problems: string[] = [];
    const probe = <T>(p: Promise<T>): Promise<T> =>
      withTimeout(p, 2000, () => new Error("no answer in 2 s"));
    let broker = false;
    let backend = false;
    try {
      const conn = this.app.connection();
      if (!conn.connected) await probe(conn.connect());
      broker = true;
    } catch (err) {
      problems.push(`broker: ${(err as Error).message}`);
    }
    try {
      await probe(this.app.backend().getMeta("readiness-probe"));
      backend = true;
    } catch (err) {
      problems.push(`backend: ${(err as Error).message}`);
    }
    return { broker, backend, ...(problems.length ? { detail: problems.join("; ") } : {}) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.app.close();
  }
}

/** Maps Celery result meta to the API's answer. */
export function toStatus(id: string, meta: ResultMeta | null): TaskStatus {
  if (!meta) return { id, state: "PENDING" };
  const extra = meta as unknown as Record<string, unknown>;
  const common = {
    id,
    state: meta.status,
    dateDone: meta.date_done,
    ...(typeof extra.worker === "string" ? { worker: extra.worker } : {}),
    ...(typeof extra.retries === "number" ? { retries: extra.retries } : {}),
  };
  if (meta.status === "FAILURE" || meta.status === "REVOKED" || meta.status === "RETRY") {
    const r = meta.result as { exc_type?: unknown; exc_message?: unknown } | null;
    if (r && typeof r === "object" && typeof r.exc_type === "string") {
      const m = Array.isArray(r.exc_message) ? r.exc_message : [r.exc_message];
      const message = m.length === 1 ? String(m[0]) : JSON.stringify(m);
      return { ...common, error: { type: r.exc_type, message } };
    }
  }
  return { ...common, result: meta.result };
}

export function createGateway(opts: GatewayOptions): BrokerGateway {
  return new BrokerGateway(opts);
}
