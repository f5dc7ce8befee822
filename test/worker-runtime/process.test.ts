/**
 * The worker as a process (the CLI through the `taskfleet` bin): kill -9 with tasks in flight
 * loses none; SIGTERM drains and requeues what did not start; a second signal exits at once.
 */
import { spawn, type ChildProcess } from "node:child_process";
import amqp from "amqplib";
import { afterEach, describe, expect, inject, it } from "vitest";
import { freePort } from "../../local/services/index.js";
import type { App } from "../../worker-runtime/src/index.js";
import { deleteQueues, sleep, testApp, uniqueQueue, until } from "./helpers.js";

interface Proc {
  child: ChildProcess;
  log: () => string;
  healthPort: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const procs: ChildProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const p of procs.splice(0))
    if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function spawnWorker(queue: string, args: string[]): Promise<Proc> {
  const healthPort = await freePort();
  const child = spawn(
    process.execPath,
    [
      "worker-runtime/bin/taskfleet.mjs",
      "worker",
      "-A",
      "test/worker-runtime/fixtures/tstasks.ts",
      "-Q",
      queue,
      "--health-port",
      String(healthPort),
      ...args,
    ],
    {
      env: {
        ...process.env,
        TASKFLEET_BROKER_URL: inject("amqpUrl"),
        TASKFLEET_RESULT_BACKEND: inject("redisUrl"),
        TSTASKS_QUEUE: queue,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  procs.push(child);
  let log = "";
  child.stdout!.on("data", (d: Buffer) => (log += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once("exit", (code, signal) => r({ code, signal })),
  );
  await until(
    async () => {
      if (child.exitCode !== null) throw new Error(`worker exited early:\n${log}`);
      try {
        return (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status === 200;
      } catch {
        return false;
      }
    },
    60_000,
    "worker ready",
  );
  return { child, log: () => log, healthPort, exited };
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : NaN;
}

async function states(app: App, ids: string[]): Promise<string[]> {
  return Promise.all(ids.map((id) => app.AsyncResult(id).state()));
}

async function queueDepth(queue: string): Promise<number> {
  const c = await amqp.connect(inject("amqpUrl"));
  try {
    const ch = await c.createChannel();
    return (await ch.checkQueue(queue)).messageCount;
  } finally {
    await c.close();
  }
}

describe("worker processes", () => {
  it("loses no task when a worker is killed with kill -9 mid-flight; a second worker finishes all", async () => {
    const queue = uniqueQueue("kill9");
    const client = testApp(queue);
    cleanups.push(async () => {
      await client.close();
      await deleteQueues(queue);
    });
    const first = await spawnWorker(queue, ["-c", "4", "--prefetch-multiplier", "2"]);
    const results = await client.sendTasks(
      Array.from({ length: 30 }, (_, i) => ({ name: "t.sleep", args: [i, 300] })),
    );
    const ids = results.map((r) => r.id);
    await until(
      async () => (await states(client, ids)).filter((s) => s === "SUCCESS").length >= 4,
      30_000,
      "4 results",
    );
    const inFlight = await metric(first.healthPort, "taskfleet_tasks_in_flight");
    first.child.kill("SIGKILL");
    const { signal } = await first.exited;
    expect(signal).toBe("SIGKILL");
    const doneAtKill = (await states(client, ids)).filter((s) => s === "SUCCESS").length;
    expect(inFlight).toBeGreaterThan(0);
    expect(doneAtKill).toBeLessThan(30);
    await spawnWorker(queue, ["-c", "8"]);
    await until(
      async () => (await states(client, ids)).every((s) => s === "SUCCESS"),
      60_000,
      "all 30 SUCCESS",
    );
    const values = (await Promise.all(results.map((r) => r.get({ timeoutMs: 1000 })))) as {
      n: number;
    }[];
    expect(values.map((v) => v.n)).toEqual(ids.map((_, i) => i));
    await until(async () => (await queueDepth(queue)) === 0, 10_000, "queue drained");
  });

  it("drains on SIGTERM: running tasks finish, unstarted prefetched ones go back to the queue", async () => {
    const queue = uniqueQueue("term");
    const client = testApp(queue);
    cleanups.push(async () => {
      await client.close();
      await deleteQueues(queue);
    });
    const w = await spawnWorker(queue, [
      "-c",
      "2",
      "--prefetch-multiplier",
      "5",
      "--shutdown-timeout",
      "20",
    ]);
    const results = await client.sendTasks(
      Array.from({ length: 10 }, (_, i) => ({ name: "t.sleep", args: [i, 1500] })),
    );
    await until(
      async () => (await metric(w.healthPort, "taskfleet_tasks_in_flight")) === 2,
      10_000,
      "2 in flight",
    );
    await until(
      async () => (await metric(w.healthPort, "taskfleet_tasks_reserved")) === 10,
      10_000,
      "10 reserved",
    );
    w.child.kill("SIGTERM");
    await sleep(300);
    const ready = await fetch(`http://127.0.0.1:${w.healthPort}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: "not ready", reason: "worker is stopping" });
    const { code } = await w.exited;
    expect(code).toBe(0);
    const st = await states(
      client,
      results.map((r) => r.id),
    );
    expect(st.filter((s) => s === "SUCCESS")).toHaveLength(2);
    expect(st.filter((s) => s === "PENDING")).toHaveLength(8);
    expect(await queueDepth(queue)).toBe(8);
    expect(w.log()).toContain('"msg":"worker stopped"');
  });

  it("exits at once on a second signal; the running task's message is redelivered", async () => {
    const queue = uniqueQueue("twice");
    const client = testApp(queue);
    cleanups.push(async () => {
      await client.close();
      await deleteQueues(queue);
    });
    const w = await spawnWorker(queue, ["-c", "1", "--shutdown-timeout", "60"]);
    await client.sendTask("t.sleep", [1, 30_000]);
    await until(
      async () => (await metric(w.healthPort, "taskfleet_tasks_in_flight")) === 1,
      10_000,
      "1 in flight",
    );
    const t0 = Date.now();
    w.child.kill("SIGTERM");
    await sleep(300);
    w.child.kill("SIGTERM");
    const { code } = await w.exited;
    expect(code).toBe(1);
    expect(Date.now() - t0).toBeLessThan(10_000);
    await until(async () => (await queueDepth(queue)) === 1, 10_000, "task back in the queue");
  });
});
