/** The same work as the baselines, done by taskfleet's worker and producer. */
import { Redis } from "ioredis";
import { createApp, createLogger, Worker, type App } from "@taskfleet/worker";

const silent = createLogger("silent");

function benchApp(amqpUrl: string, redisUrl: string, queue: string): App {
  const app = createApp({
    brokerUrl: amqpUrl,
    resultBackend: redisUrl,
    defaultQueue: queue,
    queues: [{ name: queue }],
    logger: silent,
  });
  app.task("bench.noop", () => null, { queue });
  return app;
}

function benchWorker(
  amqpUrl: string,
  redisUrl: string,
  queue: string,
  concurrency: number,
  prefetchMultiplier: number,
): { app: App; worker: Worker } {
  const app = benchApp(amqpUrl, redisUrl, queue);
  const worker = new Worker(app, {
    queues: [queue],
    concurrency,
    prefetchMultiplier,
    logger: silent,
    hostname: "bench@localhost",
  });
  return { app, worker };
}

/** Runs a taskfleet worker until it has stored `count` results; returns seconds. */
export async function taskfleetConsume(
  amqpUrl: string,
  redisUrl: string,
  queue: string,
  count: number,
  concurrency: number,
  prefetchMultiplier: number,
): Promise<number> {
  const { app, worker } = benchWorker(amqpUrl, redisUrl, queue, concurrency, prefetchMultiplier);
  try {
    let t0 = 0;
    await worker.start();
    const secs = await new Promise<number>((resolve) => {
      const tick = setInterval(() => {
        const m = worker.metrics;
        if (t0 === 0 && m.received > 0) t0 = performance.now();
        if (m.succeeded >= count) {
          clearInterval(tick);
          resolve((performance.now() - t0) / 1000);
        }
      }, 2);
    });
    return secs;
  } finally {
    await worker.close();
    await app.close();
  }
}

/** Publishes `count` tasks with confirms through `app.sendTasks`; returns seconds. */
export async function taskfleetPublish(
  amqpUrl: string,
  queue: string,
  count: number,
): Promise<number> {
  const app = createApp({
    brokerUrl: amqpUrl,
    resultBackend: null,
    defaultQueue: queue,
    queues: [{ name: queue }],
    logger: silent,
  });
  try {
    await app.sendTasks([{ name: "bench.warmup", options: { queue } }]);
    const items = Array.from({ length: count }, () => ({ name: "bench.noop" }));
    const t0 = performance.now();
    await app.sendTasks(items);
    return (performance.now() - t0) / 1000;
  } finally {
    await app.close();
  }
}

/**
 * Enqueue-to-result latency at a fixed rate: publishes `count` tasks at `ratePerSecond` (each one
 * confirmed) to a running taskfleet worker and times each from just before its publish to the
 * moment its result arrives on the result channel. Returns the latencies in milliseconds.
 */
export async function taskfleetLatency(
  amqpUrl: string,
  redisUrl: string,
  queue: string,
  count: number,
  ratePerSecond: number,
  concurrency: number,
  prefetchMultiplier: number,
): Promise<number[]> {
  const { app, worker } = benchWorker(amqpUrl, redisUrl, queue, concurrency, prefetchMultiplier);
  const sub = new Redis(redisUrl);
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  try {
    await worker.start();
    let resolveAll: () => void = () => undefined;
    const all = new Promise<void>((r) => (resolveAll = r));
    await sub.psubscribe("celery-task-meta-*");
    sub.on("pmessage", (_p, channel: string) => {
      const id = channel.slice("celery-task-meta-".length);
      const t = sentAt.get(id);
      if (t === undefined) return;
      latencies.push(performance.now() - t);
      sentAt.delete(id);
      if (latencies.length === count) resolveAll();
    });
    const t0 = performance.now();
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < count; i++) {
      const due = t0 + (i * 1000) / ratePerSecond;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const id = crypto.randomUUID();
      sentAt.set(id, performance.now());
      pending.push(app.sendTask("bench.noop", [], {}, { taskId: id, queue }));
    }
    await Promise.all(pending);
    await Promise.race([all, new Promise((r) => setTimeout(r, 60_000))]);
    return latencies;
  } finally {
    sub.disconnect();
    await worker.close();
    await app.close();
  }
}
