/**
 * Acknowledgements for one channel. Every delivery is tracked from receipt; `ack(tag)` marks it
 * done and a flush on the next tick acks the longest run of done deliveries at the front with one
 * `basic.ack multiple=true` (only deliveries this worker finished are covered), and done ones
 * behind a still-pending delivery one by one. Rejects flush pending acks first.
 */
import type { Channel, Message } from "amqplib";

function tagMsg(tag: number): Message {
  return { fields: { deliveryTag: tag } } as unknown as Message;
}

export class AckTracker {
  private readonly order: number[] = [];
  private head = 0;
  private readonly state = new Map<number, boolean>();
  private scheduled = false;
  closed = false;

  constructor(private readonly ch: Channel) {}

  track(tag: number): void {
    this.order.push(tag);
    this.state.set(tag, false);
  }

  get size(): number {
    return this.state.size;
  }

  ack(tag: number): void {
    if (this.closed || !this.state.has(tag)) return;
    this.state.set(tag, true);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Sends pending acks now. */
  flush(): void {
    this.scheduled = false;
    if (this.closed) return;
    let last = -1;
    while (this.head < this.order.length) {
      const t = this.order[this.head]!;
      const s = this.state.get(t);
      if (s === undefined) {
        this.head++;
        continue;
      }
      if (!s) break;
      this.state.delete(t);
      last = t;
      this.head++;
    }
    try {
      if (last >= 0) this.ch.ack(tagMsg(last), true);
      for (let i = this.head; i < this.order.length; i++) {
        const t = this.order[i]!;
        if (this.state.get(t) === true) {
          this.state.delete(t);
          this.ch.ack(tagMsg(t), false);
        }
      }
    } catch {
      this.closed = true;
    }
    if (this.head > 4096 && this.head * 2 > this.order.length) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Rejects (requeue=false) or requeues one delivery. */
  nack(tag: number, requeue: boolean): void {
    if (this.closed || !this.state.has(tag)) return;
    this.flush();
    this.state.delete(tag);
    try {
      this.ch.nack(tagMsg(tag), false, requeue);
    } catch {
      this.closed = true;
    }
  }

  has(tag: number): boolean {
    return this.state.has(tag);
  }
}
