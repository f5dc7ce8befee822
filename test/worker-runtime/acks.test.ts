/**
 * Ack batching on a real channel: finished deliveries at the front are acked with one
 * `multiple=true`, finished ones behind a pending delivery one by one, and the broker accepts
 * every ack (a wrong tag would close the channel with PRECONDITION_FAILED).
 */
import amqp, { type ConsumeMessage, type Message } from "amqplib";
import { expect, inject, it } from "vitest";
import { AckTracker } from "../../worker-runtime/src/worker/acks.js";
import { deleteQueues, uniqueQueue, until } from "./helpers.js";

it("acks with multiple=true only over finished deliveries, and the broker agrees", async () => {
  const queue = uniqueQueue("acks");
  const conn = await amqp.connect(inject("amqpUrl"));
  try {
    const ch = await conn.createChannel();
    let closedWithError: Error | null = null;
    ch.on("error", (e: Error) => (closedWithError = e));
    await ch.assertQueue(queue, { durable: false });
    for (let i = 0; i < 6; i++) ch.sendToQueue(queue, Buffer.from(String(i)));
    const calls: [number, boolean][] = [];
    const realAck = ch.ack.bind(ch);
    ch.ack = (m: Message, allUpTo?: boolean) => {
      calls.push([m.fields.deliveryTag, allUpTo === true]);
      realAck(m, allUpTo);
    };
    const tracker = new AckTracker(ch);
    const got: ConsumeMessage[] = [];
    await ch.prefetch(10);
    await ch.consume(queue, (m) => {
      if (m) {
        tracker.track(m.fields.deliveryTag);
        got.push(m);
      }
    });
    await until(() => got.length === 6, 5000, "6 deliveries");
    const tag = (i: number): number => got[i]!.fields.deliveryTag;
    tracker.ack(tag(1));
    tracker.ack(tag(2));
    tracker.flush(); // 0 is still running: 1 and 2 one by one
    tracker.ack(tag(0));
    tracker.flush(); // 0 now finished: one multiple ack up to 0 (1, 2 are already acked)
    tracker.nack(tag(3), true); // requeue 3 (redelivered later)
    tracker.ack(tag(4));
    tracker.ack(tag(5));
    tracker.flush(); // 4 and 5 finished at the front: one multiple ack up to 5
    expect(calls).toEqual([
      [tag(1), false],
      [tag(2), false],
      [tag(0), true],
      [tag(5), true],
    ]);
    await until(() => got.length === 7, 5000, "redelivery of the requeued one");
    expect(got[6]!.content.toString()).toBe("3");
    expect(got[6]!.fields.redelivered).toBe(true);
    realAck(got[6]!);
    await ch.close();
    expect(closedWithError).toBeNull();
    const check = await conn.createChannel();
    expect((await check.checkQueue(queue)).messageCount).toBe(0);
  } finally {
    await conn.close();
    await deleteQueues(queue);
  }
});
