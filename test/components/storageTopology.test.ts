/**
 * Why the result store runs with cluster mode disabled, shown on real processes: a local Redis
 * Cluster of three masters (Debian's redis-server with cluster-enabled), a standalone client and
 * Python Celery's Redis result backend losing about two thirds of the keys to MOVED, and the
 * runtime refusing such a store (a worker does not start, the API's /readyz answers 503 with the
 * reason) instead of staying green while results fail. A worker's /readyz also turns red while
 * task outcomes cannot be stored and green again once one is.
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { RedisServer, freePort } from "../../local/services/index.js";
import { BrokerGateway } from "../../worker-runtime/src/api/gateway.js";
import { TaskApi } from "../../worker-runtime/src/api/server.js";
import { ClusterModeError, ResultBackend } from "../../worker-runtime/src/backend/resultBackend.js";
import { Worker } from "../../worker-runtime/src/worker/worker.js";
import { tempDir } from "../support/tmp.js";
import { deleteQueues, testApp, uniqueQueue, until } from "../worker-runtime/helpers.js";

const execFileP = promisify(execFile);
const KEYS = 300;

let dir: ReturnType<typeof tempDir>;
const masters: RedisServer[] = [];
let clusterUrl: string;

async function clusterState(port: number): Promise<string> {
  const c = new Redis({ port, lazyConnect: true });
  try {
    await c.connect();
    return /cluster_state:(\w+)/.exec(String(await c.call("CLUSTER", "INFO")))?.[1] ?? "?";
  } finally {
    c.disconnect();
  }
}

beforeAll(async () => {
  dir = tempDir();
  for (let i = 0; i < 3; i++) {
    masters.push(
      new RedisServer({
        dir: join(dir.path, `m${i}`),
        extraArgs: [
          "--cluster-enabled",
          "yes",
          "--cluster-config-file",
          "nodes.conf",
          "--cluster-port",
          String(await freePort()),
          "--cluster-node-timeout",
          "5000",
        ],
      }),
    );
  }
  await Promise.all(masters.map((m) => m.start()));
  await execFileP(
    "redis-cli",
    [
      "--cluster",
      "create",
      ...masters.map((m) => `127.0.0.1:${m.port}`),
      "--cluster-replicas",
      "0",
      "--cluster-yes",
    ],
    { timeout: 60_000 },
  );
  for (const m of masters) {
    await until(async () => (await clusterState(m.port)) === "ok", 30_000, "cluster_state:ok");
  }
  clusterUrl = masters[0]!.url();
}, 120_000);

afterAll(async () => {
  await Promise.allSettled(masters.map((m) => m.stop()));
  dir?.cleanup();
});

describe("a result store in cluster mode (3 masters)", () => {
  it("makes a standalone client lose about two thirds of the result keys to MOVED", async () => {
    const c = new Redis({ port: masters[0]!.port });
    let moved = 0;
    for (let i = 0; i < KEYS; i++) {
      try {
        await c.set(`celery-task-meta-${randomUUID()}`, '{"status": "SUCCESS"}');
      } catch (err) {
        expect((err as Error).message).toMatch(/^MOVED \d+ 127\.0\.0\.1:\d+$/);
        moved++;
      }
    }
    c.disconnect();
    // Each master holds a third of the slots: the connected one answers, the others redirect.
    expect(moved / KEYS).toBeGreaterThan(0.55);
    expect(moved / KEYS).toBeLessThan(0.78);
  });

  it("makes Python Celery's Redis result backend fail as often (it is not cluster-aware)", async () => {
    const py = `
import sys, uuid
from celery import Celery
app = Celery("t", backend=sys.argv[1])
failed = 0
for _ in range(int(sys.argv[2])):
    try:
        app.backend.store_result(str(uuid.uuid4()), 42, "SUCCESS")
    except Exception as e:
        assert "MOVED" in str(e), repr(e)
        failed += 1
print(failed)
`;
    const n = 90;
    const { stdout } = await execFileP("/usr/bin/python3", ["-c", py, clusterUrl, String(n)], {
      timeout: 60_000,
    });
    const failed = Number(stdout.trim());
    expect(failed / n).toBeGreaterThan(0.45);
    expect(failed / n).toBeLessThan(0.85);
  });

  it("is refused by taskfleet's result backend at connect, naming the node and the fix", async () => {
    const b = new ResultBackend({ url: clusterUrl });
    try {
      const err = await b.connect().then(
        () => null,
        (e: unknown) => e as Error,
      );
      expect(err).toBeInstanceOf(ClusterModeError);
      expect(err!.message).toBe(
        `result backend ${clusterUrl}: 127.0.0.1:${masters[0]!.port} is a Redis Cluster node (cluster_enabled:1); taskfleet and Python Celery read and write results with a standalone Redis client, which cannot follow the cluster's MOVED redirects, so most keys would fail; use a Redis without cluster mode (ElastiCache: cluster mode disabled, replicas for availability)`,
      );
      // Nothing is written either: every store fails the same way, none half succeeds.
      await expect(b.store({ taskId: randomUUID(), status: "SUCCESS", result: 1 })).rejects.toThrow(
        ClusterModeError,
      );
    } finally {
      await b.close();
    }
  });

  it("keeps a worker from starting", async () => {
    const queue = uniqueQueue("topology");
    const app = testApp(queue, { resultBackend: clusterUrl });
    const worker = new Worker(app, { concurrency: 1, shutdownTimeoutMs: 2000 });
    try {
      await expect(worker.start()).rejects.toThrow(/is a Redis Cluster node \(cluster_enabled:1\)/);
    } finally {
      await worker.stop().catch(() => undefined);
      await app.close();
      await deleteQueues(queue);
    }
  });

  it("turns the task API's /readyz red with the reason, where a standalone Redis is green", async () => {
    const logged: Record<string, unknown>[] = [];
    const readyz = async (backendUrl: string): Promise<{ status: number; body: unknown }> => {
      const api = new TaskApi({
        clients: null,
        log: (f) => logged.push(f),
        gateway: new BrokerGateway({ brokerUrl: inject("amqpUrl"), backendUrl, region: "t" }),
        routing: {
          queues: { default: { exchange: "default", routingKeyPrefix: "default" } },
          priorities: {},
          defaultQueue: "default",
        },
        region: "t",
      });
      try {
        const port = await api.listen(0);
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        return { status: res.status, body: await res.json() };
      } finally {
        await api.close();
      }
    };
    expect(await readyz(inject("redisUrl"))).toEqual({
      status: 200,
      body: { status: "ready", broker: true, backend: true },
    });
    const red = await readyz(clusterUrl);
    expect(red.status).toBe(503);
    // The reason names the backend's address, so it goes to the API's log, not to the caller.
    expect(red.body).toEqual({ status: "not_ready", broker: true, backend: false });
    expect(logged.find((f) => f.msg === "not ready")?.detail).toMatch(
      /^backend: result backend .* is a Redis Cluster node \(cluster_enabled:1\);/,
    );
  });
});

describe("a worker's readiness follows the result store", () => {
  it("is not ready while task outcomes cannot be stored, and ready again once one is", async () => {
    const d = tempDir();
    const redis = new RedisServer({ dir: join(d.path, "r"), port: await freePort() });
    await redis.start();
    const queue = uniqueQueue("readyz");
    const app = testApp(queue, { resultBackend: redis.url() });
    const client = testApp(queue, { resultBackend: redis.url() });
    app.task("t.echo", (x: number) => x);
    const worker = new Worker(app, { concurrency: 1, shutdownTimeoutMs: 2000, healthPort: 0 });
    const readyz = async (): Promise<{ status: number; reason: string }> => {
      const a = worker.healthAddress!;
      const res = await fetch(`http://127.0.0.1:${a.port}/readyz`);
      return { status: res.status, reason: ((await res.json()) as { reason: string }).reason };
    };
    try {
      await worker.start();
      expect(await (await client.sendTask("t.echo", [1])).get({ timeoutMs: 10_000 })).toBe(1);
      expect(await readyz()).toEqual({ status: 200, reason: "consuming" });
      await redis.stop();
      const pending = await client.sendTask("t.echo", [2]);
      await until(async () => (await readyz()).status === 503, 20_000, "readyz 503");
      expect((await readyz()).reason).toMatch(/^task outcomes are not being recorded: /);
      // The task was requeued, not lost: it completes once the store is back.
      await redis.start();
      await until(async () => (await readyz()).status === 200, 30_000, "readyz 200 again");
      expect(await pending.get({ timeoutMs: 10_000 })).toBe(2);
    } finally {
      await worker.stop().catch(() => undefined);
      await app.close();
      await client.close();
      await deleteQueues(queue);
      await redis.stop();
      d.cleanup();
    }
  }, 90_000);
});
