import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ResultBackend } from "../../worker-runtime/src/backend/resultBackend.js";
import { parseRedisUrl } from "../../worker-runtime/src/backend/redisUrl.js";
import { RedisServer, freePort } from "../../local/services/index.js";
import { tempDir } from "../support/tmp.js";

const execFileP = promisify(execFile);

describe("Redis URL parsing", () => {
  it("reads password, several hosts and db (seed S29)", () => {
    expect(parseRedisUrl("redis://:s3cret@h1:6379,h2:6380/3")).toEqual({
      hosts: [
        { host: "h1", port: 6379 },
        { host: "h2", port: 6380 },
      ],
      username: undefined,
      password: "s3cret",
      db: 3,
      tls: false,
    });
    expect(parseRedisUrl("rediss://user:p%40ss@h1").password).toBe("p@ss");
    expect(() => parseRedisUrl("amqp://:pw@x/0")).toThrow(
      'result backend: "amqp://:***@x/0" is not a Redis URL; use redis://[:password@]host[:port][,host:port...][/db]',
    );
  });
});

describe("ResultBackend on a real Redis", () => {
  let backend: ResultBackend;
  let raw: Redis;
  beforeAll(async () => {
    backend = new ResultBackend({ url: inject("redisUrl") });
    raw = new Redis(inject("redisUrl"));
  });
  afterAll(async () => {
    await backend.close();
    await backend.close();
    raw.disconnect();
  });

  it("writes celery-task-meta-<id> with SETEX 86400 and PUBLISHes it on the key", async () => {
    const id = randomUUID();
    const key = `celery-task-meta-${id}`;
    const sub = raw.duplicate();
    const got = new Promise<string>((resolve) =>
      sub.on("message", (_ch: string, m: string) => resolve(m)),
    );
    await sub.subscribe(key);
    expect(await backend.store({ taskId: id, status: "SUCCESS", result: { n: 42 } })).toBe(true);
    const published = JSON.parse(await got) as Record<string, unknown>;
    sub.disconnect();
    const stored = JSON.parse((await raw.get(key))!) as Record<string, unknown>;
    expect(stored).toEqual(published);
    expect(stored).toMatchObject({
      status: "SUCCESS",
      result: { n: 42 },
      traceback: null,
      children: [],
      task_id: id,
    });
    expect(await raw.ttl(key)).toBeGreaterThan(86390);
  });

  it("never overwrites a stored SUCCESS", async () => {
    const id = randomUUID();
    await backend.store({ taskId: id, status: "SUCCESS", result: 1 });
    expect(await backend.store({ taskId: id, status: "FAILURE", error: new Error("late") })).toBe(
      false,
    );
    expect((await backend.getMeta(id))?.result).toBe(1);
  });

  it("lets Python Celery read a failure as the Python exception type", async () => {
    const id = randomUUID();
    await backend.store({
      taskId: id,
      status: "FAILURE",
      error: Object.assign(new Error("boom"), { name: "ValueError" }),
    });
    const py = `
import sys
from celery import Celery
app = Celery("t", backend=sys.argv[1])
try:
    app.AsyncResult(sys.argv[2]).get(timeout=5)
except Exception as e:
    print(type(e).__name__, e.args)
`;
    const { stdout } = await execFileP("/usr/bin/python3", ["-c", py, inject("redisUrl"), id]);
    expect(stdout.trim()).toBe("ValueError ('boom',)");
  });

  it("waits for a result published later and times out with the state", async () => {
    const id = randomUUID();
    const waiting = backend.waitForReady(id, 5000);
    await backend.store({ taskId: id, status: "RETRY", error: new Error("again") });
    setTimeout(() => void backend.store({ taskId: id, status: "SUCCESS", result: "ok" }), 100);
    expect((await waiting).result).toBe("ok");
    const other = randomUUID();
    await expect(backend.waitForReady(other, 200)).rejects.toThrow(
      `task ${other} did not finish within 200 ms (state PENDING)`,
    );
  });

  it("uses a password-protected multi-host URL, skipping a dead first host", async () => {
    const dir = tempDir();
    const server = new RedisServer({ dir: join(dir.path, "r"), password: "pw:1" });
    await server.start();
    const dead = await freePort();
    const port = new URL(server.url()).port;
    const b = new ResultBackend({
      url: `redis://:pw%3A1@127.0.0.1:${dead},127.0.0.1:${port}/2`,
      resultExpiresSeconds: 60,
    });
    try {
      const id = randomUUID();
      await b.store({ taskId: id, status: "SUCCESS", result: [1, 2] });
      const check = new Redis({ port: Number(port), password: "pw:1", db: 2 });
      expect(await check.ttl(`celery-task-meta-${id}`)).toBeGreaterThan(50);
      check.disconnect();
      const wrong = new ResultBackend({ url: `redis://:nope@127.0.0.1:${port}/0` });
      await expect(wrong.connect()).rejects.toThrow(/WRONGPASS|invalid password/);
      await wrong.close();
    } finally {
      await b.close();
      await server.stop();
      dir.cleanup();
    }
  });
});

describe("ResultBackend failover between hosts (S29/S30)", () => {
  it("moves to the promoted replica when the primary dies", async () => {
    const dir = tempDir();
    const primary = new RedisServer({ dir: join(dir.path, "p"), password: "pw" });
    await primary.start();
    const replica = new RedisServer({
      dir: join(dir.path, "r"),
      password: "pw",
      replicaOf: { host: "127.0.0.1", port: primary.port },
    });
    await replica.start();
    const b = new ResultBackend({
      url: `redis://:pw@127.0.0.1:${primary.port},127.0.0.1:${replica.port}/0`,
    });
    try {
      const first = randomUUID();
      await b.store({ taskId: first, status: "SUCCESS", result: "on primary" });
      const r = new Redis({ port: replica.port, password: "pw" });
      // replication is asynchronous: wait until the replica has the first result
      for (let i = 0; i < 100 && !(await r.exists(`celery-task-meta-${first}`)); i++) {
        await new Promise((res) => setTimeout(res, 100));
      }
      await primary.kill();
      await r.call("REPLICAOF", "NO", "ONE");
      r.disconnect();
      const second = randomUUID();
      let stored = false;
      for (let i = 0; i < 50 && !stored; i++) {
        stored = await b.store({ taskId: second, status: "SUCCESS", result: "on replica" }).then(
          () => true,
          () => false,
        );
        if (!stored) await new Promise((res) => setTimeout(res, 200));
      }
      expect(stored).toBe(true);
      expect((await b.getMeta(second))?.result).toBe("on replica");
      expect((await b.getMeta(first))?.result).toBe("on primary");
    } finally {
      await b.close();
      await primary.stop();
      await replica.stop();
      dir.cleanup();
    }
  });
});
