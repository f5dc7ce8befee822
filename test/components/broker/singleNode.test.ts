/**
 * Scenarios 1–3 of the broker layer on one real RabbitMQ node booted from the rendered
 * rabbitmq.conf, enabled_plugins and definitions.json: roles and policies, limits, sharding.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type ChannelModel, type ConfirmChannel } from "amqplib";
import { setTimeout as sleep } from "node:timers/promises";
import { tempDir } from "../../support/tmp.js";
import type { RabbitMqNode } from "../../../local/services/index.js";
import { brokerObjects, type BrokerSpec } from "../../../components/broker/index.js";
import {
  PASSWORDS,
  amqpError,
  drainShards,
  nodeFromRenderedFiles,
  shardCounts,
  testSpec,
} from "./support.js";

let node: RabbitMqNode;
let spec: BrokerSpec;
let cleanup: () => void;
const open: ChannelModel[] = [];

const CAPPED_MAX_LENGTH = 50;

beforeAll(async () => {
  const tmp = tempDir("taskfleet-broker-single-");
  cleanup = tmp.cleanup;
  spec = testSpec({
    sharding: { enabled: true, classes: ["default"], shardCount: 4 },
    queueClasses: {
      capped: { maxLength: CAPPED_MAX_LENGTH },
      expiring: { messageTtlSeconds: 1 },
      poison: { deliveryLimit: 2 },
    },
  });
  node = nodeFromRenderedFiles(spec, tmp.path).node;
  await node.start();
});

afterAll(async () => {
  await Promise.allSettled(open.map((c) => c.close()));
  await node?.stop();
  cleanup?.();
});

async function as(role: keyof typeof PASSWORDS): Promise<ChannelModel> {
  const c = await connect(node.url(spec.users[role], PASSWORDS[role]));
  c.on("error", () => undefined);
  open.push(c);
  return c;
}

async function confirmChannel(role: keyof typeof PASSWORDS): Promise<ConfirmChannel> {
  const ch = await (await as(role)).createConfirmChannel();
  ch.on("error", () => undefined);
  return ch;
}

/** Publishes and resolves true on ack, false on nack. */
function publishConfirmed(
  ch: ConfirmChannel,
  exchange: string,
  key: string,
  body: string,
): Promise<boolean> {
  return new Promise((resolve) => {
    ch.publish(exchange, key, Buffer.from(body), { persistent: true }, (err) => resolve(!err));
  });
}

async function queueDepths(): Promise<Record<string, number>> {
  const out = await node.ctl(["list_queues", "name", "messages_ready", "--no-table-headers", "-q"]);
  return Object.fromEntries(
    out
      .trim()
      .split("\n")
      .map((l) => l.split("\t"))
      .map(([n, m]) => [n!, Number(m)]),
  );
}

describe("scenario 1: a node booted from the rendered files", () => {
  it("runs the taskfleet plugins", async () => {
    const enabled = (await node.ctl(["list", "-E", "-m"], "rabbitmq-plugins")).split("\n");
    for (const p of [
      "rabbitmq_management",
      "rabbitmq_prometheus",
      "rabbitmq_federation",
      "rabbitmq_federation_management",
      "rabbitmq_shovel",
      "rabbitmq_shovel_management",
      "rabbitmq_consistent_hash_exchange",
    ]) {
      expect(enabled).toContain(p);
    }
  });

  it("runs with the rendered limits and partition handling", async () => {
    const env = async (key: string): Promise<string> =>
      (await node.ctl(["eval", `application:get_env(rabbit, ${key}).`])).trim();
    expect(await env("cluster_partition_handling")).toBe("{ok,pause_minority}");
    expect(await env("vm_memory_high_watermark")).toBe("{ok,0.6}");
    expect(await env("consumer_timeout")).toBe("{ok,1800000}");
    expect(await env("disk_free_limit")).toBe(`{ok,${Math.round(0.1 * 1024 ** 3)}}`);
  });

  it("has exactly the four role users and no guest; guest cannot log in", async () => {
    const users = (await node.ctl(["list_users", "--no-table-headers", "-q"]))
      .trim()
      .split("\n")
      .map((l) => l.split("\t")[0])
      .sort();
    expect(users).toEqual(Object.values(spec.users).sort());
    const e = await amqpError(() => connect(node.url("guest", "guest")));
    expect(e.message).toMatch(/ACCESS_REFUSED/);
  });

  it("a worker consumes its queue but cannot declare exchanges (403 ACCESS_REFUSED)", async () => {
    const conn = await as("workers");
    const ok = await conn.createChannel();
    await ok.consume("high_priority", () => undefined, { noAck: false });
    await ok.close();
    const ch = await conn.createChannel();
    ch.on("error", () => undefined);
    const e = await amqpError(() => ch.assertExchange("worker-made-this", "topic"));
    expect(e.code).toBe(403);
    expect(e.message).toMatch(/ACCESS_REFUSED/);
  });

  it("a worker declares the runtime's own objects but no other queue", async () => {
    const conn = await as("workers");
    const ch = await conn.createChannel();
    await ch.assertQueue("taskfleet.poison", { durable: true });
    await ch.assertExchange("celery.pidbox", "fanout", { durable: false, autoDelete: false });
    await ch.deleteQueue("taskfleet.poison");
    await ch.deleteExchange("celery.pidbox");
    const c2 = await conn.createChannel();
    c2.on("error", () => undefined);
    const e = await amqpError(() => c2.assertQueue("worker-made-queue"));
    expect(e.code).toBe(403);
  });

  it("a worker cannot read the federation user's queues (403 ACCESS_REFUSED)", async () => {
    const fed = await (await as("federation")).createChannel();
    const q = "federation: default -> test-downstream";
    await fed.assertQueue(q, { durable: false, autoDelete: true });
    const ch = await (await as("workers")).createChannel();
    ch.on("error", () => undefined);
    const e = await amqpError(() => ch.consume(q, () => undefined));
    expect(e.code).toBe(403);
    expect(e.message).toMatch(/ACCESS_REFUSED/);
    await fed.deleteQueue(q);
  });

  it("a producer publishes to the task exchanges but cannot declare queues or consume", async () => {
    const ch = await confirmChannel("producers");
    expect(await publishConfirmed(ch, "high_priority", "high.scenario1", "p")).toBe(true);
    const worker = await (await as("workers")).createChannel();
    const got = await worker.get("high_priority", { noAck: true });
    expect(got && got.content.toString()).toBe("p");

    const c1 = await (await as("producers")).createChannel();
    c1.on("error", () => undefined);
    expect((await amqpError(() => c1.assertQueue("producer-queue"))).code).toBe(403);
    const c2 = await (await as("producers")).createChannel();
    c2.on("error", () => undefined);
    expect((await amqpError(() => c2.get("high_priority"))).code).toBe(403);
  });

  it("monitoring reads the management API but cannot touch queues over AMQP", async () => {
    const auth = Buffer.from(`${spec.users.monitoring}:${PASSWORDS.monitoring}`).toString("base64");
    // the management plugin shows a queue's policy once it has collected the queue's stats
    let q: { policy?: string; effective_policy_definition?: object } = {};
    for (let i = 0; i < 60 && q.policy === undefined; i++) {
      if (i > 0) await sleep(250);
      const res = await fetch(`${node.managementUrl()}/api/queues/%2F/high_priority`, {
        headers: { authorization: `Basic ${auth}` },
      });
      expect(res.status).toBe(200);
      q = (await res.json()) as typeof q;
    }
    expect(q.policy).toBe("taskfleet-high_priority");
    expect(q.effective_policy_definition).toEqual({
      "dead-letter-exchange": "high_priority.dlx",
      "dead-letter-strategy": "at-least-once",
      "delivery-limit": 20,
      "max-length": 100000,
      "message-ttl": 3600000,
      overflow: "reject-publish",
    });
    const ch = await (await as("monitoring")).createChannel();
    ch.on("error", () => undefined);
    expect((await amqpError(() => ch.get("high_priority"))).code).toBe(403);
  });

  it("every task queue carries its class policy; dead-letter queues carry none", async () => {
    const out = await node.ctl([
      "list_queues",
      "name",
      "type",
      "policy",
      "--no-table-headers",
      "-q",
    ]);
    const rows = Object.fromEntries(
      out
        .trim()
        .split("\n")
        .map((l) => l.split("\t"))
        .map(([n, t, p]) => [n!, `${t}/${p ?? ""}`]),
    );
    const expected: Record<string, string> = {};
    for (const q of brokerObjects(spec).queues) {
      expected[q.name] = `quorum/${q.kind === "dead-letter" ? "" : `taskfleet-${q.queueClass}`}`;
    }
    expect(rows).toEqual(expected);
  });
});

describe("scenario 2: limits", () => {
  it("publishing past max length with confirms nacks the excess; nothing is dropped silently", async () => {
    const ch = await confirmChannel("producers");
    const total = CAPPED_MAX_LENGTH + 30;
    let acked = 0;
    let nacked = 0;
    for (let i = 0; i < total; i++) {
      if (await publishConfirmed(ch, "capped", `capped.${i}`, String(i))) acked++;
      else nacked++;
    }
    // A quorum queue may overshoot its limit by the messages in flight (one here, publishing one
    // at a time); every publish gets an answer and the excess is nacked.
    expect(acked + nacked).toBe(total);
    expect(acked).toBeGreaterThanOrEqual(CAPPED_MAX_LENGTH);
    expect(acked).toBeLessThanOrEqual(CAPPED_MAX_LENGTH + 1);
    console.log(
      `scenario 2: ${total} publishes to a queue capped at ${CAPPED_MAX_LENGTH}: ${acked} acked, ${nacked} nacked`,
    );
    // every acked message is in the queue, in order, and nothing else
    const worker = await (await as("workers")).createChannel();
    const bodies: string[] = [];
    for (;;) {
      const m = await worker.get("capped", { noAck: true });
      if (!m) break;
      bodies.push(m.content.toString());
    }
    expect(bodies).toEqual(Array.from({ length: acked }, (_, i) => String(i)));
  });

  it("a message past its TTL is dead-lettered to the class's dead-letter queue", async () => {
    const ch = await confirmChannel("producers");
    expect(await publishConfirmed(ch, "expiring", "expiring.one", "old task")).toBe(true);
    let depths = await queueDepths();
    for (let i = 0; i < 100 && depths["expiring.dead"] !== 1; i++) {
      await sleep(200);
      depths = await queueDepths();
    }
    expect([depths["expiring"], depths["expiring.dead"]]).toEqual([0, 1]);
    await node.ctl(["purge_queue", "expiring.dead"]);
  });
});

describe("poison messages", () => {
  it("a message requeued past the class's delivery limit is dead-lettered, not redelivered forever", async () => {
    const ch = await confirmChannel("producers");
    expect(await publishConfirmed(ch, "poison", "poison.bad", "crashes every worker")).toBe(true);
    const worker = await (await as("workers")).createChannel();
    // keep taking the message and requeueing it (a worker that crashes on it) until it has not
    // come back for 1.5 s
    let deliveries = 0;
    let last = Date.now();
    while (Date.now() - last < 1500) {
      const m = await worker.get("poison", { noAck: false });
      if (!m) {
        await sleep(50);
        continue;
      }
      deliveries++;
      last = Date.now();
      worker.nack(m, false, true);
    }
    console.log(`poison: delivered ${deliveries} times with delivery-limit 2`);
    expect(deliveries).toBe(3);
    let depths = await queueDepths();
    for (let i = 0; i < 100 && depths["poison.dead"] !== 1; i++) {
      await sleep(200);
      depths = await queueDepths();
    }
    expect([depths["poison"], depths["poison.dead"]]).toEqual([0, 1]);
  });
});

describe("scenario 3: consistent-hash sharding", () => {
  it("10,000 routing keys spread within ±25% of even; the same key lands on the same shard", async () => {
    const ch = await confirmChannel("producers");
    const keys = Array.from({ length: 10_000 }, (_, i) => `default.key-${i}`);
    for (let i = 0; i < keys.length; i += 500) {
      for (const k of keys.slice(i, i + 500)) ch.publish("default", k, Buffer.from(k));
      await ch.waitForConfirms();
    }
    const shards = brokerObjects(spec).consumeQueues["default"]!;
    // record key -> shard by draining every shard (quorum-queue counters in rabbitmqctl lag by
    // a tick, so count what is actually delivered)
    const worker = await (await as("workers")).createChannel();
    const drain = async (expected: number): Promise<Map<string, string>> => {
      await worker.prefetch(2000);
      const where = await drainShards(worker, shards, expected);
      for (const s of shards) expect(await worker.get(s, { noAck: true })).toBe(false);
      return where;
    };
    const first = await drain(10_000);
    expect(first.size).toBe(10_000);
    const counts = shardCounts(first, shards);
    const even = 10_000 / shards.length;
    console.log(`scenario 3: shard counts ${counts.join(", ")} (even = ${even})`);
    for (const c of counts) {
      expect(c).toBeGreaterThanOrEqual(even * 0.75);
      expect(c).toBeLessThanOrEqual(even * 1.25);
    }

    // publish the first 500 keys again: each lands on the shard it landed on before
    for (const k of keys.slice(0, 500)) ch.publish("default", k, Buffer.from(k));
    await ch.waitForConfirms();
    const second = await drain(500);
    expect(second.size).toBe(500);
    for (const [k, s] of second) expect(s).toBe(first.get(k));
  });
});
