/**
 * One AMQP connection with recovery: several broker URLs (a cluster) tried in turn, reconnect
 * with exponential backoff and jitter after a loss, `connected`/`disconnected` events for the
 * layers above to re-create channels and consumers.
 */
import { EventEmitter } from "node:events";
import amqp, { type ChannelModel } from "amqplib";
import { silentLogger, type Logger } from "../util/log.js";

export interface AmqpConnectionOptions {
  /** Broker URLs, tried in turn. A single string may hold several separated by `;` or `,`. */
  urls: string | readonly string[];
  /** AMQP heartbeat. @default 30 */
  heartbeatSeconds?: number;
  /** First reconnect delay. @default 200 */
  reconnectInitialDelayMs?: number;
  /** Longest reconnect delay. @default 10000 */
  reconnectMaxDelayMs?: number;
  /**
   * Rounds over all URLs before `connect()` gives up (later losses retry forever).
   * @default 3
   */
  initialRounds?: number;
  /** How long callers of connect() wait for the reconnect loop after a loss. @default 30000 */
  recoveryWaitMs?: number;
  /** Connection name shown in the management UI. */
  name?: string;
  logger?: Logger;
}

/** Splits `amqp://a;amqp://b` or a list into URLs (Celery accepts `;` between URLs). */
export function splitBrokerUrls(urls: string | readonly string[]): string[] {
  const list = typeof urls === "string" ? [urls] : [...urls];
  const out = list
    .flatMap((u) => u.split(/;|,(?=\s*amqps?:\/\/)/))
    .map((u) => u.trim())
    .filter((u) => u.length > 0);
  for (const u of out) {
    if (!/^amqps?:\/\//.test(u)) {
      throw new Error(
        `broker URL: "${redactAmqp(u)}" is not an AMQP URL; use amqp://user:password@host:5672/vhost`,
      );
    }
  }
  if (out.length === 0)
    throw new Error("broker URL: none given; set TASKFLEET_BROKER_URL or the app's brokerUrl");
  return out;
}

export function redactAmqp(url: string): string {
  return url.replace(/\/\/([^@/:]*):([^@/]*)@/, "//$1:***@");
}

export function backoffDelay(
  attempt: number,
  initialMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base / 2 + (random() * base) / 2);
}

export interface AmqpConnectionEvents {
  connected: [ChannelModel];
  disconnected: [Error];
}

export class AmqpConnection extends EventEmitter<AmqpConnectionEvents> {
  readonly urls: string[];
  private readonly opts: AmqpConnectionOptions;
  private readonly log: Logger;
  private model: ChannelModel | null = null;
  private urlIndex = 0;
  private closing = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private connectingPromise: Promise<ChannelModel> | null = null;
  private recovering = false;

  constructor(opts: AmqpConnectionOptions) {
    super();
    this.opts = opts;
    this.urls = splitBrokerUrls(opts.urls);
    this.log = opts.logger ?? silentLogger;
  }

  get connected(): boolean {
    return this.model !== null;
  }

  /** The live connection, or null while disconnected. */
  get current(): ChannelModel | null {
    return this.model;
  }

  /** The URL in use (password hidden). */
  get currentUrl(): string {
    return redactAmqp(this.urls[this.urlIndex]!);
  }

  private async tryOnce(): Promise<ChannelModel> {
    const errors: string[] = [];
    for (let k = 0; k < this.urls.length; k++) {
      const i = (this.urlIndex + k) % this.urls.length;
      const url = this.urls[i]!;
      try {
        const withBeat = /[?&]heartbeat=/.test(url)
          ? url
          : `${url}${url.includes("?") ? "&" : "?"}heartbeat=${this.opts.heartbeatSeconds ?? 30}`;
        const m = await amqp.connect(withBeat, {
          clientProperties: { connection_name: this.opts.name ?? "taskfleet" },
          timeout: 5000,
        });
        this.urlIndex = i;
        return m;
      } catch (err) {
        errors.push(`${redactAmqp(url)}: ${(err as Error).message}`);
      }
    }
    throw new Error(`no broker answered (${errors.join("; ")})`);
  }

  private attach(m: ChannelModel): void {
    this.model = m;
    this.recovering = false;
    m.on("error", (err: Error) => this.log.warn("broker connection error", { err }));
    m.on("blocked", (reason: string) => this.log.warn("broker blocked the connection", { reason }));
    m.on("close", (err?: Error) => {
      if (this.model !== m) return;
      this.model = null;
      if (this.closing) return;
      const e = err ?? new Error("connection closed by the broker");
      this.log.warn("broker connection lost; reconnecting", { err: e, url: this.currentUrl });
      this.emit("disconnected", e);
      this.urlIndex = (this.urlIndex + 1) % this.urls.length;
      this.recovering = true;
      this.scheduleReconnect(1);
    });
    this.log.info("connected to broker", { url: this.currentUrl });
    this.emit("connected", m);
  }

  private scheduleReconnect(attempt: number): void {
    if (this.closing || this.reconnectTimer) return;
    const delay = backoffDelay(
      attempt,
      this.opts.reconnectInitialDelayMs ?? 200,
      this.opts.reconnectMaxDelayMs ?? 10_000,
    );
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.tryOnce().then(
        (m) => {
          if (this.closing) {
            void m.close().catch(() => undefined);
            return;
          }
          this.attach(m);
        },
        (err: unknown) => {
          this.log.warn("reconnect failed", { err: err as Error, attempt });
          this.scheduleReconnect(attempt + 1);
        },
      );
    }, delay);
  }

  /** Connects (trying every URL up to `initialRounds` times); resolves with the connection. */
  async connect(): Promise<ChannelModel> {
    if (this.model) return this.model;
    if (this.closing) throw new Error("connection is closed");
    // After a loss the reconnect loop owns connecting: wait for it rather than race it.
    if (this.recovering) return this.waitConnected(this.opts.recoveryWaitMs ?? 30_000);
    this.connectingPromise ??= (async () => {
      const rounds = this.opts.initialRounds ?? 3;
      let last: Error | null = null;
      for (let r = 1; r <= rounds; r++) {
        try {
          const m = await this.tryOnce();
          if (this.closing) {
            await m.close().catch(() => undefined);
            throw new Error("connection is closed");
          }
          this.attach(m);
          return m;
        } catch (err) {
          last = err as Error;
          if (this.closing) break;
          if (r < rounds) {
            await new Promise((res) =>
              setTimeout(
                res,
                backoffDelay(
                  r,
                  this.opts.reconnectInitialDelayMs ?? 200,
                  this.opts.reconnectMaxDelayMs ?? 10_000,
                ),
              ),
            );
          }
        }
      }
      throw new Error(`cannot connect to the broker: ${last?.message ?? "closed"}`);
    })().finally(() => {
      this.connectingPromise = null;
    });
    return this.connectingPromise;
  }

  /** Waits until connected (or throws after `timeoutMs`). */
  async waitConnected(timeoutMs: number): Promise<ChannelModel> {
    if (this.model) return this.model;
    return new Promise<ChannelModel>((resolve, reject) => {
      const t = setTimeout(() => {
        this.off("connected", on);
        reject(
          new Error(
            `broker not reachable within ${timeoutMs} ms (reconnecting to ${this.currentUrl})`,
          ),
        );
      }, timeoutMs);
      const on = (m: ChannelModel): void => {
        clearTimeout(t);
        resolve(m);
      };
      this.once("connected", on);
    });
  }

  /** Closes the connection and stops reconnecting; safe to call twice. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const m = this.model;
    this.model = null;
    if (m) await m.close().catch(() => undefined);
  }
}
