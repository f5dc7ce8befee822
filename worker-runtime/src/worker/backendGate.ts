/**
 * The result store's availability as the worker sees it. When a store fails (Redis down, a
 * failover under way) the gate closes: the consumer stops taking deliveries, the scheduler starts
 * no new task, `/readyz` answers 503; finished tasks keep their deliveries and retry their store.
 * A probe (PING with backoff, 0.25 s doubling to 5 s) or the next successful store opens it.
 */
import type { App } from "../app.js";
import { backoffDelay } from "../amqp/connection.js";
import type { Logger } from "../util/log.js";

export interface BackendGateDeps {
  readonly app: App;
  readonly log: Logger;
  readonly onDown: () => void;
  readonly onUp: () => void;
}

export class BackendGate {
  private reason: string | null = null;
  private since = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly d: BackendGateDeps) {}

  /** Why outcomes cannot be recorded now, or null. */
  get downReason(): string | null {
    return this.reason;
  }

  /** A store failed. */
  failed(err: unknown): void {
    const text = err instanceof Error ? err.message : String(err);
    if (this.reason !== null) {
      this.reason = text;
      return;
    }
    this.reason = text;
    this.since = Date.now();
    this.d.log.warn("result backend unavailable; pausing consumption until it is back", {
      err: text,
    });
    this.d.onDown();
    this.probe(1);
  }

  /** A store (or the probe) succeeded. */
  ok(): void {
    if (this.reason === null) return;
    this.reason = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.d.log.info("result backend is back; resuming consumption", {
      downForMs: Date.now() - this.since,
    });
    this.d.onUp();
  }

  private probe(attempt: number): void {
    if (this.closed) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.d.app
          .backend()
          .ping()
          .then(
            () => this.ok(),
            () => {
              if (this.reason !== null) this.probe(attempt + 1);
            },
          );
      },
      backoffDelay(attempt, 250, 5000),
    );
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
