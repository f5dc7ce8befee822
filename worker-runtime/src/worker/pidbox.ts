/**
 * Celery remote control (kombu pidbox), the subset monitoring needs: `ping`, `stats`,
 * `registered`, `active_queues`, `active`, `enable_events`/`disable_events`. Requests arrive on
 * the fanout exchange `celery.pidbox` in this node's queue `<hostname>.celery.pidbox`; replies go
 * to the direct exchange `reply.celery.pidbox` with the requester's routing key, as
 * `{<hostname>: reply}` with headers `{ticket, clock}`. So `celery inspect ping` and Flower see
 * taskfleet workers.
 */
import type { Channel, ConsumeMessage } from "amqplib";
import type { ControlHandler } from "./control.js";

export const PIDBOX_EXCHANGE = "celery.pidbox";
export const PIDBOX_REPLY_EXCHANGE = "reply.celery.pidbox";

interface ControlRequest {
  method?: unknown;
  arguments?: unknown;
  destination?: unknown;
  pattern?: unknown;
  ticket?: unknown;
  reply_to?: { exchange?: unknown; routing_key?: unknown } | null;
}

function globMatch(pattern: string, text: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
  );
  return re.test(text);
}

export class Pidbox {
  private clock = 0;
  private channel: Channel | null = null;
  private replyDeclared = false;

  constructor(
    readonly hostname: string,
    private readonly lookup: (method: string) => ControlHandler | undefined,
  ) {}

  get queueName(): string {
    return `${this.hostname}.celery.pidbox`;
  }

  async attach(ch: Channel): Promise<void> {
    this.channel = ch;
    this.replyDeclared = false;
    await ch.assertExchange(PIDBOX_EXCHANGE, "fanout", { durable: false });
    await ch.assertQueue(this.queueName, {
      durable: false,
      autoDelete: true,
      arguments: { "x-expires": 10_000, "x-message-ttl": 300_000 },
    });
    await ch.bindQueue(this.queueName, PIDBOX_EXCHANGE, "");
    await ch.consume(this.queueName, (m) => m && void this.onMessage(m), { noAck: true });
  }

  detach(): void {
    this.channel = null;
  }

  private async onMessage(m: ConsumeMessage): Promise<void> {
    let req: ControlRequest;
    try {
      req = JSON.parse(m.content.toString("utf-8")) as ControlRequest;
    } catch {
      return;
    }
    const dest = req.destination;
    if (Array.isArray(dest) && dest.length > 0 && !dest.includes(this.hostname)) return;
    if (typeof req.pattern === "string" && req.pattern && !globMatch(req.pattern, this.hostname))
      return;
    const method = String(req.method ?? "");
    const handler = this.lookup(method);
    let reply: unknown;
    try {
      reply = handler
        ? await handler((req.arguments ?? {}) as Record<string, unknown>)
        : { error: `No such command: ${method}` };
    } catch (err) {
      reply = { error: (err as Error).message };
    }
    const to = req.reply_to;
    const ch = this.channel;
    if (!to || typeof to.routing_key !== "string" || !ch) return;
    const exchange =
      typeof to.exchange === "string" && to.exchange ? to.exchange : PIDBOX_REPLY_EXCHANGE;
    try {
      if (!this.replyDeclared) {
        await ch.assertExchange(exchange, "direct", { durable: false });
        this.replyDeclared = true;
      }
      ch.publish(
        exchange,
        to.routing_key,
        Buffer.from(JSON.stringify({ [this.hostname]: reply })),
        {
          headers: { ticket: req.ticket ?? null, clock: ++this.clock },
          contentType: "application/json",
          contentEncoding: "utf-8",
          deliveryMode: 1,
        },
      );
    } catch {
      // the requester is gone; nothing to do
    }
  }
}
