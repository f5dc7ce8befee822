/**
 * The result store goes away under load (issue 11, item 3): a worker keeps each finished task's
 * delivery and retries the store with backoff, stops taking new deliveries and reports not ready
 * meanwhile, and resumes when Redis is back: every task runs once and none is dead-lettered, on a
 * quorum queue whose delivery limit would dead-letter a task requeued twice.
 */
import { join } from "node:path";
import amqp from "amqplib";
import { describe, expect, inject, it } from "vitest";
import { RedisServer, freePort } from "../../local/services/index.js";
import { createApp } from "../../worker-runtime/src/index.js";
import { createLogger } from "../../worker-runtime/src/util/log.js";
import { tempDir } from "../support/tmp.js";
import { deleteQueues, sleep, startWorker, uniqueQueue, until } from "./helpers.js";

describe("result backend outage", () => {
  it("restarts Redis under load: every task runs once, none is dead-lettered, /readyz is 503 meanwhile", async () => {
    const dir = tempDir();
    // append-only file, fsync always: results stored before the restart survive it
    const redis = new RedisServer({
      dir: join(dir.path, "redis"),
      extraArgs: ["--appendonly", "yes", "--appendfsync", "always"],
    });
    await redis.start();
    const queue = uniqueQueue("redis-down");
    const dlq = `${queue}.dead`;
    const c = await amqp.connect(inject("amqpUrl"));
    const ch = await c.createChannel();
    await ch.assertQueue(dlq, { durable: true });
    await ch.assertQueue(queue, {
      durable: true,
      arguments: {
        "x-queue-type": "quorum",
        "x-delivery-limit": 2,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": dlq,
      },
    });
    const app = createApp({
      brokerUrl: inject("amqpUrl"),
      resultBackend: redis.url(),
      defaultQueue: queue,
      logger: createLogger(process.env.TASKFLEET_TEST_LOG ? "debug" : "silent"),
    });
    const runs = new Map<number, number>();
    app.task("b.t", async (n: number) => {
      runs.set(n, (runs.get(n) ?? 0) + 1);
      await sleep(20);
      return n;
    });
    const port = await freePort();
    const w = await startWorker(app, { concurrency: 8, prefetchMultiplier: 2, healthPort: port });
    const readyz = async (): Promise<{ status: number; reason: string }> => {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      return { status: res.status, reason: ((await res.json()) as { reason: string }).reason };
    };
    const N = 300;
    try {
      const rs = await app.sendTasks(
        Array.from({ length: N }, (_, n) => ({ name: "b.t", args: [n] })),
      );
      await until(() => runs.size >= 60, 20_000, "60 tasks ran");
      await redis.stop();
      await until(async () => (await readyz()).status === 503, 10_000, "not ready");
      expect((await readyz()).reason).toMatch(/^task outcomes are not being recorded: /);
      const ranWhileDown = runs.size;
      await sleep(3000);
      // no new deliveries are taken while outcomes cannot be recorded
      expect(runs.size - ranWhileDown).toBeLessThanOrEqual(8);
      await redis.start();
      await until(async () => (await readyz()).status === 200, 30_000, "ready again");
      const values = await Promise.all(rs.map((r) => r.get({ timeoutMs: 60_000 })));
      expect(values).toEqual(Array.from({ length: N }, (_, n) => n));
      expect([...runs.values()].filter((k) => k !== 1)).toEqual([]);
      expect(runs.size).toBe(N);
      expect((await ch.checkQueue(dlq)).messageCount).toBe(0);
      await until(async () => (await ch.checkQueue(queue)).messageCount === 0, 10_000, "drained");
    } finally {
      await w.stop();
      await app.close();
      await redis.stop();
      await ch.deleteQueue(dlq).catch(() => undefined);
      await c.close();
      await deleteQueues(queue);
      dir.cleanup();
    }
  }, 120_000);
});
