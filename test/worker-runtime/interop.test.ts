/**
 * Wire compatibility with the real Python Celery 5 (Debian's python3-celery), both directions,
 * on the shared RabbitMQ and Redis.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  Decimal,
  PyDate,
  TaskError,
  Uuid,
  type App,
  type TaskContext,
} from "../../worker-runtime/src/index.js";
import type { Worker } from "../../worker-runtime/src/worker/worker.js";
import { deleteQueues, startWorker, testApp, uniqueQueue, until } from "./helpers.js";

const execFileP = promisify(execFile);
const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures");

describe("Python Celery producer → taskfleet worker → Python AsyncResult.get()", () => {
  const queue = uniqueQueue("py2ts");
  let app: App;
  let worker: Worker;
  const runs: Record<string, number> = {};
  beforeAll(async () => {
    // Celery 5.2's kombu reads and writes plain JSON strings for dates, Decimal and UUID.
    app = testApp(queue, { jsonMode: "plain" });
    app.task("ts.add", (a: number, b: number) => {
      runs.add = (runs.add ?? 0) + 1;
      return a + b;
    });
    app.task("ts.fail", (x: string) => {
      throw Object.assign(new Error(`ts boom ${x}`), { name: "ValueError" });
    });
    class Transient extends Error {
      override name = "KeyError";
    }
    app.task(
      "ts.flaky",
      (ctx: TaskContext) => {
        if (ctx.request.retries < 2) throw new Transient("not yet");
        return `ts ok after ${ctx.request.retries}`;
      },
      { autoretryFor: [Transient], retryBackoff: false, defaultRetryDelaySeconds: 1 },
    );
    app.task("ts.echo", (...all: unknown[]) => {
      const ctx = all.pop() as TaskContext;
      return {
        args: all,
        types: all.map((a) => (a === null ? "null" : typeof a)),
        kwargs: ctx.kwargs,
      };
    });
    app.task("ts.special", () => ({
      dt: new Date(Date.UTC(2030, 0, 2, 3, 4, 5)),
      dec: new Decimal("10.50"),
      u: new Uuid("6f1c2a44-9d2b-4c1e-8a3f-0123456789ab"),
    }));
    worker = await startWorker(app, { queues: [queue], hostname: `ts-${queue}@test` });
  });
  afterAll(async () => {
    await worker?.stop();
    await app?.close();
    await deleteQueues(queue);
  });

  it("runs Python's tasks and Python reads results, failures, retries, countdown, expires and types", async () => {
    const { stdout } = await execFileP(
      "/usr/bin/python3",
      [join(fixtures, "pyclient.py"), queue, inject("amqpUrl"), inject("redisUrl")],
      {
        cwd: fixtures,
        timeout: 90_000,
      },
    );
    const out = JSON.parse(stdout) as Record<
      string,
      { ok?: unknown; error?: string; args?: string[] } | number
    >;
    expect(out.add).toEqual({ ok: 42 });
    expect(out.fail).toEqual({ error: "ValueError", args: ["ts boom x"] });
    expect(out.countdown).toEqual({ ok: 2 });
    expect(out.countdown_elapsed as number).toBeGreaterThanOrEqual(1.9);
    expect(out.expired).toEqual({ error: "TaskRevokedError", args: ["expired"] });
    expect(out.retry).toEqual({ ok: "ts ok after 2" });
    expect(out.types).toEqual({
      ok: {
        // kombu 5.2 sends datetime as ISO with Z, a date as its midnight, Decimal and UUID as strings
        args: [
          "2030-01-02T03:04:05.678000Z",
          "2030-01-02T00:00:00",
          "10.50",
          "6f1c2a44-9d2b-4c1e-8a3f-0123456789ab",
        ],
        types: ["string", "string", "string", "string"],
        kwargs: { k: [1, "two", null, true, 2.5] },
      },
    });
    expect(out.ts_special).toEqual({
      ok: { dt: "2030-01-02T03:04:05Z", dec: "10.50", u: "6f1c2a44-9d2b-4c1e-8a3f-0123456789ab" },
    });
    // a Python chain runs step by step on taskfleet workers: ((1 + 2) + 10) + 100
    expect(out.chain).toEqual({ ok: 113 });
    // kombu zlib compression (header "compression": "application/x-gzip")
    expect(out.compressed).toEqual({ ok: 22 });
    // the expired task never ran: add ran for "add", "countdown", "compressed" and 3 chain steps
    expect(runs.add).toBe(6);
  });
});

describe("Python remote control → taskfleet worker (pidbox)", () => {
  const queue = uniqueQueue("pidbox");
  const hostname = `ts-${queue}@test`;
  let app: App;
  let worker: Worker;
  beforeAll(async () => {
    app = testApp(queue);
    app.task("ts.noop", () => null);
    worker = await startWorker(app, { queues: [queue], hostname, concurrency: 3 });
  });
  afterAll(async () => {
    await worker?.stop();
    await app?.close();
    await deleteQueues(queue);
  });

  it("answers celery inspect ping, registered, active_queues and stats", async () => {
    const py = `
import json, sys
from celery import Celery
app = Celery("ctl", broker=sys.argv[1])
i = app.control.inspect([sys.argv[2]], timeout=3)
print(json.dumps({
    "ping": app.control.ping(destination=[sys.argv[2]], timeout=3),
    "registered": i.registered(),
    "queues": i.active_queues(),
    "stats": i.stats(),
}))
`;
    const { stdout } = await execFileP(
      "/usr/bin/python3",
      ["-c", py, inject("amqpUrl"), hostname],
      { timeout: 60_000 },
    );
    const out = JSON.parse(stdout) as Record<string, unknown>;
    expect(out.ping).toEqual([{ [hostname]: { ok: "pong" } }]);
    expect(out.registered).toEqual({ [hostname]: ["ts.noop"] });
    expect(
      (out.queues as Record<string, { name: string }[]>)[hostname]!.map((q) => q.name),
    ).toEqual([queue]);
    const stats = (
      out.stats as Record<string, { pool: Record<string, unknown>; prefetch_count: number }>
    )[hostname]!;
    expect(stats.pool["max-concurrency"]).toBe(3);
    expect(stats.prefetch_count).toBe(12);
  });
});

describe("taskfleet producer → Python Celery worker → taskfleet get()", () => {
  const queue = uniqueQueue("ts2py");
  let client: App;
  let py: ChildProcess;
  let log = "";
  beforeAll(async () => {
    client = testApp(queue, { jsonMode: "plain" });
    py = spawn(
      "/usr/bin/python3",
      [
        "-m",
        "celery",
        "-A",
        "pytasks",
        "worker",
        "--pool=solo",
        "-Q",
        queue,
        "-n",
        `py-${queue}@%h`,
        "--loglevel=INFO",
        "--without-heartbeat",
        "--without-mingle",
        "--without-gossip",
      ],
      {
        cwd: fixtures,
        env: {
          ...process.env,
          CELERY_BROKER_URL: inject("amqpUrl"),
          CELERY_RESULT_BACKEND: inject("redisUrl"),
          PYTASKS_QUEUE: queue,
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    py.stdout!.on("data", (d: Buffer) => (log += d.toString()));
    py.stderr!.on("data", (d: Buffer) => (log += d.toString()));
    const c = await amqp.connect(inject("amqpUrl"));
    const ch = await c.createChannel();
    ch.on("error", () => undefined);
    try {
      await until(
        async () => {
          const probe = await c.createChannel();
          probe.on("error", () => undefined);
          try {
            return (await probe.checkQueue(queue)).consumerCount > 0;
          } catch {
            return false;
          } finally {
            await probe.close().catch(() => undefined);
          }
        },
        60_000,
        `Python worker consuming ${queue}\n${log}`,
      );
    } finally {
      await c.close();
    }
  });
  afterAll(async () => {
    py?.kill("SIGTERM");
    await new Promise((r) => (py?.exitCode !== null ? r(null) : py.once("exit", r)));
    await client?.close();
    await deleteQueues(queue);
  });

  it("gets Python's results and Python's exception types", async () => {
    const add = await client.sendTask("py.add", [20, 22]);
    expect(await add.get({ timeoutMs: 20_000 })).toBe(42);
    const fail = await client.sendTask("py.fail", [7]);
    const err = (await fail.get({ timeoutMs: 20_000 }).catch((e: unknown) => e)) as TaskError;
    expect(err).toBeInstanceOf(TaskError);
    expect(err.name).toBe("ValueError");
    expect(err.message).toBe("py boom 7");
    expect(err.excModule).toBe("builtins");
    expect(err.remoteTraceback).toContain("ValueError: py boom 7");
  });

  it("runs a taskfleet-built chain on the Python worker", async () => {
    const finalId = randomUUID();
    const sig = (task: string, args: unknown[], options: Record<string, unknown> = {}) => ({
      task,
      args,
      kwargs: {},
      options,
      subtask_type: null,
      immutable: false,
    });
    // a reversed stack, as Celery sends it: the worker pops the last entry first
    await client.sendTask(
      "py.add",
      [1, 2],
      {},
      {
        chain: [sig("py.add", [100], { task_id: finalId }), sig("py.add", [10])],
      },
    );
    expect(await client.AsyncResult(finalId).get({ timeoutMs: 20_000 })).toBe(113);
  });

  it("lets Python retry, honour countdown and expire tasks", async () => {
    const flaky = await client.sendTask("py.flaky");
    expect(await flaky.get({ timeoutMs: 30_000 })).toBe("py ok after 2");
    const t0 = Date.now();
    const later = await client.sendTask("py.when", [], {}, { countdown: 2 });
    const ranAt = Date.parse(String(await later.get({ timeoutMs: 30_000 })));
    expect(ranAt - t0).toBeGreaterThanOrEqual(1900);
    const expired = await client.sendTask(
      "py.add",
      [1, 2],
      {},
      { expires: new Date(Date.now() - 5000) },
    );
    const err = (await expired.get({ timeoutMs: 20_000 }).catch((e: unknown) => e)) as TaskError;
    expect(err.name).toBe("TaskRevokedError");
    expect(await expired.state()).toBe("REVOKED");
  });

  it("carries special JSON types both ways (kombu 5.2 plain strings)", async () => {
    const echo = await client.sendTask(
      "py.echo",
      [
        new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 678)),
        new PyDate(2030, 1, 2),
        new Decimal("10.50"),
        new Uuid("6f1c2a449d2b4c1e8a3f0123456789ab"),
      ],
      { k: [1, "two", null, true, 2.5] },
    );
    expect(await echo.get({ timeoutMs: 20_000 })).toEqual({
      args: [
        "2030-01-02T03:04:05.678000Z",
        "2030-01-02T00:00:00",
        "10.50",
        "6f1c2a44-9d2b-4c1e-8a3f-0123456789ab",
      ],
      types: ["str", "str", "str", "str"],
      kwargs: { k: [1, "two", null, true, 2.5] },
    });
    const special = await client.sendTask("py.special");
    expect(await special.get({ timeoutMs: 20_000 })).toEqual({
      dt: "2030-01-02T03:04:05Z",
      // kombu 5.2 turns a date into midnight of that day
      d: "2030-01-02T00:00:00",
      dec: "10.50",
      u: "6f1c2a44-9d2b-4c1e-8a3f-0123456789ab",
    });
  });

  it("delivers kombu 5.3 envelopes (tagged mode) intact to a Python 5.2 task", async () => {
    const tagged = testApp(queue, { jsonMode: "tagged" });
    try {
      const echo = await tagged.sendTask("py.echo", [
        new Date(Date.UTC(2030, 0, 2)),
        new Uuid("6f1c2a449d2b4c1e8a3f0123456789ab"),
        Buffer.from("hi"),
      ]);
      // Python 5.2 receives the envelopes as dicts and returns them; taskfleet decodes them back.
      const got = (await echo.get({ timeoutMs: 20_000 })) as { args: unknown[]; types: string[] };
      expect(got.types).toEqual(["dict", "dict", "dict"]);
      expect((got.args[0] as Date).toISOString()).toBe("2030-01-02T00:00:00.000Z");
      expect(got.args[1]).toBeInstanceOf(Uuid);
      expect(String(got.args[1])).toBe("6f1c2a44-9d2b-4c1e-8a3f-0123456789ab");
      expect(got.args[2]).toEqual(Buffer.from("hi"));
    } finally {
      await tagged.close();
    }
  });
});
