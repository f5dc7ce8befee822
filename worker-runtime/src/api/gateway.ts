/**
 * The task API's broker and backend, through the runtime's own producer: `app.sendTask` publishes
 * a Celery protocol v2 message on a confirm channel with `mandatory` set (connection recovery,
 * heartbeats and the confirm window come with it), and results are read from the runtime's Redis
 * result backend. A publish resolves only on the broker's ack; a nack (queue full with
 * `reject-publish`), a return (unroutable), a lost connection or no confirm in time rejects with
 * `TaskNotStoredError`, which the server turns into a 503.
 */
import type { Redis } from "ioredis";
import {
  BatchPublishError,
  createApp,
  PublishRejectedError,
  type App,
  type SendOptions,
} from "../app.js";
import type { ResultMeta } from "../protocol/result.js";
import type { TaskSubmission } from "./validate.js";

/** What the broker did with a publish the API could not confirm. */
export type RefusalReason = "nack" | "returned" | "unavailable";

/** A task the broker did not store; the API answers it with 503 and Retry-After. */
export class TaskNotStoredError extends Error {
  constructor(
    readonly reason: RefusalReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "TaskNotStoredError";
  }
}

/** A task's state as the API reports it. */
export interface TaskStatus {
  readonly id: string;
  /** Celery state: PENDING (nothing stored yet), STARTED, RETRY, SUCCESS, FAILURE, REVOKED, ... */
  readonly state: string;
  readonly result?: unknown;
  readonly error?: { readonly type: string; readonly message: string };
  readonly dateDone?: string | null;
  /** Node name of the worker that stored the result, when the backend records it. */
  readonly worker?: string;
  readonly retries?: number;
}

/** A task to publish under an id the API chose. */
export interface IdentifiedTask {
  readonly task: TaskSubmission;
  readonly id: string;
}

/** The broker and result backend as the API sees them. */
export interface TaskGateway {
  /** Publishes with confirms; resolves once confirmed, else throws `TaskNotStoredError`. */
  publish(item: IdentifiedTask): Promise<void>;
  /** Publishes many in one confirm window; per item null (confirmed) or why it was not stored. */
  publishMany(items: readonly IdentifiedTask[]): Promise<(TaskNotStoredError | null)[]>;
  status(id: string): Promise<TaskStatus>;
  /** Whether the broker and the backend answer right now. */
  check(): Promise<{ broker: boolean; backend: boolean; detail?: string }>;
  /** The result backend's Redis connection (the API keeps owners and idempotency keys there). */
  redis(): Promise<Redis>;
  close(): Promise<void>;
}

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

  private sendOptions(item: IdentifiedTask): SendOptions {
    const { task, id } = item;
    return {
      taskId: id,
      exchange: task.exchange,
      routingKey: task.routingKey,
      ...(task.countdownSeconds ? { countdown: task.countdownSeconds } : {}),
      ...(task.expires ? { expires: task.expires } : {}),
      headers: { taskfleet_region: this.opts.region },
    };
  }

  async publish(item: IdentifiedTask): Promise<void> {
    if (this.closed) throw new TaskNotStoredError("unavailable", "the API is shutting down");
    const { task } = item;
    const timeoutMs = this.opts.confirmTimeoutMs ?? 10_000;
    try {
      await withTimeout(
        this.app.sendTask(task.name, [...task.args], { ...task.kwargs }, this.sendOptions(item)),
        timeoutMs,
        () => notConfirmed(timeoutMs),
      );
    } catch (err) {
      throw notStored(task, err);
    }
  }

  async publishMany(items: readonly IdentifiedTask[]): Promise<(TaskNotStoredError | null)[]> {
    if (this.closed) {
      return items.map(() => new TaskNotStoredError("unavailable", "the API is shutting down"));
    }
    // No overall timeout: the producer gives each message its own confirm deadline, so a slow
    // batch still answers per task which ones the broker holds.
    try {
      await this.app.sendTasks(
        items.map((i) => ({
          name: i.task.name,
          args: [...i.task.args],
          kwargs: { ...i.task.kwargs },
          options: this.sendOptions(i),
        })),
      );
      return items.map(() => null);
    } catch (err) {
      if (err instanceof BatchPublishError) {
        return err.errors.map((e, i) => (e === null ? null : notStored(items[i]!.task, e)));
      }
      const e = notStored(items[0]!.task, err);
      return items.map(() => e);
    }
  }

  redis(): Promise<Redis> {
    return this.app.backend().connection();
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

function notConfirmed(timeoutMs: number): TaskNotStoredError {
  return new TaskNotStoredError(
    "unavailable",
    `the broker did not confirm the task within ${timeoutMs} ms; it may not be stored, send it again (with the same Idempotency-Key)`,
  );
}

/**
 * Why a task was not stored, in words that name no host, user or address: these messages reach
 * callers (the cause, kept for the log, may name them).
 */
function notStored(task: TaskSubmission, err: unknown): TaskNotStoredError {
  if (err instanceof TaskNotStoredError) return err;
  if (err instanceof PublishRejectedError) {
    if (err.reason === "returned") {
      return new TaskNotStoredError(
        "returned",
        `no queue is bound for exchange "${task.exchange}" with routing key "${task.routingKey}"; the task was not stored`,
        { cause: err },
      );
    }
    return new TaskNotStoredError(
      "nack",
      `the broker refused the task (queue ${task.queue} is full or unavailable); retry later`,
      { cause: err },
    );
  }
  return new TaskNotStoredError(
    "unavailable",
    "the broker is unavailable; the task was not stored, retry later",
    { cause: err },
  );
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
