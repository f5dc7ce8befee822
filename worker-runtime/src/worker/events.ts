/**
 * Celery events (`-E`): JSON messages on the `celeryev` topic exchange, routing key = event type
 * with '-' replaced by '.', header `hostname`, delivery mode 1, so Flower and `celery events` see
 * taskfleet workers. Best effort: an event that cannot be sent is dropped, never a task.
 */
import { loadavg } from "node:os";
import type { Channel } from "amqplib";

export const EVENT_EXCHANGE = "celeryev";

export class EventDispatcher {
  private clock = 0;
  private channel: Channel | null = null;
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
      freq: 2.0,
      active,
      processed,
      loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
      sw_ident: "taskfleet",
      sw_ver: "0.1.0",
      sw_sys: process.platform === "linux" ? "Linux" : process.platform,
    };
  }
}
