/**
 * Sharding Celery tasks: Celery publishes every task of one type with the same routing key, so
 * the consistent-hash exchange hashes the `id` header (the task id) instead (`hashHeader: id`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type ChannelModel } from "amqplib";
import { tempDir } from "../../support/tmp.js";
import type { RabbitMqNode } from "../../../local/services/index.js";
import { brokerObjects, type BrokerSpec } from "../../../components/broker/index.js";
import { PASSWORDS, drainShards, nodeFromRenderedFiles, shardCounts, testSpec } from "./support.js";

let node: RabbitMqNode;
let spec: BrokerSpec;
let cleanup: () => void;
const conns: ChannelModel[] = [];

beforeAll(async () => {
  const tmp = tempDir("taskfleet-broker-hash-header-");
  cleanup = tmp.cleanup;
  spec = testSpec({ sharding: { enabled: true, shardCount: 4, hashHeader: "id" } });
  node = nodeFromRenderedFiles(spec, tmp.path).node;
  await node.start();
});

afterAll(async () => {
  await Promise.allSettled(conns.map((c) => c.close()));
  await node?.stop();
  cleanup?.();
});

describe("consistent-hash sharding on the task id header", () => {
  it("one routing key, 4,000 task ids: within ±25% of even, and the same id lands on the same shard", async () => {
    const p = await connect(node.url(spec.users.producers, PASSWORDS.producers));
    const w = await connect(node.url(spec.users.workers, PASSWORDS.workers));
    conns.push(p, w);
    const ch = await p.createConfirmChannel();
    const publish = async (ids: string[]): Promise<void> => {
      for (const id of ids) {
        ch.publish("default", "default.tasks.add", Buffer.from(id), { headers: { id } });
      }
      await ch.waitForConfirms();
    };
    const shards = brokerObjects(spec).consumeQueues["default"]!;
    const wch = await w.createChannel();
    await wch.prefetch(2000);
    const drain = (expected: number) => drainShards(wch, shards, expected);
    const ids = Array.from(
      { length: 4000 },
      (_, i) => `5f3c${i.toString(16).padStart(4, "0")}-task`,
    );
    await publish(ids);
    const first = await drain(4000);
    const counts = shardCounts(first, shards);
    console.log(`hash-header sharding: shard counts ${counts.join(", ")} (even = 1000)`);
    for (const c of counts) {
      expect(c).toBeGreaterThanOrEqual(750);
      expect(c).toBeLessThanOrEqual(1250);
    }
    await publish(ids.slice(0, 300));
    const second = await drain(300);
    for (const [id, s] of second) expect(s).toBe(first.get(id));
  });
});
