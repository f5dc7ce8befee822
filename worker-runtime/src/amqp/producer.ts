/**
 * Publishing with publisher confirms. Every publish sets `mandatory`; a message the broker
 * returns (unroutable) or nacks (e.g. a queue over `x-max-length` with `reject-publish`) rejects
 * the caller's promise with {@link PublishRejectedError}: nothing is dropped silently.
 */
import { randomUUID } from "node:crypto";
import type { ChannelModel, ConfirmChannel, Message, Options } from "amqplib";
import type { AmqpConnection } from "./connection.js";

export class PublishRejectedError extends Error {
  override name = "PublishRejectedError";
  constructor(
    message: string,
    readonly exchange: string,
    readonly routingKey: string,
    readonly reason: "returned" | "nacked",
  ) {
    super(message);
  }
}

export interface PublishItem {
  exchange: string;
  routingKey: string;
  content: Buffer;
  options?: Options.Publish;
}

interface Pending {
  exchange: string;
  routingKey: string;
  returned: { code: number; text: string } | null;
  resolve: () => void;
  reject: (err: Error) => void;
}

function describe(exchange: string, routingKey: string): string {
  return exchange === ""
    ? `queue "${routingKey}" (default exchange)`
    : `exchange "${exchange}" with routing key "${routingKey}"`;
}

export interface ProducerOptions {
  /** Unconfirmed publishes allowed at once (the confirm window). @default 5000 */
  confirmWindow?: number;
  /** How long to wait for a confirm. @default 30000 */
  confirmTimeoutMs?: number;
}

export class Producer {
  private readonly conn: AmqpConnection;
  private channel: Promise<ConfirmChannel> | null = null;
  private channelModel: ChannelModel | null = null;
  private readonly pending = new Map<string, Pending>();
  private inFlight = 0;
  private readonly windowWaiters: (() => void)[] = [];
  private readonly window: number;
  private readonly timeoutMs: number;
  private closed = false;
  private live: ConfirmChannel | null = null;
  private readonly idPrefix = randomUUID().slice(0, 8);
  private seq = 0;
  private sweeper: NodeJS.Timeout | null = null;
  private readonly deadlines = new Map<string, number>();

  constructor(conn: AmqpConnection, opts: ProducerOptions = {}) {
    this.conn = conn;
    this.window = opts.confirmWindow ?? 5000;
    this.timeoutMs = opts.confirmTimeoutMs ?? 30_000;
    conn.on("disconnected", () => {
      this.channel = null;
      this.live = null;
    });
  }

  private async confirmChannel(): Promise<ConfirmChannel> {
    if (this.closed) throw new Error("producer is closed");
    const model = this.conn.current ?? (await this.conn.connect());
    if (this.channel && this.channelModel === model) return this.channel;
    this.channelModel = model;
    const p = model.createConfirmChannel().then((ch) => {
      this.live = ch;
      ch.on("error", () => undefined);
      ch.on("return", (msg: Message) => {
        const id = msg.properties.messageId as string | undefined;
        const p = id ? this.pending.get(id) : undefined;
        const f = msg.fields as unknown as { replyCode: number; replyText: string };
        if (p) p.returned = { code: f.replyCode, text: String(f.replyText) };
      });
      ch.on("close", () => {
        if (this.channel === p) this.channel = null;
        if (this.live === ch) this.live = null;
      });
      return ch;
    });
    this.channel = p;
    p.catch(() => {
      if (this.channel === p) this.channel = null;
    });
    return p;
  }

  private async slot(): Promise<void> {
    while (this.inFlight >= this.window) {
      await new Promise<void>((r) => this.windowWaiters.push(r));
    }
    this.inFlight++;
  }

  private release(): void {
    this.inFlight--;
    this.windowWaiters.shift()?.();
    if (this.roomWaiter && this.inFlight <= this.roomWaiter.threshold) {
      const w = this.roomWaiter;
      this.roomWaiter = null;
      w.resolve();
    }
  }

  private roomWaiter: { threshold: number; resolve: () => void } | null = null;
  /** The channel's write buffer is full (publish returned false): wait for 'drain'. */
  private blocked = false;

  /** One timer checks every pending confirm's deadline (a timer per message costs too much). */
  private watchDeadlines(): void {
    if (this.sweeper) return;
    this.sweeper = setInterval(
      () => {
        const now = Date.now();
        for (const [id, deadline] of this.deadlines) {
          if (deadline > now) break; // insertion order = deadline order
          this.deadlines.delete(id);
          const p = this.pending.get(id);
          if (p) {
            p.reject(
              new Error(
                `no publisher confirm for ${describe(p.exchange, p.routingKey)} within ${this.timeoutMs} ms`,
              ),
            );
          }
        }
        if (this.deadlines.size === 0 && this.sweeper) {
          clearInterval(this.sweeper);
          this.sweeper = null;
        }
      },
      Math.min(1000, this.timeoutMs),
    );
    this.sweeper.unref();
  }

  /** Publishes one message and resolves when the broker confirms it. */
  publish(item: PublishItem): Promise<void> {
    // Fast path: a live channel and room in the window: publish now, no awaits.
    const ch = this.live;
    if (
      ch &&
      !this.closed &&
      this.inFlight < this.window &&
      this.conn.current === this.channelModel
    ) {
      this.inFlight++;
      return this.send(ch, item);
    }
    return this.publishSlow(item);
  }

  private async publishSlow(item: PublishItem): Promise<void> {
    await this.slot();
    let ch: ConfirmChannel;
    try {
      ch = await this.confirmChannel();
    } catch (err) {
      this.release();
      throw err;
    }
    return this.send(ch, item);
  }

  /** Sends on `ch`; the caller has taken a window slot. */
  private send(ch: ConfirmChannel, item: PublishItem): Promise<void> {
    const messageId = item.options?.messageId ?? `${this.idPrefix}-${++this.seq}`;
    const { exchange, routingKey } = item;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const done = (err: Error | null): void => {
        if (settled) return;
        settled = true;
        this.pending.delete(messageId);
        this.deadlines.delete(messageId);
        this.release();
        if (err) reject(err);
        else resolve();
      };
      const entry: Pending = {
        exchange,
        routingKey,
        returned: null,
        resolve: () => done(null),
        reject: (e) => done(e),
      };
      this.pending.set(messageId, entry);
      this.deadlines.set(messageId, Date.now() + this.timeoutMs);
      this.watchDeadlines();
      try {
        this.blocked = !ch.publish(
          exchange,
          routingKey,
          item.content,
          { ...item.options, messageId, mandatory: true },
          (err: unknown) => {
            if (err) {
              const text = String((err as Error).message ?? err);
              done(
                text === "message nacked"
                  ? new PublishRejectedError(
                      `publish to ${describe(exchange, routingKey)} was rejected by the broker (nack): the queue is full (x-max-length with reject-publish) or failed`,
                      exchange,
                      routingKey,
                      "nacked",
                    )
                  : new Error(`publish to ${describe(exchange, routingKey)} failed: ${text}`),
              );
              return;
            }
            if (entry.returned) {
              done(
                new PublishRejectedError(
                  `publish to ${describe(exchange, routingKey)} was returned as unroutable (${entry.returned.code} ${entry.returned.text}): no queue is bound for it`,
                  exchange,
                  routingKey,
                  "returned",
                ),
              );
              return;
            }
            done(null);
          },
        );
      } catch (err) {
        done(err as Error);
      }
    });
  }

  /**
   * Publishes many messages in one confirm window and waits for all confirms. Resolves with one
   * entry per item: null when confirmed, the error otherwise (the batch never stops half way).
   */
  async publishMany(items: readonly PublishItem[]): Promise<(Error | null)[]> {
    const out: Promise<Error | null>[] = [];
    const settle = (p: Promise<void>): Promise<Error | null> =>
      p.then(
        () => null,
        (e: unknown) => e as Error,
      );
    for (const item of items) {
      if (this.inFlight >= this.window && !this.roomWaiter && this.windowWaiters.length === 0) {
        // Window full: wait until half of it is confirmed, then publish the next run without awaits.
        await new Promise<void>(
          (resolve) => (this.roomWaiter = { threshold: Math.floor(this.window / 2), resolve }),
        );
      }
      out.push(settle(this.publish(item)));
      const ch = this.live;
      if (this.blocked && ch) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            ch.off("drain", done);
            ch.off("close", done);
            resolve();
          };
          ch.on("drain", done);
          ch.on("close", done);
        });
        this.blocked = false;
      }
    }
    return Promise.all(out);
  }

  /** Stops publishing; pending confirms still settle. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    const ch = this.channel;
    this.channel = null;
    if (ch) {
      const c = await ch.catch(() => null);
      if (c) {
        await c.waitForConfirms().catch(() => undefined);
        await c.close().catch(() => undefined);
      }
    }
  }
}
