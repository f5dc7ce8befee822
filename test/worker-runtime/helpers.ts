/** Shared helpers for the worker-runtime suites: unique queues on the shared broker, cleanup. */
import { randomUUID } from "node:crypto";
import amqp from "amqplib";
import { inject } from "vitest";
import { createApp, type App, type AppOptions } from "../../worker-runtime/src/app.js";
import { Worker, type WorkerOptions } from "../../worker-runtime/src/worker/worker.js";
import { createLogger } from "../../worker-runtime/src/util/log.js";

export function uniqueQueue(prefix = "test"): string {
  return `${prefix}-${randomUUID()}`;
}

export function testApp(queue: string, opts: AppOptions = {}): App {
  return createApp({
    brokerUrl: inject("amqpUrl"),
    resultBackend: inject("redisUrl"),
    defaultQueue: queue,
    logger: createLogger(process.env.TASKFLEET_TEST_LOG ? "debug" : "silent"),
    ...opts,
  });
}

export async function startWorker(app: App, opts: WorkerOptions = {}): Promise<Worker> {
  const w = new Worker(app, { concurrency: 4, shutdownTimeoutMs: 5000, ...opts });
  await w.start();
  return w;
}

/** Deletes queues on the shared broker. */
export async function deleteQueues(...names: string[]): Promise<void> {
  const c = await amqp.connect(inject("amqpUrl"));
  try {
    for (const n of names) {
      const ch = await c.createChannel();
      ch.on("error", () => undefined);
      await ch.deleteQueue(n).catch(() => undefined);
      await ch.close().catch(() => undefined);
    }
  } finally {
    await c.close();
  }
}

export async function until(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
  what = "condition",
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
