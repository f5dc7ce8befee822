/**
 * The baselines: what a careful person writes with bare amqplib and ioredis, doing the same work as
 * taskfleet (parse a Celery message, store a Celery-format result, ack after the store) and nothing
 * more — no batching of acks, no pipelining of result writes across tasks, no retries, no limits.
 */
import { randomUUID } from "node:crypto";
import { connect } from "amqplib";
import { Redis } from "ioredis";

/** A minimal Celery protocol v2 message for a task with no arguments. */
export function celeryMessage(task: string): {
  body: Buffer;
  options: {
    headers: Record<string, unknown>;
    correlationId: string;
    contentType: string;
    contentEncoding: string;
    deliveryMode: number;
  };
} {
  const id = randomUUID();
  return {
    body: Buffer.from(
      JSON.stringify([[], {}, { callbacks: null, errbacks: null, chain: null, chord: null }]),
    ),
    options: {
      headers: {
        lang: "py",
        task,
        id,
        shadow: null,
        eta: null,
        expires: null,
        group: null,
        group_index: null,
        retries: 0,
        timelimit: [null, null],
        root_id: id,
        parent_id: null,
        argsrepr: "()",
        kwargsrepr: "{}",
        origin: "bench@localhost",
        ignore_result: false,
      },
      correlationId: id,
      contentType: "application/json",
      contentEncoding: "utf-8",
      deliveryMode: 2,
    },
  };
}

/** Publishes `count` messages to `queue` on the default exchange with confirms; returns seconds. */
export async function barePublish(amqpUrl: string, queue: string, count: number): Promise<number> {
  const conn = await connect(amqpUrl);
  try {
    const ch = await conn.createConfirmChannel();
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      const m = celeryMessage("bench.noop");
      const ok = ch.publish("", queue, m.body, { ...m.options, mandatory: true });
      if (!ok) await new Promise((r) => ch.once("drain", r));
    }
    await ch.waitForConfirms();
    return (performance.now() - t0) / 1000;
  } finally {
    await conn.close();
  }
}

/**
 * Consumes `count` messages from `queue`: parse, SETEX + PUBLISH the result (one MULTI per task,
 * awaited), then ack that message alone. Returns seconds from the first delivery to the last ack.
 */
export async function bareConsume(
  amqpUrl: string,
  redisUrl: string,
  queue: string,
  count: number,
  prefetch: number,
): Promise<number> {
  const conn = await connect(amqpUrl);
  const redis = new Redis(redisUrl);
  try {
    const ch = await conn.createChannel();
    await ch.prefetch(prefetch);
    let done = 0;
    let t0 = 0;
    const finished = new Promise<number>((resolve, reject) => {
      void ch.consume(queue, (msg) => {
        if (!msg) return;
        if (t0 === 0) t0 = performance.now();
        const id = String(msg.properties.headers?.id ?? msg.properties.correlationId);
        const [args, kwargs] = JSON.parse(msg.content.toString("utf8")) as [unknown[], object];
        void args;
        void kwargs;
        const meta = JSON.stringify({
          status: "SUCCESS",
          result: null,
          traceback: null,
          children: [],
          date_done: new Date().toISOString(),
          task_id: id,
        });
        const key = `celery-task-meta-${id}`;
        redis
          .multi()
          .setex(key, 86400, meta)
          .publish(key, meta)
          .exec()
          .then(() => {
            ch.ack(msg);
            if (++done === count) resolve((performance.now() - t0) / 1000);
          }, reject);
      });
    });
    return await finished;
  } finally {
    redis.disconnect();
    await conn.close();
  }
}
