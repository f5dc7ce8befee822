/**
 * Task API ingest against a bare amqplib confirmed publish, on the same broker in the same run.
 * The API runs as `taskfleet api` runs in production — its own process (through the package's
 * bin), with a tokens file, owners in Redis — and the client sends over keep-alive HTTP:
 * `POST /v1/tasks/batch` (1,000 tasks a request, a few requests in flight) or `POST /v1/tasks`
 * one task a request. The baseline publishes the same Celery messages to the same exchange with
 * confirms, honouring `drain`, and waits for every confirm.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "amqplib";
import { newToken } from "../worker-runtime/src/api/auth.js";
import { celeryMessage } from "./bare.js";

const BIN = join(import.meta.dirname, "..", "worker-runtime", "bin", "taskfleet.mjs");
export const INGEST_EXCHANGE = "bench.ingest";
export const INGEST_QUEUE = "bench.ingest";

/** Declares the exchange and queue the API and the baseline publish to, and empties the queue. */
export async function resetIngest(amqpUrl: string): Promise<void> {
  const conn = await connect(amqpUrl);
  try {
    const ch = await conn.createChannel();
    await ch.assertExchange(INGEST_EXCHANGE, "topic", { durable: true });
    await ch.assertQueue(INGEST_QUEUE, { durable: true });
    await ch.bindQueue(INGEST_QUEUE, INGEST_EXCHANGE, "ingest.#");
    await ch.purgeQueue(INGEST_QUEUE);
  } finally {
    await conn.close();
  }
}

/** Bare amqplib: `count` confirmed publishes to the ingest exchange; returns seconds. */
export async function bareIngest(amqpUrl: string, count: number): Promise<number> {
  const conn = await connect(amqpUrl);
  try {
    const ch = await conn.createConfirmChannel();
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      const m = celeryMessage("bench.noop");
      const ok = ch.publish(INGEST_EXCHANGE, "ingest.bench.noop", m.body, {
        ...m.options,
        mandatory: true,
      });
      if (!ok) await new Promise((r) => ch.once("drain", r));
    }
    await ch.waitForConfirms();
    return (performance.now() - t0) / 1000;
  } finally {
    await conn.close();
  }
}

export interface RunningApi {
  url: string;
  token: string;
  stop(): Promise<void>;
}

/** Starts `taskfleet api` (its own process) on the broker and Redis with one client. */
export async function startApi(amqpUrl: string, redisUrl: string): Promise<RunningApi> {
  const dir = mkdtempSync(join(tmpdir(), "taskfleet-bench-api-"));
  const { token, line } = newToken("bench", ["*"]);
  writeFileSync(join(dir, "tokens"), `${line}\n`, { mode: 0o600 });
  const ready = join(dir, "ready");
  const child: ChildProcess = spawn(
    process.execPath,
    [
      BIN,
      "api",
      "--port",
      "0",
      "--metrics-port",
      "0",
      "--ready-file",
      ready,
      "--tokens-file",
      join(dir, "tokens"),
      "--broker",
      amqpUrl,
      "--backend",
      redisUrl,
      "--queue",
      `default=${INGEST_EXCHANGE}:ingest`,
      "--rate-limit",
      "0",
    ],
    {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, NODE_OPTIONS: process.env.BENCH_API_NODE_OPTIONS ?? "" },
    },
  );
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
  for (let i = 0; i < 600 && !existsSync(ready); i++) {
    if (child.exitCode !== null) throw new Error(`taskfleet api exited:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!existsSync(ready)) throw new Error(`taskfleet api did not start:\n${stderr}`);
  const port = readFileSync(ready, "utf8").trim().split(" ")[0];
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    stop: async () => {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function post(agent: Agent, api: RunningApi, path: string, body: string): Promise<number> {
  const u = new URL(path, api.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: "POST",
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          authorization: `Bearer ${api.token}`,
        },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * Sends `count` tasks through the API — in batches of `batchSize` (1 = one `POST /v1/tasks` per
 * task) with `concurrency` requests in flight — and returns seconds until the last 202.
 */
export async function apiIngest(
  api: RunningApi,
  count: number,
  batchSize: number,
  concurrency: number,
): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const task = JSON.stringify({ name: "bench.noop", args: [] });
  const batchBody = (n: number): string =>
    `{"tasks":[${Array.from({ length: n }, () => task).join(",")}]}`;
  let next = 0;
  const t0 = performance.now();
  const sender = async (): Promise<void> => {
    while (next < count) {
      const n = Math.min(batchSize, count - next);
      next += n;
      const status =
        batchSize === 1
          ? await post(agent, api, "/v1/tasks", task)
          : await post(agent, api, "/v1/tasks/batch", batchBody(n));
      if (status !== 202) throw new Error(`the API answered ${status}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, sender));
    return (performance.now() - t0) / 1000;
  } finally {
    agent.destroy();
  }
}
