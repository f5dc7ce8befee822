/**
 * `npm run bench`: taskfleet against the bare amqplib + ioredis baselines, in the same run, on the
 * same RabbitMQ and Redis (started here on free loopback ports). Prints medians over several
 * alternating rounds and the ratio taskfleet / baseline. Machines here are shared and noisy: read
 * the ratios, not single figures.
 *
 *   npm run bench -- [--tasks 30000] [--publish 50000] [--rounds 3] [--concurrency 50]
 *                    [--prefetch-multiplier 4] [--latency-tasks 5000]
 *                    [--ingest 50000] [--ingest-single 10000] [--ingest-batches-in-flight 8]
 *                    [--only ingest]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { connect } from "amqplib";
import { RabbitMqNode, RedisServer } from "../local/services/index.js";
import { bareConsume, barePublish, celeryMessage } from "./bare.js";
import { taskfleetConsume, taskfleetLatency, taskfleetPublish } from "./taskfleet.js";
import { apiIngest, bareIngest, resetIngest, startApi } from "./apiIngest.js";
import { fmt, median, quantile } from "./stats.js";

const { values: flags } = parseArgs({
  options: {
    tasks: { type: "string", default: "30000" },
    publish: { type: "string", default: "50000" },
    rounds: { type: "string", default: "3" },
    concurrency: { type: "string", default: "50" },
    "prefetch-multiplier": { type: "string", default: "4" },
    "latency-tasks": { type: "string", default: "5000" },
    ingest: { type: "string", default: "50000" },
    "ingest-single": { type: "string", default: "10000" },
    "ingest-batches-in-flight": { type: "string", default: "8" },
    only: { type: "string" },
  },
});

function positiveInt(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) {
    throw new Error(`--${name}: ${JSON.stringify(text)} is not a positive integer`);
  }
  return n;
}

const TASKS = positiveInt("tasks", flags.tasks);
const PUBLISH = positiveInt("publish", flags.publish);
const ROUNDS = positiveInt("rounds", flags.rounds);
const CONCURRENCY = positiveInt("concurrency", flags.concurrency);
const MULTIPLIER = positiveInt("prefetch-multiplier", flags["prefetch-multiplier"]);
const LATENCY_TASKS = positiveInt("latency-tasks", flags["latency-tasks"]);
const PREFETCH = CONCURRENCY * MULTIPLIER;
const INGEST = positiveInt("ingest", flags.ingest);
const INGEST_SINGLE = positiveInt("ingest-single", flags["ingest-single"]);
const INGEST_BATCHES = positiveInt("ingest-batches-in-flight", flags["ingest-batches-in-flight"]);
if (flags.only !== undefined && flags.only !== "ingest") {
  throw new Error(`--only: ${JSON.stringify(flags.only)} is not a part; use --only ingest`);
}

async function fillQueue(amqpUrl: string, queue: string, count: number): Promise<void> {
  const conn = await connect(amqpUrl);
  try {
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue(queue, { durable: true });
    await ch.purgeQueue(queue);
    for (let i = 0; i < count; i++) {
      const m = celeryMessage("bench.noop");
      if (!ch.publish("", queue, m.body, m.options)) await new Promise((r) => ch.once("drain", r));
    }
    await ch.waitForConfirms();
  } finally {
    await conn.close();
  }
}

async function resetQueue(amqpUrl: string, queue: string): Promise<void> {
  const conn = await connect(amqpUrl);
  try {
    const ch = await conn.createChannel();
    await ch.assertQueue(queue, { durable: true });
    await ch.purgeQueue(queue);
  } finally {
    await conn.close();
  }
}

/** Even rounds run the baseline first, odd rounds taskfleet first. */
async function inTurn(
  round: number,
  baseline: () => Promise<void>,
  taskfleet: () => Promise<void>,
): Promise<void> {
  if (round % 2 === 0) {
    await baseline();
    await taskfleet();
  } else {
    await taskfleet();
    await baseline();
  }
}

function line(label: string, values: number[], unit: string): number {
  const m = median(values);
  console.log(
    `  ${label.padEnd(34)} median ${fmt(m).padStart(8)} ${unit}   rounds (in order): ${values.map((v) => fmt(v)).join(", ")}`,
  );
  return m;
}

/**
 * 4. Task API ingest: `taskfleet api` in its own process, tasks over keep-alive HTTP in batches of
 * 1,000 and one per request, against a bare amqplib confirmed publish to the same exchange.
 */
async function ingest(amqp: string, red: string): Promise<void> {
  const api = await startApi(amqp, red);
  try {
    await resetIngest(amqp);
    await apiIngest(api, 2000, 1000, 2); // warm-up: connections, JIT
    const bare: number[] = [];
    const batch: number[] = [];
    const single: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const runBare = async (): Promise<void> => {
        await resetIngest(amqp);
        bare.push(INGEST / (await bareIngest(amqp, INGEST)));
      };
      const runApi = async (): Promise<void> => {
        await resetIngest(amqp);
        batch.push(INGEST / (await apiIngest(api, INGEST, 1000, INGEST_BATCHES)));
        await resetIngest(amqp);
        single.push(INGEST_SINGLE / (await apiIngest(api, INGEST_SINGLE, 1, 64)));
      };
      await inTurn(r, runBare, runApi);
    }
    console.log(
      `task API ingest (tasks/s until the last 202; every task confirmed by the broker): ${INGEST} tasks in batches of 1,000 (${INGEST_BATCHES} in flight), ${INGEST_SINGLE} one per request (64 in flight)`,
    );
    const mb = line("bare amqplib confirmed publish", bare, "tasks/s");
    const mbatch = line("API POST /v1/tasks/batch", batch, "tasks/s");
    const msingle = line("API POST /v1/tasks (one per request)", single, "tasks/s");
    console.log(`  ratio batch / bare: ${(mbatch / mb).toFixed(2)} (milestone ≥ 0.8)`);
    console.log(`  ratio single / bare: ${(msingle / mb).toFixed(2)}`);
  } finally {
    await api.stop();
    await resetIngest(amqp);
  }
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "taskfleet-bench-"));
  const rabbit = new RabbitMqNode({ dir: join(root, "rabbit") });
  const redis = new RedisServer({ dir: join(root, "redis") });
  try {
    await Promise.all([rabbit.start(), redis.start()]);
    const amqp = rabbit.url();
    const red = redis.url();
    console.log(
      `taskfleet bench — RabbitMQ 3.10 node and Redis 7 on loopback; ${TASKS} noop tasks, ` +
        `prefetch ${PREFETCH} (concurrency ${CONCURRENCY} × ${MULTIPLIER}), ${ROUNDS} rounds, Node ${process.versions.node}\n`,
    );

    if (flags.only === "ingest") {
      await ingest(amqp, red);
      return;
    }
    // 1. Consume: parse, store a Celery-format result, ack after the store. The two sides take
    // turns going first, so neither always meets a broker still flushing the other's work.
    const bare: number[] = [];
    const tf: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const runBare = async (): Promise<void> => {
        await fillQueue(amqp, "bench.consume", TASKS);
        bare.push(TASKS / (await bareConsume(amqp, red, "bench.consume", TASKS, PREFETCH)));
      };
      const runTf = async (): Promise<void> => {
        await fillQueue(amqp, "bench.consume", TASKS);
        const secs = await taskfleetConsume(
          amqp,
          red,
          "bench.consume",
          TASKS,
          CONCURRENCY,
          MULTIPLIER,
        );
        tf.push(TASKS / secs);
      };
      await inTurn(r, runBare, runTf);
    }
    console.log("worker throughput (tasks/s, results stored, ack after store)");
    const mb = line("bare amqplib + ioredis loop", bare, "tasks/s");
    const mt = line("taskfleet Worker", tf, "tasks/s");
    console.log(`  ratio taskfleet / bare: ${(mt / mb).toFixed(2)}\n`);

    // 2. Publish with confirms.
    const bp: number[] = [];
    const tp: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const runBare = async (): Promise<void> => {
        await resetQueue(amqp, "bench.publish");
        bp.push(PUBLISH / (await barePublish(amqp, "bench.publish", PUBLISH)));
      };
      const runTf = async (): Promise<void> => {
        await resetQueue(amqp, "bench.publish");
        tp.push(PUBLISH / (await taskfleetPublish(amqp, "bench.publish", PUBLISH)));
      };
      await inTurn(r, runBare, runTf);
    }
    await resetQueue(amqp, "bench.publish");
    console.log(`publishing ${PUBLISH} tasks with publisher confirms (tasks/s)`);
    const mbp = line("bare amqplib confirm channel", bp, "tasks/s");
    const mtp = line("taskfleet app.sendTasks", tp, "tasks/s");
    console.log(`  ratio taskfleet / bare: ${(mtp / mbp).toFixed(2)}\n`);

    // 3. Latency at half of taskfleet's measured peak: the lower of the worker's and the
    // producer's peaks, since both run at once here.
    const rate = Math.max(1, Math.round(Math.min(mt, mtp) / 2));
    await resetQueue(amqp, "bench.latency");
    const lat = await taskfleetLatency(
      amqp,
      red,
      "bench.latency",
      LATENCY_TASKS,
      rate,
      CONCURRENCY,
      MULTIPLIER,
    );
    console.log(
      `enqueue-to-result latency at ${fmt(rate)} tasks/s (half the lower of the two peaks), ${lat.length}/${LATENCY_TASKS} results`,
    );
    console.log(
      `  p50 ${fmt(quantile(lat, 0.5), 2)} ms   p99 ${fmt(quantile(lat, 0.99), 2)} ms   max ${fmt(quantile(lat, 1), 2)} ms`,
    );
    if (lat.length !== LATENCY_TASKS) {
      throw new Error(`only ${lat.length} of ${LATENCY_TASKS} latency results arrived`);
    }
    console.log("");
    await ingest(amqp, red);
  } finally {
    await Promise.allSettled([rabbit.stop(), redis.stop()]);
    rmSync(root, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
