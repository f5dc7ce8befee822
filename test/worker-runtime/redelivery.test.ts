/**
 * Redeliveries and lost acks (issue 11, items 1, 6 and 7): the stored-SUCCESS guard acks without
 * running and re-sends the chain/link follow-ups, a follow-up the broker refuses is retried until
 * it is accepted, a connection cut mid-task runs the task once, and a channel that dies while a
 * redelivery is being looked up never makes two delayed copies.
 */
import { randomUUID } from "node:crypto";
import amqp from "amqplib";
import { Redis } from "ioredis";
import { afterEach, describe, expect, inject, it } from "vitest";
import { encodeTaskV2 } from "../../worker-runtime/src/protocol/message.js";
import {
  closeConnections,
  deleteQueues,
  publishRedelivered,
  sleep,
  startWorker,
  testApp,
  uniqueQueue,
  until,
} from "./helpers.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const sig = (task: string, args: unknown[], options: Record<string, unknown> = {}) => ({
  task,
  args,
  kwargs: {},
  options,
  subtask_type: null,
  immutable: false,
});

function message(
  id: string,
  task: string,
  args: unknown[],
  extra: Parameters<typeof encodeTaskV2>[0] | object = {},
) {
  const enc = encodeTaskV2({ id, task, args, ...extra });
  return { content: enc.body, options: { ...enc.properties, headers: enc.headers } };
}

describe("redeliveries and lost acks", () => {
  it("acks a redelivered task whose SUCCESS is stored without running it, and re-sends its chain step and link", async () => {
    const queue = uniqueQueue("guard");
    const app = testApp(queue);
    let ran = 0;
    const got: unknown[] = [];
    app.task("g.step", (x: number) => {
      ran++;
      return x + 1;
    });
    app.task("g.next", (x: number, y: number) => x * y);
    app.task("g.link", (x: number) => void got.push(x));
    const id = randomUUID();
    const nextId = randomUUID();
    // the first run stored SUCCESS and died before its follow-ups and ack
    await app.backend().store({ taskId: id, status: "SUCCESS", result: 7 });
    const m = message(id, "g.step", [6], {
      chain: [sig("g.next", [10], { task_id: nextId })],
      callbacks: [sig("g.link", [])],
    });
    await publishRedelivered(queue, m.content, m.options);
    const worker = await startWorker(app);
    cleanups.push(async () => {
      await worker.stop();
      await app.close();
      await deleteQueues(queue);
    });
    expect(await app.AsyncResult(nextId).get({ timeoutMs: 10_000 })).toBe(70);
    await until(() => got.length === 1, 5000, "the link");
    expect(got).toEqual([7]);
    expect(ran).toBe(0);
  });

  it("keeps sending a follow-up the broker refuses (full reject-publish queue) until it is accepted", async () => {
    const queue = uniqueQueue("fu");
    const full = uniqueQueue("fu-full");
    const c = await amqp.connect(inject("amqpUrl"));
    const ch = await c.createConfirmChannel();
    await ch.assertQueue(full, {
      durable: true,
      arguments: { "x-max-length": 1, "x-overflow": "reject-publish" },
    });
    await new Promise((r) => ch.sendToQueue(full, Buffer.from("filler"), {}, r));
    const app = testApp(queue, { queues: [{ name: queue }, { name: full }] });
    let ran = 0;
    app.task("f.first", (x: number) => {
      ran++;
      return x * 2;
    });
    app.task("f.then", (x: number) => x + 1);
    const worker = await startWorker(app);
    cleanups.push(async () => {
      await worker.stop();
      await app.close();
      await c.close();
      await deleteQueues(queue, full);
    });
    const thenId = randomUUID();
    const r = await app.sendTask(
      "f.first",
      [21],
      {},
      {
        chain: [sig("f.then", [], { task_id: thenId, queue: full })],
      },
    );
    await until(async () => (await r.state()) === "SUCCESS", 10_000, "first step stored");
    await sleep(2500);
    // the queue had no room: make some; the follow-up must arrive
    expect(await ch.get(full, { noAck: true })).toMatchObject({ content: Buffer.from("filler") });
    const second = await startWorker(testAppWith(full, app));
    cleanups.push(async () => {
      await second.stop();
      await second.app.close();
    });
    expect(await app.AsyncResult(thenId).get({ timeoutMs: 30_000 })).toBe(43);
    expect(ran).toBe(1);
  });

  it("runs a task once when the worker's connection is cut while it runs", async () => {
    const queue = uniqueQueue("cut");
    const app = testApp(queue);
    let runs = 0;
    app.task("c.slow", async () => {
      runs++;
      await sleep(4000);
      return "done";
    });
    const hostname = `cut-${queue}@test`;
    const worker = await startWorker(app, { hostname });
    cleanups.push(async () => {
      await worker.stop();
      await app.close();
      await deleteQueues(queue);
    });
    const r = await app.sendTask("c.slow");
    await until(() => runs === 1, 5000, "running");
    await closeConnections(`taskfleet-worker ${hostname}`);
    expect(await r.get({ timeoutMs: 15_000 })).toBe("done");
    await until(() => worker.isReady().ready, 15_000, "consuming again");
    // the redelivery (the ack was lost with the connection) is acked, not run again
    const c = await amqp.connect(inject("amqpUrl"));
    const ch = await c.createChannel();
    await until(
      async () => {
        const q = await ch.checkQueue(queue);
        return q.messageCount === 0 && worker.reserved === 0;
      },
      15_000,
      "redelivery settled",
    );
    await c.close();
    await sleep(1000);
    expect(runs).toBe(1);
  });

  it("delays a redelivery once when its channel dies during the SUCCESS lookup", async () => {
    const queue = uniqueQueue("lookup");
    const app = testApp(queue);
    const ranAt: number[] = [];
    app.task("l.later", () => void ranAt.push(Date.now()));
    const hostname = `lookup-${queue}@test`;
    const id = randomUUID();
    const m = message(id, "l.later", [], { eta: new Date(Date.now() + 6000) });
    // hold the message in a consumer that dies later, so it arrives redelivered
    const holder = await amqp.connect(inject("amqpUrl"));
    const hch = await holder.createChannel();
    await hch.assertQueue(queue, { durable: true });
    hch.sendToQueue(queue, m.content, m.options);
    await new Promise<void>((resolve) => void hch.consume(queue, (x) => x && resolve()));
    const worker = await startWorker(app, { hostname });
    cleanups.push(async () => {
      await worker.stop();
      await app.close();
      await deleteQueues(queue);
    });
    // Redis stalls for 2.5 s: the worker's lookup of the redelivery waits, and its channel dies meanwhile
    const blocker = new Redis(inject("redisUrl"));
    await blocker.call("CLIENT", "PAUSE", "2500", "ALL");
    blocker.disconnect();
    await hch.close();
    await holder.close();
    await sleep(400);
    await closeConnections(`taskfleet-worker ${hostname}`);
    await until(() => ranAt.length >= 1, 20_000, "the delayed task ran");
    await sleep(3000);
    expect(ranAt).toHaveLength(1);
  });
});

function testAppWith(queue: string, like: ReturnType<typeof testApp>) {
  const a = testApp(queue);
  for (const [name, t] of like.tasks) a.task(name, t.handler, t.options);
  return a;
}
