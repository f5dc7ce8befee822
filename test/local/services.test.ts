import { describe, expect, inject, it } from "vitest";
import { connect } from "amqplib";
import { Redis } from "ioredis";
import { RabbitMqNode } from "../../local/services/index.js";

describe("shared services started by the global setup", () => {
  it("RabbitMQ accepts AMQP, has the taskfleet plugins on, and routes a message", async () => {
    const conn = await connect(inject("amqpUrl"));
    try {
      const ch = await conn.createConfirmChannel();
      const q = await ch.assertQueue("", { exclusive: true });
      // The consistent-hash exchange type exists only when its plugin is on.
      await ch.assertExchange("svc-test-hash", "x-consistent-hash", { autoDelete: true });
      await ch.bindQueue(q.queue, "svc-test-hash", "1");
      ch.publish("svc-test-hash", "some-key", Buffer.from("hello"));
      await ch.waitForConfirms();
      const msg = await ch.get(q.queue, { noAck: true });
      expect(msg && msg.content.toString()).toBe("hello");
    } finally {
      await conn.close();
    }
    const node = new RabbitMqNode({
      dir: inject("rabbitDir"),
      name: inject("rabbitNodeName").split("@")[0],
      cookie: inject("rabbitCookie"),
    });
    const plugins = await node.ctl(["list", "-e", "-m"], "rabbitmq-plugins");
    for (const p of ["rabbitmq_federation", "rabbitmq_shovel", "rabbitmq_prometheus"]) {
      expect(plugins).toContain(p);
    }
  });

  it("Redis answers and stores a value", async () => {
    const r = new Redis(inject("redisUrl"));
    try {
      await r.set("svc-test", "v", "EX", 10);
      expect(await r.get("svc-test")).toBe("v");
    } finally {
      r.disconnect();
    }
  });
});
