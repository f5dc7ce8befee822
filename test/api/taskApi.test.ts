/**
 * The task API against the shared real RabbitMQ and Redis: what a 202 means (the broker holds the
 * task, as a Celery v2 message), results read back by the client that sent the task, exact 400
 * messages, 413, 415, and full queues answered with 503 + Retry-After with nothing silently dropped.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { connect, type ChannelModel, type Channel } from "amqplib";
import { TaskApi } from "../../worker-runtime/src/api/server.js";
import { BrokerGateway } from "../../worker-runtime/src/api/gateway.js";
import { ResultBackend } from "../../worker-runtime/src/backend/resultBackend.js";
import type { ApiRouting } from "../../worker-runtime/src/api/validate.js";
import { freePort } from "../../local/services/index.js";
import { clients, tokenOf } from "./support.js";

const tag = `apitest-${randomUUID().slice(0, 8)}`;
const Q_HIGH = `${tag}.high_priority`;
const Q_DEF = `${tag}.default`;
const Q_FULL = `${tag}.full`;
const X_SHARDS = `${tag}.shards`;
const X_TOPIC = `${tag}.sharded`;
const FULL_LIMIT = 5;

const routing: ApiRouting = {
  queues: {
    high_priority: { exchange: Q_HIGH, routingKeyPrefix: "high" },
    default: { exchange: Q_DEF, routingKeyPrefix: "default" },
    tiny: { exchange: Q_FULL, routingKeyPrefix: "tiny" },
    nowhere: { exchange: Q_DEF, routingKeyPrefix: "unbound" },
    sharded: { exchange: X_TOPIC, routingKeyPrefix: "sharded" },
  },
  priorities: { high: "high_priority", default: "default" },
  defaultQueue: "default",
  shardQueue: "sharded",
};

let conn: ChannelModel;
let ch: Channel;
let api: TaskApi;
let base: string;
let metricsBase: string;
let backend: ResultBackend;
const auth = { authorization: `Bearer ${tokenOf("alice")}` };

async function post(
  body: unknown,
  raw?: string,
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${base}/v1/tasks`, {
    method: "POST",
    headers: { "content-type": "application/json", ...auth },
    body: raw ?? JSON.stringify(body),
  });
  return {
    status: res.status,
    json: (await res.json()) as Record<string, unknown>,
    headers: res.headers,
  };
}

beforeAll(async () => {
  conn = await connect(inject("amqpUrl"));
  ch = await conn.createChannel();
  for (const [x, q, key, args] of [
    [Q_HIGH, Q_HIGH, "high.#", {}],
    [Q_DEF, Q_DEF, "default.#", {}],
    [Q_FULL, Q_FULL, "tiny.#", { "x-max-length": FULL_LIMIT, "x-overflow": "reject-publish" }],
  ] as const) {
    await ch.assertExchange(x, "topic", { durable: false, autoDelete: false });
    await ch.assertQueue(q, { durable: true, arguments: args });
    await ch.bindQueue(q, x, key);
  }
  // As the broker layer lays out a sharded class: topic exchange -> consistent-hash exchange -> shards.
  await ch.assertExchange(X_TOPIC, "topic", { durable: false });
  await ch.assertExchange(X_SHARDS, "x-consistent-hash", { durable: false });
  await ch.bindExchange(X_SHARDS, X_TOPIC, "sharded.#");
  for (const i of [0, 1, 2]) {
    await ch.assertQueue(`${X_SHARDS}.${i}`, { durable: true });
    await ch.bindQueue(`${X_SHARDS}.${i}`, X_SHARDS, "1");
  }
  backend = new ResultBackend({ url: inject("redisUrl") });
  api = new TaskApi({
    gateway: new BrokerGateway({
      brokerUrl: inject("amqpUrl"),
      backendUrl: inject("redisUrl"),
      region: "test-a",
    }),
    routing,
    region: "test-a",
    clients: clients(),
    maxBodyBytes: 4096,
    retryAfterSeconds: 2,
  });
  base = `http://127.0.0.1:${await api.listen(0)}`;
  metricsBase = `http://127.0.0.1:${await api.listenMetrics(0)}`;
});

afterAll(async () => {
  await api?.close();
  await backend?.close();
  for (const q of [Q_HIGH, Q_DEF, Q_FULL, `${X_SHARDS}.0`, `${X_SHARDS}.1`, `${X_SHARDS}.2`]) {
    await ch.deleteQueue(q).catch(() => undefined);
  }
  for (const x of [Q_HIGH, Q_DEF, Q_FULL, X_SHARDS, X_TOPIC])
    await ch.deleteExchange(x).catch(() => undefined);
  await conn?.close();
});

describe("POST /v1/tasks", () => {
  it("answers 202 with id and region once the broker holds a Celery v2 message for the task", async () => {
    const r = await post({
      name: "reports.build",
      args: [1, 2],
      kwargs: { fmt: "pdf" },
      priority: "high",
      countdown: 5,
    });
    expect(r.status).toBe(202);
    expect(r.json.region).toBe("test-a");
    expect(r.json.queue).toBe("high_priority");
    const id = r.json.id as string;
    const msg = await ch.get(Q_HIGH, { noAck: true });
    expect(msg).not.toBe(false);
    if (!msg) return;
    expect(msg.fields.routingKey).toBe("high.reports.build");
    expect(msg.properties.correlationId).toBe(id);
    expect(msg.properties.deliveryMode).toBe(2);
    const h = msg.properties.headers as Record<string, unknown>;
    expect(h.task).toBe("reports.build");
    expect(h.id).toBe(id);
    expect(typeof h.eta).toBe("string");
    const eta = Date.parse(h.eta as string);
    expect(eta - Date.now()).toBeGreaterThan(2000);
    expect(JSON.parse(msg.content.toString())).toEqual([
      [1, 2],
      { fmt: "pdf" },
      { callbacks: null, errbacks: null, chain: null, chord: null },
    ]);
  });

  it("routes a task with key through the consistent-hash exchange, the same key to the same shard", async () => {
    const counts = async (): Promise<number[]> =>
      Promise.all(
        [0, 1, 2].map(async (i) => (await ch.checkQueue(`${X_SHARDS}.${i}`)).messageCount),
      );
    const before = await counts();
    for (let i = 0; i < 5; i++) {
      const r = await post({ name: "user.sync", key: "user-42" });
      expect([r.status, r.json.queue]).toEqual([202, "sharded"]);
    }
    const after = await counts();
    const grew = after.map((n, i) => n - before[i]!);
    expect(grew.filter((d) => d > 0)).toEqual([5]);
    for (let i = 0; i < 30; i++)
      expect((await post({ name: "user.sync", key: `user-${i}` })).status).toBe(202);
    const spread = (await counts()).map((n, i) => n - after[i]!);
    expect(spread.reduce((a, b) => a + b, 0)).toBe(30);
    expect(spread.filter((d) => d > 0).length).toBeGreaterThan(1);
  });

  it("refuses bad input with 400 and a message naming the field, the value and what is allowed", async () => {
    const cases: [unknown, string, string][] = [
      [
        { args: [] },
        "name",
        'name: undefined is not a task name; use a string of 1-200 letters, digits, "_", ".", ":" or "-" starting with a letter or "_" (e.g. "reports.build")',
      ],
      [
        { name: "a", args: { x: 1 } },
        "args",
        'args: {"x":1} is a object; use a JSON array of positional arguments',
      ],
      [
        { name: "a", kwargs: [1] },
        "kwargs",
        "kwargs: [1] is an array; use a JSON object of keyword arguments",
      ],
      [
        { name: "a", queue: "nope" },
        "queue",
        'queue: "nope" is not a queue of this region; allowed: high_priority, default, tiny, nowhere, sharded',
      ],
      [
        { name: "a", priority: "urgent" },
        "priority",
        'priority: "urgent" is not a priority of this region; allowed: high, default',
      ],
      [
        { name: "a", queue: "default", priority: "high" },
        "priority",
        "queue and priority: give only one of queue, priority or key",
      ],
      [
        { name: "a", countdown: -1 },
        "countdown",
        "countdown: -1 is not a delay; use a number of seconds from 0 to 2592000",
      ],
      [
        { name: "a", expires: 3e6 },
        "expires",
        "expires: 3000000 is more than 2592000 seconds (30 days) away; use a number of seconds from 1 to 2592000",
      ],
      [
        { name: "a", countdown: 60, expires: 30 },
        "expires",
        "expires: the task would expire before its countdown of 60 s ends; give an expiry after the countdown, or none",
      ],
      [
        { name: "a", args: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]] },
        "args",
        "args: nested deeper than 32 levels of arrays and objects; flatten it (at most 32 levels)",
      ],
      [
        { name: "a", key: "k".repeat(250) },
        "key",
        `key: "${"k".repeat(56)}... makes a routing key of 258 bytes; AMQP allows 255, so use a key of at most 247 bytes (UTF-8)`,
      ],
      [
        { name: "a", expires: "2001-01-01T00:00:00Z" },
        "expires",
        'expires: "2001-01-01T00:00:00Z" is in the past; use a later ISO-8601 time or a number of seconds > 0',
      ],
      [
        { name: "a", key: "" },
        "key",
        'key: "" is not a shard key; use a non-empty string of at most 255 characters',
      ],
      [
        { name: "a", colour: "red" },
        "colour",
        "colour: unknown field; allowed fields are name, args, kwargs, queue, priority, countdown, expires, key",
      ],
      [[1, 2], "body", 'body: an array is not a task; send a JSON object with at least "name"'],
    ];
    for (const [body, field, message] of cases) {
      const r = await post(body);
      expect({ status: r.status, json: r.json }).toEqual({
        status: 400,
        json: { error: "bad_request", field, message },
      });
    }
    const tomorrow = await post({ name: "a", expires: "tomorrow" });
    expect(tomorrow.json.message).toMatch(
      /^expires: "tomorrow" is not an expiry; use a number of seconds > 0 or an ISO-8601 time such as "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"$/,
    );
    const bad = await post(undefined, "{not json");
    expect(bad.status).toBe(400);
    expect(bad.json.field).toBe("body");
    expect(String(bad.json.message)).toMatch(/^body: not valid JSON \(/);
  });

  it("refuses a body that is not JSON with 415 naming content-type", async () => {
    const res = await fetch(`${base}/v1/tasks`, {
      method: "POST",
      headers: { "content-type": "text/plain", ...auth },
      body: JSON.stringify({ name: "a" }),
    });
    expect(res.status).toBe(415);
    expect(await res.json()).toEqual({
      error: "unsupported_media_type",
      field: "content-type",
      message: 'content-type: "text/plain" is not accepted; send the body as application/json',
    });
  });

  it("refuses a body over the size limit with 413", async () => {
    const r = await post({ name: "a", args: ["x".repeat(5000)] });
    expect(r.status).toBe(413);
    expect(r.json.field).toBe("body");
    expect(r.json.message).toBe(
      "body: larger than 4096 bytes; send at most 4096 bytes (store big inputs elsewhere and pass a reference)",
    );
  });

  it("answers 503 with Retry-After when the queue is full, and every 202 is a task the broker holds", async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => post({ name: "bulk.item", args: [i], queue: "tiny" })),
    );
    const accepted = answers.filter((a) => a.status === 202);
    const refused = answers.filter((a) => a.status === 503);
    expect(accepted.length + refused.length).toBe(20);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.headers.get("retry-after")).toBe("2");
      expect(r.json).toMatchObject({ error: "not_stored", reason: "nack" });
    }
    const held = (await ch.checkQueue(Q_FULL)).messageCount;
    expect(held).toBe(accepted.length);
    // The ids the broker holds are exactly the ids answered with 202.
    const ids = new Set<string>();
    for (
      let m = await ch.get(Q_FULL, { noAck: true });
      m;
      m = await ch.get(Q_FULL, { noAck: true })
    ) {
      ids.add(m.properties.correlationId as string);
    }
    expect(ids).toEqual(new Set(accepted.map((a) => a.json.id as string)));
    const metrics = await (await fetch(`${metricsBase}/metrics`)).text();
    expect(metrics).toContain(
      `taskfleet_api_publish_rejected_total{queue="tiny",reason="nack"} ${refused.length}`,
    );
  });

  it("answers 503 (not 202) for a task no queue is bound to receive", async () => {
    const r = await post({ name: "lost.task", queue: "nowhere" });
    expect(r.status).toBe(503);
    expect(r.json.reason).toBe("returned");
  });
});

describe("GET /v1/tasks/{id}", () => {
  it("reports PENDING, then the stored result, then a failure's type and message", async () => {
    const get = async (id: string): Promise<unknown> =>
      (await fetch(`${base}/v1/tasks/${id}`, { headers: auth })).json();
    const r = await post({ name: "math.add", args: [2, 3] });
    const id = r.json.id as string;
    expect(await get(id)).toEqual({ id, state: "PENDING" });
    await backend.store({ taskId: id, status: "SUCCESS", result: 5 });
    expect(await get(id)).toMatchObject({ id, state: "SUCCESS", result: 5 });
    const id2 = (await post({ name: "math.div", args: [1, 0] })).json.id as string;
    await backend.store({ taskId: id2, status: "FAILURE", error: new RangeError("too big") });
    const bad = (await get(id2)) as Record<string, unknown>;
    expect(bad).toMatchObject({
      id: id2,
      state: "FAILURE",
      error: { type: "RangeError", message: "too big" },
    });
    await ch.purgeQueue(Q_DEF);
  });

  it("refuses a malformed id with 400", async () => {
    const res = await fetch(`${base}/v1/tasks/${encodeURIComponent("../etc")}`, { headers: auth });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { field: string }).field).toBe("id");
  });
});

describe("health, readiness and metrics", () => {
  it("is healthy and ready with broker and Redis up; not ready without a broker", async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready", broker: true, backend: true });
    const dead = `amqp://guest:guest@127.0.0.1:${await freePort()}/`;
    const lonely = new TaskApi({
      gateway: new BrokerGateway({
        brokerUrl: dead,
        backendUrl: inject("redisUrl"),
        region: "test-b",
      }),
      routing,
      region: "test-b",
      clients: clients(),
    });
    const port = await lonely.listen(0);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(r.status).toBe(503);
      expect(await r.json()).toMatchObject({ status: "not_ready", broker: false, backend: true });
      const p = await fetch(`http://127.0.0.1:${port}/v1/tasks`, {
        method: "POST",
        headers: { "content-type": "application/json", ...auth },
        body: JSON.stringify({ name: "x" }),
      });
      expect(p.status).toBe(503);
      expect(p.headers.get("retry-after")).toBe("1");
      // A 5xx names no host, address or user: the broker URL is in the log only.
      const text = JSON.stringify(await p.json());
      expect(text).not.toMatch(/127\.0\.0\.1|guest|ECONNREFUSED|amqp:/);
    } finally {
      await lonely.close();
    }
  });

  it("exposes request counts by route and status and the publish latency histogram", async () => {
    const text = await (await fetch(`${metricsBase}/metrics`)).text();
    expect((await fetch(`${base}/metrics`, { headers: auth })).status).toBe(404);
    expect(text).toMatch(
      /taskfleet_api_requests_total\{method="POST",route="\/v1\/tasks",status="202"\} \d+/,
    );
    expect(text).toMatch(
      /taskfleet_api_requests_total\{method="POST",route="\/v1\/tasks",status="400"\} \d+/,
    );
    expect(text).toMatch(
      /taskfleet_api_publish_duration_seconds_bucket\{queue="high_priority",le="\+Inf"\} 1/,
    );
    expect(text).toContain("# TYPE taskfleet_api_publish_rejected_total counter");
  });
});
