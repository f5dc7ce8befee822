/**
 * Reconnect after a broker restart (a dedicated RabbitMQ node), autoscale, probes and metrics,
 * Celery events, priorities and the S26 routing.
 */
import { join } from "node:path";
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { RabbitMqNode, freePort } from "../../local/services/index.js";
import { Autoscaler, Worker, createApp, type App } from "../../worker-runtime/src/index.js";
import { createLogger } from "../../worker-runtime/src/util/log.js";
import { tempDir } from "../support/tmp.js";
import { deleteQueues, sleep, startWorker, testApp, uniqueQueue, until } from "./helpers.js";

describe("Autoscaler rule", () => {
  it("grows at once to min(qty, max) and shrinks to max(qty, min) only after the keep-alive", () => {
    const a = new Autoscaler({ max: 10, min: 2 }, 30_000);
    expect(a.current).toBe(2);
    expect(a.update(7, 0)).toBe(7);
    expect(a.update(50, 1000)).toBe(10);
    expect(a.update(1, 20_000)).toBe(10);
    expect(a.update(1, 31_001)).toBe(2);
    expect(a.update(4, 31_002)).toBe(4);
  });
});

describe("worker semantics on the shared broker", () => {
  it("autoscales with the backlog and back down after the keep-alive", async () => {
    const queue = uniqueQueue("auto");
    const app = testApp(queue);
    app.task("s", (ms: number) => sleep(ms).then(() => "ok"));
    const w = await startWorker(app, {
      autoscale: { max: 6, min: 1 },
      autoscaleKeepAliveMs: 800,
      prefetchMultiplier: 2,
    });
    try {
      expect(w.currentConcurrency).toBe(1);
      expect(w.prefetch).toBe(12);
      const rs = await app.sendTasks(
        Array.from({ length: 12 }, () => ({ name: "s", args: [400] })),
      );
      let peak = 0;
      await until(
        () => {
          peak = Math.max(peak, w.inFlight);
          return peak === 6;
        },
        10_000,
        "6 running at once",
      );
      expect(w.currentConcurrency).toBe(6);
      for (const r of rs) expect(await r.get({ timeoutMs: 10_000 })).toBe("ok");
      await until(() => w.currentConcurrency === 1, 5000, "scale down to 1");
    } finally {
      await w.stop();
      await app.close();
      await deleteQueues(queue);
    }
  });

  it("serves /healthz, /readyz and Prometheus /metrics", async () => {
    const queue = uniqueQueue("probe");
    const app = testApp(queue);
    app.task("ok", () => 1);
    app.task("bad", () => {
      throw new Error("x");
    });
    const port = await freePort();
    const w = await startWorker(app, { healthPort: port, concurrency: 3, prefetchMultiplier: 2 });
    try {
      await (await app.sendTask("ok")).get({ timeoutMs: 5000 });
      await (await app.sendTask("bad")).get({ timeoutMs: 5000 }).catch(() => undefined);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: "ready", reason: "consuming" });
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      for (const line of [
        "taskfleet_tasks_received_total 2",
        "taskfleet_tasks_succeeded_total 1",
        "taskfleet_tasks_failed_total 1",
        "taskfleet_tasks_retried_total 0",
        "taskfleet_task_runtime_seconds_count 2",
        'taskfleet_task_runtime_seconds_bucket{le="+Inf"} 2',
        "taskfleet_tasks_in_flight 0",
        "taskfleet_worker_concurrency 3",
        "taskfleet_worker_prefetch 6",
        "taskfleet_worker_ready 1",
      ]) {
        expect(text).toContain(`\n${line}\n`);
      }
      expect(text).toContain("# TYPE taskfleet_task_runtime_seconds histogram");
    } finally {
      await w.stop();
      await app.close();
      await deleteQueues(queue);
    }
  });

  it("sends Celery events (-E) on the celeryev exchange", async () => {
    const queue = uniqueQueue("ev");
    const app = testApp(queue);
    app.task("ev.t", () => 3);
    const c = await amqp.connect(inject("amqpUrl"));
    const ch = await c.createChannel();
    await ch.assertExchange("celeryev", "topic", { durable: true });
    const tap = (await ch.assertQueue("", { exclusive: true })).queue;
    await ch.bindQueue(tap, "celeryev", "#");
    const events: { type: string; hostname: string; uuid?: string; routingKey: string }[] = [];
    await ch.consume(
      tap,
      (m) => {
        if (m)
          events.push({
            ...(JSON.parse(m.content.toString()) as { type: string; hostname: string }),
            routingKey: m.fields.routingKey,
          });
      },
      { noAck: true },
    );
    const w = await startWorker(app, { events: true, hostname: "evw@test" });
    try {
      const r = await app.sendTask("ev.t");
      await r.get({ timeoutMs: 5000 });
      await until(
        () => events.some((e) => e.type === "task-succeeded" && e.uuid === r.id),
        5000,
        "task-succeeded",
      );
      const mine = events.filter((e) => e.hostname === "evw@test");
      expect(mine.map((e) => e.type)).toEqual(
        expect.arrayContaining([
          "worker-online",
          "task-received",
          "task-started",
          "task-succeeded",
        ]),
      );
      expect(mine.find((e) => e.type === "task-succeeded")!.routingKey).toBe("task.succeeded");
    } finally {
      await w.stop();
      await app.close();
      await c.close();
      await deleteQueues(queue);
    }
  });

  it("routes the seed's priority queues (S26) and runs higher AMQP priority first", async () => {
    const hp = uniqueQueue("high_priority");
    const df = uniqueQueue("default");
    const exH = uniqueQueue("high_priority-ex");
    const exD = uniqueQueue("default-ex");
    const queues = [
      {
        name: hp,
        exchange: exH,
        exchangeType: "topic" as const,
        routingKey: "high.#",
        queueArguments: { "x-max-priority": 10 },
      },
      { name: df, exchange: exD, exchangeType: "topic" as const, routingKey: "default.#" },
    ];
    const app = createApp({
      brokerUrl: inject("amqpUrl"),
      resultBackend: inject("redisUrl"),
      queues,
      defaultQueue: df,
      logger: createLogger("silent"),
    });
    const order: number[] = [];
    app.task("p.t", (n: number) => {
      order.push(n);
      return n;
    });
    app.task("p.block", () => sleep(500));
    // declare through a first publish, then fill the high queue before a worker starts
    const blocker = await app.sendTask("p.block", [], {}, { queue: hp });
    const rs = [];
    for (const [n, priority] of [
      [1, 1],
      [2, 9],
      [3, 5],
    ] as const)
      rs.push(
        await app.sendTask("p.t", [n], {}, { queue: hp, priority, routingKey: "high.payments" }),
      );
    const dflt = await app.sendTask("p.t", [100]);
    const w = new Worker(app, { queues: [hp, df], concurrency: 1, logger: createLogger("silent") });
    await w.start();
    try {
      await blocker.get({ timeoutMs: 5000 });
      for (const r of rs) await r.get({ timeoutMs: 5000 });
      expect(await dflt.get({ timeoutMs: 5000 })).toBe(100);
      const highOrder = order.filter((n) => n < 100);
      expect(highOrder).toEqual([2, 3, 1]);
    } finally {
      await w.stop();
      await app.close();
      await deleteQueues(hp, df);
      const c = await amqp.connect(inject("amqpUrl"));
      const ch = await c.createChannel();
      await ch.deleteExchange(exH);
      await ch.deleteExchange(exD);
      await c.close();
    }
  });

  it("works with queues it did not declare (passive) such as a quorum queue with a length limit", async () => {
    const queue = uniqueQueue("qq");
    const c = await amqp.connect(inject("amqpUrl"));
    const ch = await c.createChannel();
    await ch.assertQueue(queue, {
      durable: true,
      arguments: {
        "x-queue-type": "quorum",
        "x-max-length": 100000,
        "x-overflow": "reject-publish",
      },
    });
    await c.close();
    const app = testApp(queue); // declare mode: falls back to passive on PRECONDITION_FAILED
    app.task("qq.t", (x: number) => x * 2);
    const w = await startWorker(app, { prefetchMultiplier: 1 });
    const passive = testApp(queue, { declareQueues: "passive" });
    try {
      expect(await (await app.sendTask("qq.t", [21])).get({ timeoutMs: 10_000 })).toBe(42);
      expect(await (await passive.sendTask("qq.t", [5])).get({ timeoutMs: 10_000 })).toBe(10);
    } finally {
      await w.stop();
      await app.close();
      await passive.close();
      await deleteQueues(queue);
    }
  });
});

describe("broker restart", () => {
  const dir = tempDir();
  let node: RabbitMqNode;
  let app: App;
  let w: Worker;
  beforeAll(async () => {
    node = new RabbitMqNode({ dir: join(dir.path, "rmq"), plugins: [] });
    await node.start();
  });
  afterAll(async () => {
    await w?.stop({ timeoutMs: 1000 });
    await app?.close();
    await node?.stop();
    dir.cleanup();
  });

  it("reconnects with backoff, reports not-ready meanwhile and resumes consuming", async () => {
    const queue = uniqueQueue("rc");
    app = createApp({
      brokerUrl: node.url(),
      resultBackend: inject("redisUrl"),
      defaultQueue: queue,
      logger: createLogger("silent"),
    });
    app.task("rc.t", (n: number) => n + 1);
    const port = await freePort();
    w = await startWorker(app, { healthPort: port });
    expect(await (await app.sendTask("rc.t", [1])).get({ timeoutMs: 10_000 })).toBe(2);
    await node.stop();
    await until(
      async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 503,
      10_000,
      "not ready",
    );
    const body = (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as {
      reason: string;
    };
    expect(body.reason).toBe("not connected to the broker");
    await node.start();
    await until(
      async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200,
      60_000,
      "ready again",
    );
    expect(await (await app.sendTask("rc.t", [41])).get({ timeoutMs: 10_000 })).toBe(42);
  });
});

describe("producer and worker details", () => {
  it("tries several broker URLs in turn (a dead one first)", async () => {
    const dead = `amqp://guest:guest@127.0.0.1:${await freePort()}/`;
    const queue = uniqueQueue("multi");
    const app = createApp({
      brokerUrl: `${dead};${inject("amqpUrl")}`,
      resultBackend: inject("redisUrl"),
      defaultQueue: queue,
      logger: createLogger("silent"),
    });
    app.task("m.t", () => "via the second URL");
    const w = await startWorker(app);
    try {
      expect(await (await app.sendTask("m.t")).get({ timeoutMs: 10_000 })).toBe(
        "via the second URL",
      );
    } finally {
      await w.stop();
      await app.close();
      await deleteQueues(queue);
    }
  });

  it("applies a per-worker rate limit (rateLimit '5/s' starts tasks at least 200 ms apart)", async () => {
    const queue = uniqueQueue("rate");
    const app = testApp(queue);
    const starts: number[] = [];
    app.task("r.t", () => void starts.push(Date.now()), { rateLimit: "5/s" });
    const w = await startWorker(app, { concurrency: 4 });
    try {
      const rs = await app.sendTasks(Array.from({ length: 5 }, () => ({ name: "r.t" })));
      for (const r of rs) await r.get({ timeoutMs: 10_000 });
      starts.sort((a, b) => a - b);
      for (let i = 1; i < starts.length; i++)
        expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(190);
    } finally {
      await w.stop();
      await app.close();
      await deleteQueues(queue);
    }
    expect(() => app.task("r.bad", () => 1, { rateLimit: "fast" })).toThrow(
      'task "r.bad" rateLimit: "fast" is not a rate; use "<n>/s", "<n>/m" or "<n>/h" (e.g. "100/m")',
    );
  });
});

describe("rate limits within consumer_timeout", () => {
  it("holds a rate-limited delivery at most min(60 s, consumer_timeout/10); later ones wait in the delay queues for their slot", async () => {
    const queue = uniqueQueue("rate-hold");
    const app = testApp(queue);
    const starts: number[] = [];
    app.task("rh.t", () => void starts.push(Date.now()), { rateLimit: "2/s" });
    // consumer_timeout 20 s: hold at most 2 s, i.e. the next 5 slots of 500 ms
    const w = await startWorker(app, { concurrency: 4, consumerTimeoutMs: 20_000 });
    try {
      const rs = await app.sendTasks(Array.from({ length: 10 }, () => ({ name: "rh.t" })));
      await sleep(600);
      expect(w.reserved).toBeLessThanOrEqual(5);
      for (const r of rs) await r.get({ timeoutMs: 20_000 });
      starts.sort((a, b) => a - b);
      for (let i = 1; i < starts.length; i++)
        expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(440);
      expect(starts.length).toBe(10);
    } finally {
      await w.stop();
      await app.close();
      await deleteQueues(queue);
    }
  });
});
