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

/** Closes the broker connections with this client-provided name (management API), as a network cut would. */
export async function closeConnections(connectionName: string): Promise<number> {
  const base = inject("rabbitManagementUrl");
  const auth = { authorization: `Basic ${Buffer.from("guest:guest").toString("base64")}` };
  let closed = 0;
  await until(
    async () => {
      const res = await fetch(`${base}/api/connections`, { headers: auth });
      const list = (await res.json()) as {
        name: string;
        client_properties?: { connection_name?: string };
      }[];
      for (const c of list) {
        if (c.client_properties?.connection_name !== connectionName) continue;
        await fetch(`${base}/api/connections/${encodeURIComponent(c.name)}`, {
          method: "DELETE",
          headers: { ...auth, "x-reason": "test: connection cut" },
        });
        closed++;
      }
      return closed > 0;
    },
    10_000,
    `connection "${connectionName}" listed by the management API`,
  );
  return closed;
}

/**
 * Puts a message into `queue` as a redelivery (`redelivered=true`): a consumer takes it without
 * acking and closes its channel, as a worker that died after receiving it would.
 */
export async function publishRedelivered(
  queue: string,
  content: Buffer,
  options: amqp.Options.Publish,
): Promise<void> {
  const c = await amqp.connect(inject("amqpUrl"));
  try {
    const ch = await c.createConfirmChannel();
    await ch.assertQueue(queue, { durable: true });
    await new Promise<void>((resolve, reject) =>
      ch.sendToQueue(queue, content, options, (err) => (err ? reject(err as Error) : resolve())),
    );
    const got = await new Promise<amqp.ConsumeMessage>((resolve) => {
      void ch.consume(queue, (m) => m && resolve(m));
    });
    if (!got) throw new Error("no message");
    await ch.close();
  } finally {
    await c.close();
  }
}
