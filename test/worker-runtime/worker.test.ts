import amqp from "amqplib";
import { afterEach, describe, expect, inject, it } from "vitest";
import {
  PublishRejectedError,
  TaskError,
  type App,
  type TaskContext,
} from "../../worker-runtime/src/index.js";
import { Worker } from "../../worker-runtime/src/worker/worker.js";
import { deleteQueues, sleep, startWorker, testApp, uniqueQueue, until } from "./helpers.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(
  opts: Parameters<typeof startWorker>[1] = {},
): Promise<{ app: App; worker: Worker; queue: string; client: App }> {
  const queue = uniqueQueue("wk");
  const app = testApp(queue);
  const client = testApp(queue);
  return { app, client, queue, worker: null as unknown as Worker, ...opts };
}

async function run(
  app: App,
  opts: Parameters<typeof startWorker>[1],
  queue: string,
  client: App,
): Promise<Worker> {
  const worker = await startWorker(app, opts);
  cleanups.push(async () => {
    await worker.stop();
    await app.close();
    await client.close();
    await deleteQueues(queue);
  });
  return worker;
}

describe("worker on real RabbitMQ and Redis", () => {
  it("runs a task, stores SUCCESS and acks; get() returns the result", async () => {
    const { app, client, queue } = await setup();
    app.task("math.add", (a: number, b: number) => a + b);
    await run(app, {}, queue, client);
    const r = await client.sendTask("math.add", [2, 3]);
    expect(await r.get({ timeoutMs: 10_000 })).toBe(5);
    expect(await r.state()).toBe("SUCCESS");
    const c = await amqp.connect(inject("amqpUrl"));
    const ch = await c.createChannel();
    await until(async () => (await ch.checkQueue(queue)).messageCount === 0, 5000, "queue empty");
    await c.close();
  });

  it("stores a failure; get() rejects with the error type name and message", async () => {
    const { app, client, queue } = await setup();
    app.task("fail.value", () => {
      throw Object.assign(new Error("bad input 7"), { name: "ValueError" });
    });
    await run(app, {}, queue, client);
    const r = await client.sendTask("fail.value");
    const err = (await r.get({ timeoutMs: 10_000 }).catch((e: unknown) => e)) as TaskError;
    expect(err).toBeInstanceOf(TaskError);
    expect(err.name).toBe("ValueError");
    expect(err.message).toBe("bad input 7");
    expect(err.excModule).toBe("builtins");
  });

  it("runs link callbacks with the result and link_error errbacks with the failed task's id", async () => {
    const { app, client, queue } = await setup();
    const seen: unknown[][] = [];
    app.task("cb.ok", (x: number) => x + 1);
    app.task("cb.bad", () => {
      throw new Error("nope");
    });
    app.task("cb.record", (...a: unknown[]) => void seen.push(a.slice(0, -1)));
    await run(app, {}, queue, client);
    const sig = (task: string, args: unknown[]) => ({
      task,
      args,
      kwargs: {},
      options: {},
      subtask_type: null,
      immutable: false,
    });
    const ok = await client.sendTask(
      "cb.ok",
      [1],
      {},
      { callbacks: [sig("cb.record", ["after-ok"])] },
    );
    const bad = await client.sendTask(
      "cb.bad",
      [],
      {},
      { errbacks: [sig("cb.record", ["after-bad"])] },
    );
    await ok.get({ timeoutMs: 10_000 });
    await bad.get({ timeoutMs: 10_000 }).catch(() => undefined);
    await until(() => seen.length === 2, 10_000, "two callbacks");
    expect(seen).toContainEqual([2, "after-ok"]);
    expect(seen).toContainEqual([bad.id, "after-bad"]);
  });

  it("acksLate: false acks before running (at-most-once); ignoreResult stores nothing", async () => {
    const { app, client, queue } = await setup();
    let started = 0;
    app.task(
      "early",
      () => {
        started++;
        return new Promise(() => undefined);
      },
      { acksLate: false },
    );
    app.task("quiet", () => "unseen", { ignoreResult: true });
    app.task("mark", () => "done");
    const worker = await startWorker(app, { concurrency: 2 });
    const quiet = await client.sendTask("quiet");
    await (await client.sendTask("mark")).get({ timeoutMs: 10_000 });
    await until(() => worker.metrics.succeeded === 2, 5000, "quiet ran");
    expect(await quiet.state()).toBe("PENDING");
    await client.sendTask("early");
    await until(() => started === 1, 5000, "early started");
    await worker.stop({ timeoutMs: 100 });
    const c = await amqp.connect(inject("amqpUrl"));
    const ch = await c.createChannel();
    // acked before it ran, so the worker's exit does not bring it back
    expect((await ch.checkQueue(queue)).messageCount).toBe(0);
    await c.close();
    await app.close();
    await client.close();
    await deleteQueues(queue);
  });

  it("dead-letters poison (bad body, unknown task, wrong arity) and keeps consuming", async () => {
    const { app, client, queue } = await setup();
    app.task("two.args", (a: number, b: number, _ctx: TaskContext) => a * b);
    await run(app, {}, queue, client);
    const c = await amqp.connect(inject("amqpUrl"));
    const ch = await c.createChannel();
    const tap = uniqueQueue("poison-tap");
    await ch.assertQueue(tap, { exclusive: true });
    await ch.bindQueue(tap, "taskfleet.poison", "");
    ch.sendToQueue(queue, Buffer.from("{not json"), {
      headers: { task: "two.args", id: "p1" },
      contentType: "application/json",
    });
    await client.sendTask("no.such.task", [1]);
    await client.sendTask("two.args", [1]);
    const ok = await client.sendTask("two.args", [6, 7]);
    expect(await ok.get({ timeoutMs: 10_000 })).toBe(42);
    const reasons: string[] = [];
    await until(
      async () => {
        const m = await ch.get(tap, { noAck: true });
        if (m) reasons.push(String(m.properties.headers?.["x-taskfleet-poison-reason"]));
        return reasons.length === 3;
      },
      10_000,
      "three poison messages",
    );
    expect(reasons.sort()).toEqual([
      "body is not valid JSON: Expected property name or '}' in JSON at position 1 (line 1 column 2)",
      'task "two.args" takes at least 2 positional arguments, got 1',
      'unknown task "no.such.task" (registered: two.args)',
    ]);
    expect((await ch.checkQueue(queue)).messageCount).toBe(0);
    await c.close();
  });

  it("retries with backoff through the delay queues, same id, until success", async () => {
    const { app, client, queue } = await setup();
    const seen: number[] = [];
    class Flaky extends Error {
      override name = "Flaky";
    }
    app.task(
      "flaky",
      (ctx: TaskContext) => {
        seen.push(ctx.request.retries);
        if (ctx.request.retries < 2) throw new Flaky("not yet");
        return `ok after ${ctx.request.retries}`;
      },
      { autoretryFor: [Flaky], retryBackoff: 1, retryJitter: false, maxRetries: 3 },
    );
    await run(app, {}, queue, client);
    const t0 = Date.now();
    const r = await client.sendTask("flaky");
    expect(await r.get({ timeoutMs: 20_000 })).toBe("ok after 2");
    expect(seen).toEqual([0, 1, 2]);
    // backoff 1 s then 2 s, through taskfleet.delay.0 and taskfleet.delay.1
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2900);
  });

  it("fails for good after maxRetries with the last error", async () => {
    const { app, client, queue } = await setup();
    app.task(
      "always",
      () => {
        throw new TypeError("still broken");
      },
      {
        autoretryFor: ["TypeError"],
        retryBackoff: false,
        defaultRetryDelaySeconds: 0.1,
        maxRetries: 2,
      },
    );
    const worker = await run(app, {}, queue, client);
    const r = await client.sendTask("always");
    await expect(r.get({ timeoutMs: 10_000 })).rejects.toMatchObject({
      name: "TypeError",
      message: "still broken",
    });
    // a retry is counted once its delayed copy is confirmed; on a loaded machine that confirm can
    // come after the copy (0.1 s delay) already ran and failed for good
    await until(() => worker.metrics.retried === 2, 10_000, "the second retry to be counted");
    expect(worker.metrics.retried).toBe(2);
    expect(worker.metrics.failed).toBe(1);
  });

  it("holds countdown tasks in delay queues, not unacked, and runs them on time", async () => {
    const { app, client, queue } = await setup();
    let ranAt = 0;
    app.task("later", () => {
      ranAt = Date.now();
      return "done";
    });
    const worker = await run(app, {}, queue, client);
    const t0 = Date.now();
    const r = await client.sendTask("later", [], {}, { countdown: 3 });
    await sleep(800);
    // Not held by the worker: it went to a delay level queue and was acked.
    expect(worker.reserved).toBe(0);
    expect(await r.get({ timeoutMs: 10_000 })).toBe("done");
    expect(ranAt - t0).toBeGreaterThanOrEqual(2900);
    expect(ranAt - t0).toBeLessThan(10_000);
  });

  it("delays through replicated quorum delay queues when asked (--delay-queues=quorum)", async () => {
    const { app, client, queue } = await setup();
    let ranAt = 0;
    app.task("later.q", () => {
      ranAt = Date.now();
      return "done";
    });
    const worker = await run(app, { delayQueues: "quorum" }, queue, client);
    const t0 = Date.now();
    const r = await client.sendTask("later.q", [], {}, { countdown: 2 });
    await sleep(500);
    expect(worker.reserved).toBe(0);
    const c = await amqp.connect(inject("amqpUrl"));
    const ch = await c.createChannel();
    expect((await ch.checkQueue("taskfleet.delay.quorum.0")).messageCount).toBe(1);
    await c.close();
    expect(await r.get({ timeoutMs: 15_000 })).toBe("done");
    expect(ranAt - t0).toBeGreaterThanOrEqual(1900);
  });

  it("records expired tasks as REVOKED without running them", async () => {
    const { app, client, queue } = await setup();
    let ran = false;
    app.task("expiring", () => {
      ran = true;
    });
    const r = await client.sendTask("expiring", [], {}, { expires: new Date(Date.now() - 1000) });
    await run(app, {}, queue, client);
    const err = (await r.get({ timeoutMs: 10_000 }).catch((e: unknown) => e)) as TaskError;
    expect(err.name).toBe("TaskRevokedError");
    expect(err.message).toBe("expired");
    expect(await r.state()).toBe("REVOKED");
    expect(ran).toBe(false);
  });

  it("aborts the handler's signal at the soft limit; at the hard limit records TimeLimitExceeded but holds the slot until the handler ends (never more than -c handlers)", async () => {
    const { app, client, queue } = await setup();
    app.task(
      "soft",
      (ctx: TaskContext) =>
        new Promise((_, reject) =>
          ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason as Error)),
        ),
      { softTimeLimitSeconds: 0.3 },
    );
    let live = 0;
    let peak = 0;
    let hangEnded = 0;
    let quickStarted = 0;
    // ignores its signal and ends 2 s later
    app.task(
      "hang",
      async () => {
        peak = Math.max(peak, ++live);
        await sleep(2000);
        live--;
        hangEnded = Date.now();
      },
      { timeLimitSeconds: 0.5 },
    );
    app.task("quick", () => {
      peak = Math.max(peak, ++live);
      quickStarted = Date.now();
      live--;
      return "quick";
    });
    const worker = await run(app, { concurrency: 1 }, queue, client);
    const soft = await client.sendTask("soft");
    await expect(soft.get({ timeoutMs: 10_000 })).rejects.toMatchObject({
      name: "SoftTimeLimitExceeded",
    });
    const t0 = Date.now();
    const hang = await client.sendTask("hang");
    const quick = await client.sendTask("quick");
    await expect(hang.get({ timeoutMs: 10_000 })).rejects.toMatchObject({
      name: "TimeLimitExceeded",
    });
    // recorded at the limit, long before the handler ends
    expect(Date.now() - t0).toBeLessThan(1800);
    expect(worker.renderMetrics()).toContain("\ntaskfleet_tasks_overdue 1\n");
    expect(await quick.get({ timeoutMs: 10_000 })).toBe("quick");
    expect(quickStarted).toBeGreaterThanOrEqual(hangEnded);
    expect(peak).toBe(1);
    expect(worker.renderMetrics()).toContain("\ntaskfleet_tasks_overdue 0\n");
  });

  it("applies the worker's time limit to tasks without one, caps every run below consumer_timeout, and refuses limits that do not fit", async () => {
    const { app, client, queue } = await setup();
    app.task("w.hang", () => new Promise(() => undefined));
    app.task("w.own", () => new Promise(() => undefined), { timeLimitSeconds: 0.4 });
    // consumer_timeout 5 s: a run may last 0.8 × 5 − min(60, 0.5) = 3.5 s at most
    expect(() => new Worker(app, { consumerTimeoutMs: 5000, timeLimitSeconds: 4 })).toThrow(
      "time limit: 4 s (the worker's timeLimitSeconds, --time-limit or TASKFLEET_TASK_TIME_LIMIT) does not fit the broker's consumer_timeout of 5 s: a delivery is held while it waits (rate limit, up to 0.5 s), runs and stores its result, and RabbitMQ closes the channel (redelivering every task on it) at consumer_timeout; use at most 3.5 s or raise consumer_timeout (--consumer-timeout, TASKFLEET_CONSUMER_TIMEOUT) with the broker's",
    );
    const other = testApp(queue);
    other.task("w.long", () => 1, { timeLimitSeconds: 10 });
    expect(() => new Worker(other, { consumerTimeoutMs: 5000 })).toThrow(
      'time limit: 10 s (task "w.long" timeLimitSeconds) does not fit the broker\'s consumer_timeout of 5 s',
    );
    await other.close();
    const worker = await run(app, { consumerTimeoutMs: 5000, timeLimitSeconds: 1 }, queue, client);
    const t0 = Date.now();
    const [hang, own] = [await client.sendTask("w.hang"), await client.sendTask("w.own")];
    await expect(own.get({ timeoutMs: 10_000 })).rejects.toMatchObject({
      name: "TimeLimitExceeded",
    });
    await expect(hang.get({ timeoutMs: 10_000 })).rejects.toMatchObject({
      name: "TimeLimitExceeded",
    });
    expect(Date.now() - t0).toBeLessThan(3000);
    // a limit from the message beyond what fits is capped
    const capped = await client.sendTask("w.hang", [], {}, { timeLimitSeconds: 3600 });
    const c0 = Date.now();
    await expect(capped.get({ timeoutMs: 10_000 })).rejects.toMatchObject({
      name: "TimeLimitExceeded",
    });
    expect(Date.now() - c0).toBeGreaterThan(3000);
    expect(Date.now() - c0).toBeLessThan(6000);
    expect(worker.inFlight).toBe(3);
  });

  it("rejects an unroutable publish with PublishRejectedError naming the exchange and key", async () => {
    const queue = uniqueQueue("none");
    const client = testApp(queue);
    const c = await amqp.connect(inject("amqpUrl"));
    const ch = await c.createChannel();
    const ex = uniqueQueue("ex");
    await ch.assertExchange(ex, "direct", { autoDelete: false });
    try {
      const err = await client
        .sendTask("x", [], {}, { exchange: ex, routingKey: "nowhere" })
        .catch((e: unknown) => e as PublishRejectedError);
      expect(err).toBeInstanceOf(PublishRejectedError);
      expect((err as Error).message).toBe(
        `publish to exchange "${ex}" with routing key "nowhere" was returned as unroutable (312 NO_ROUTE): no queue is bound for it`,
      );
    } finally {
      await ch.deleteExchange(ex);
      await c.close();
      await client.close();
    }
  });

  it("rejects publishes to a full reject-publish queue (nack) and sends a batch in one window", async () => {
    const queue = uniqueQueue("full");
    const c = await amqp.connect(inject("amqpUrl"));
    const ch = await c.createChannel();
    await ch.assertQueue(queue, {
      durable: true,
      arguments: { "x-max-length": 3, "x-overflow": "reject-publish" },
    });
    const client = testApp(queue, { declareQueues: "passive" });
    try {
      const batch = Array.from({ length: 5 }, (_, i) => ({ name: "t", args: [i] }));
      const err = (await client.sendTasks(batch).catch((e: unknown) => e)) as {
        errors: (Error | null)[];
        results: unknown[];
      };
      expect(err.errors.filter((e) => e === null)).toHaveLength(3);
      const nacked = err.errors.filter((e) => e !== null);
      expect(nacked).toHaveLength(2);
      expect(nacked[0]).toBeInstanceOf(PublishRejectedError);
      expect(nacked[0]!.message).toBe(
        `publish to queue "${queue}" (default exchange) was rejected by the broker (nack): the queue is full (x-max-length with reject-publish) or failed`,
      );
      expect((await ch.checkQueue(queue)).messageCount).toBe(3);
    } finally {
      await ch.deleteQueue(queue);
      await c.close();
      await client.close();
    }
  });
});

describe("the worker's extension points", () => {
  it("fires hooks in order, survives a throwing listener, runs added admission checks and control commands", async () => {
    const { app, client, queue } = await setup();
    app.task("h.ok", (x: number) => x * 2);
    app.task("h.skip", () => "never");
    const worker = new Worker(app, {
      concurrency: 2,
      hostname: `hooks-${queue}@test`,
    });
    const seen: string[] = [];
    worker.hooks.on("task-received", (j) => seen.push(`received ${j.req.task}`));
    worker.hooks.on("task-started", (j) => seen.push(`started ${j.req.task}`));
    worker.hooks.on("task-started", () => {
      throw new Error("a broken listener");
    });
    worker.hooks.on("task-succeeded", (j, result) =>
      seen.push(`succeeded ${j.req.task} ${String(result)}`),
    );
    worker.hooks.on("task-finished", (j) => seen.push(`finished ${j.req.task}`));
    worker.admission.add((job) => {
      if (job.req.task !== "h.skip") return "run";
      job.tracker.ack(job.msg.fields.deliveryTag);
      seen.push("skipped h.skip");
      return "handled";
    });
    worker.control.register("echo", (args) => ({ echo: args }));
    await worker.start();
    cleanups.push(async () => {
      await worker.stop();
      await app.close();
      await client.close();
      await deleteQueues(queue);
    });
    await client.sendTask("h.skip");
    expect(await (await client.sendTask("h.ok", [21])).get({ timeoutMs: 10_000 })).toBe(42);
    await until(() => seen.includes("finished h.ok"), 5000, "finished hook");
    expect(seen).toEqual([
      "received h.skip",
      "skipped h.skip",
      "received h.ok",
      "started h.ok",
      "succeeded h.ok 42",
      "finished h.ok",
    ]);
    expect(worker.control.get("echo")?.({ a: 1 })).toEqual({ echo: { a: 1 } });
    expect(worker.control.names()).toEqual(
      expect.arrayContaining(["active", "echo", "ping", "registered", "stats"]),
    );
  });
});

describe("retries keep what the caller sent", () => {
  it("keeps custom headers and reply_to across retries; running out after ctx.retry() stores MaxRetriesExceededError", async () => {
    const { app, client, queue } = await setup();
    // x-death: what the delay queue's dead-lettering added to this delivery (never carried over)
    const seen: { retries: number; tenant: unknown; replyTo: string | null; deaths: number }[] = [];
    app.task(
      "r.again",
      (ctx: TaskContext) => {
        seen.push({
          retries: ctx.request.retries,
          tenant: ctx.request.headers.tenant,
          replyTo: ctx.request.replyTo,
          deaths: ((ctx.request.headers["x-death"] as { count: number }[] | undefined) ?? [])
            .map((d) => d.count)
            .reduce((a, b) => a + b, 0),
        });
        if (ctx.request.retries < 2) throw ctx.retry({ countdownSeconds: 1 });
        return "third time";
      },
      { maxRetries: 3 },
    );
    app.task(
      "r.never",
      (_n: number, ctx: TaskContext) => {
        throw ctx.retry({ countdownSeconds: 0.1 });
      },
      { maxRetries: 1 },
    );
    await run(app, {}, queue, client);
    const r = await client.sendTask(
      "r.again",
      [],
      {},
      { headers: { tenant: "acme" }, replyTo: "my-replies" },
    );
    expect(await r.get({ timeoutMs: 20_000 })).toBe("third time");
    expect(seen).toEqual([
      { retries: 0, tenant: "acme", replyTo: "my-replies", deaths: 0 },
      { retries: 1, tenant: "acme", replyTo: "my-replies", deaths: 1 },
      { retries: 2, tenant: "acme", replyTo: "my-replies", deaths: 1 },
    ]);
    const never = await client.sendTask("r.never", [5]);
    const err = (await never.get({ timeoutMs: 10_000 }).catch((e: unknown) => e)) as TaskError;
    expect(err.name).toBe("MaxRetriesExceededError");
    expect(err.excModule).toBe("celery.exceptions");
    expect(err.message).toBe(`Can't retry r.never[${never.id}] args:[5] kwargs:{}`);
  });
});

describe("shutdown past its timeout", () => {
  it("requeues the acks-late tasks it cuts short, never records them failed nor sends their errbacks; an early-acked one is FAILURE WorkerLostError", async () => {
    const { app, client, queue } = await setup();
    const errbacks: string[] = [];
    const abortable = (ctx: TaskContext): Promise<never> =>
      new Promise((_, reject) =>
        ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason as Error)),
      );
    app.task("sd.late", abortable);
    app.task("sd.early", abortable, { acksLate: false });
    app.task("sd.errback", (id: string) => void errbacks.push(id));
    const worker = await startWorker(app, { shutdownTimeoutMs: 300 });
    const eb = {
      task: "sd.errback",
      args: [],
      kwargs: {},
      options: {},
      subtask_type: null,
      immutable: false,
    };
    const late = await client.sendTask("sd.late", [], {}, { errbacks: [eb] });
    const early = await client.sendTask("sd.early", [], {}, { errbacks: [eb] });
    await until(() => worker.inFlight === 2, 5000, "both running");
    const next = testApp(queue);
    next.task("sd.late", () => "late done");
    next.task("sd.early", () => "early done");
    next.task("sd.errback", (id: string) => void errbacks.push(id));
    try {
      await worker.stop();
      await sleep(500);
      expect(await late.state()).toBe("PENDING");
      const lost = (await early.get({ timeoutMs: 5000 }).catch((e: unknown) => e)) as TaskError;
      expect(lost).toMatchObject({
        name: "WorkerLostError",
        excModule: "celery.exceptions",
        message: "Worker exited prematurely: shutdown timeout reached",
      });
      // the acks-late one is back in the queue: another worker finishes it
      const w2 = await startWorker(next);
      try {
        expect(await late.get({ timeoutMs: 10_000 })).toBe("late done");
        await until(() => errbacks.length === 1, 5000, "the lost task's errback");
        await sleep(500);
        expect(errbacks).toEqual([early.id]);
      } finally {
        await w2.stop();
      }
    } finally {
      await next.close();
      await app.close();
      await client.close();
      await deleteQueues(queue);
    }
  });
});
