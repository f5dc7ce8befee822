/**
 * The task API's broker and backend: publishes Celery protocol v2 messages (the runtime's own
 * encoder) on a confirm channel with `mandatory` set, and reads results from the runtime's Redis
 * result backend. A publish resolves only on the broker's ack; a nack (queue full with
 * `reject-publish`), a `basic.return` (unroutable) or a lost connection rejects with
 * `TaskNotStoredError`, which the server turns into a 503.
 */
import { randomUUID } from "node:crypto";
import { connect, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from "amqplib";
import { ResultBackend } from "../backend/resultBackend.js";
import { encodeTaskV2 } from "../protocol/message.js";
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

interface Pending {
  returned: boolean;
}

/** Hides the password of an AMQP URL for messages. */
function redactAmqp(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@/]*@/, "//$1:***@");
}

export class BrokerGateway implements TaskGateway {
  private readonly urls: string[];
  private readonly backend: ResultBackend;
  private conn: ChannelModel | null = null;
  private ch: ConfirmChannel | null = null;
  private opening: Promise<ConfirmChannel> | null = null;
  private readonly pending = new Map<string, Pending>();
  private urlIndex = 0;
  private closed = false;
  private readonly origin: string;

  constructor(private readonly opts: GatewayOptions) {
    this.urls = opts.brokerUrl
      .split(",")
      .map((u) => u.trim())
      .filter((u) => u !== "");
    this.backend = new ResultBackend({ url: opts.backendUrl });
    this.origin = `api@${opts.region}`;
  }

  /** Opens the broker channel and the backend connection (fails if either is unreachable). */
  async connect(): Promise<void> {
    await this.channel();
    await this.backend.getMeta("readiness-probe");
  }

  private channel(): Promise<ConfirmChannel> {
    if (this.ch) return Promise.resolve(this.ch);
    if (this.closed) return Promise.reject(new Error("the gateway is closed"));
    this.opening ??= this.open().finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  private async open(): Promise<ConfirmChannel> {
    const errors: string[] = [];
    for (let n = 0; n < this.urls.length; n++) {
      const url = this.urls[(this.urlIndex + n) % this.urls.length]!;
      try {
        const conn = await connect(url, { clientProperties: { connection_name: this.origin } });
        const ch = await conn.createConfirmChannel();
        const drop = (): void => {
          if (this.conn === conn) {
            this.conn = null;
            this.ch = null;
          }
        };
        conn.on("close", drop);
        conn.on("error", drop);
        ch.on("close", () => {
          if (this.ch === ch) this.ch = null;
          void conn.close().catch(() => undefined);
        });
        ch.on("error", () => undefined);
        ch.on("return", (msg: ConsumeMessage) => {
          const id = msg.properties.correlationId as string | undefined;
          const p = id ? this.pending.get(id) : undefined;
          if (p) p.returned = true;
        });
        this.urlIndex = (this.urlIndex + n) % this.urls.length;
        this.conn = conn;
        this.ch = ch;
        return ch;
      } catch (err) {
        errors.push(`${redactAmqp(url)}: ${(err as Error).message}`);
      }
    }
    throw new Error(`no broker reachable (${errors.join("; ")})`);
  }

  async publish(task: TaskSubmission): Promise<string> {
    let ch: ConfirmChannel;
    try {
      ch = await this.channel();
    } catch (err) {
      throw new TaskNotStoredError("unavailable", `broker unavailable: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const id = randomUUID();
    const now = Date.now();
    const msg = encodeTaskV2({
      id,
      task: task.name,
      args: [...task.args],
      kwargs: { ...task.kwargs },
      eta: task.countdownSeconds ? new Date(now + task.countdownSeconds * 1000) : null,
      expires: task.expires ?? null,
      origin: this.origin,
      headers: { taskfleet_region: this.opts.region },
    });
    const entry: Pending = { returned: false };
    this.pending.set(id, entry);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new TaskNotStoredError(
                "unavailable",
                "the broker did not confirm the publish in time",
              ),
            ),
          this.opts.confirmTimeoutMs ?? 10_000,
        );
        const onClose = (): void => {
          clearTimeout(timer);
          reject(
            new TaskNotStoredError(
              "unavailable",
              "the broker channel closed before confirming the publish",
            ),
          );
        };
        ch.once("close", onClose);
        try {
          ch.publish(
            task.exchange,
            task.routingKey,
            msg.body,
            {
              mandatory: true,
              persistent: true,
              headers: msg.headers,
              correlationId: msg.properties.correlationId,
              replyTo: msg.properties.replyTo || undefined,
              contentType: msg.properties.contentType,
              contentEncoding: msg.properties.contentEncoding,
              ...(msg.properties.priority !== undefined
                ? { priority: msg.properties.priority }
                : {}),
            },
            (err: unknown) => {
              clearTimeout(timer);
              ch.off("close", onClose);
              if (err) {
                reject(
                  new TaskNotStoredError(
                    "nack",
                    `the broker refused the task (queue ${task.queue} is full or unavailable); retry later`,
                  ),
                );
              } else if (entry.returned) {
                reject(
                  new TaskNotStoredError(
                    "returned",
                    `no queue is bound for exchange "${task.exchange}" with routing key "${task.routingKey}"; the task was not stored`,
                  ),
                );
              } else resolve();
            },
          );
        } catch (err) {
          clearTimeout(timer);
          ch.off("close", onClose);
          reject(
            new TaskNotStoredError("unavailable", `publish failed: ${(err as Error).message}`),
          );
        }
      });
    } finally {
      this.pending.delete(id);
    }
    return id;
  }

  async status(id: string): Promise<TaskStatus> {
    const meta = await this.backend.getMeta(id);
    return toStatus(id, meta);
  }

  async check(): Promise<{ broker: boolean; backend: boolean; detail?: string }> {
    const problems: string[] = [];
    let broker = false;
    let backend = false;
    try {
      await this.channel();
      broker = true;
    } catch (err) {
      problems.push(`broker: ${(err as Error).message}`);
    }
    try {
      await Promise.race([
        this.backend.getMeta("readiness-probe"),
        new Promise((_, reject) => setTimeout(() => reject(new Error("no answer in 2 s")), 2000)),
      ]);
      backend = true;
    } catch (err) {
      problems.push(`backend: ${(err as Error).message}`);
    }
    return { broker, backend, ...(problems.length ? { detail: problems.join("; ") } : {}) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const conn = this.conn;
    this.conn = null;
    this.ch = null;
    await Promise.allSettled([conn?.close(), this.backend.close()]);
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
