import { describe, expect, it } from "vitest";
import {
  BROKER_DEFAULTS,
  BrokerConfigError,
  brokerObjects,
  resolveBrokerSpec,
} from "../../../components/broker/brokerSpec.js";

const err = (input: unknown, region: string | null = "us-east-1"): string => {
  try {
    resolveBrokerSpec(input, "taskfleet:broker", region ?? undefined);
  } catch (e) {
    expect(e).toBeInstanceOf(BrokerConfigError);
    return (e as Error).message;
  }
  throw new Error("expected a BrokerConfigError");
};

describe("resolveBrokerSpec defaults", () => {
  it("an empty description gets the seed's values", () => {
    const s = resolveBrokerSpec({}, "taskfleet:broker", "us-east-1");
    expect(s.region).toBe("us-east-1");
    expect(s.nodes).toBe(5);
    expect(s.vhost).toBe("/");
    expect(s.memoryHighWatermark).toBe(0.6);
    expect(s.diskFreeLimitGiB).toBe(2);
    expect(s.fileDescriptorLimit).toBe(65536);
    expect(s.consumerTimeoutSeconds).toBe(1800);
    expect(s.tls.enabled).toBe(false);
    expect(s.sharding).toEqual({
      enabled: false,
      classes: ["default"],
      shardCount: 4,
      weights: [1, 1, 1, 1],
      hashHeader: null,
      hashProperty: null,
    });
    expect(s.users).toEqual({
      workers: "taskfleet-workers",
      producers: "taskfleet-producers",
      federation: "taskfleet-federation",
      monitoring: "taskfleet-monitoring",
    });
    expect(s.federation).toEqual([]);
    expect(s.queueClasses).toEqual([
      {
        name: "high_priority",
        exchange: "high_priority",
        routingKey: "high.#",
        queue: "high_priority",
        queueType: "quorum",
        maxLength: 100000,
        overflow: "reject-publish",
        messageTtlSeconds: 3600,
        deadLetterExchange: "high_priority.dlx",
        deadLetterQueue: "high_priority.dead",
        deliveryLimit: 20,
        maxPriority: null,
      },
      {
        name: "default",
        exchange: "default",
        routingKey: "default.#",
        queue: "default",
        queueType: "quorum",
        maxLength: 100000,
        overflow: "reject-publish",
        messageTtlSeconds: 3600,
        deadLetterExchange: "default.dlx",
        deadLetterQueue: "default.dead",
        deliveryLimit: 20,
        maxPriority: null,
      },
    ]);
    expect(Object.isFrozen(s)).toBe(true);
    expect(Object.isFrozen(BROKER_DEFAULTS.queueClass)).toBe(true);
  });

  it("the input's region wins over the stack region; user classes merge with the built-ins", () => {
    const s = resolveBrokerSpec(
      {
        region: "eu-west-1",
        nodes: 3,
        queueClasses: {
          reports: { queueType: "classic", maxPriority: 10, overflow: "reject-publish-dlx" },
          default: { maxLength: 500 },
        },
      },
      "taskfleet:broker",
      "us-east-1",
    );
    expect(s.region).toBe("eu-west-1");
    expect(s.queueClasses.map((q) => q.name)).toEqual(["high_priority", "default", "reports"]);
    expect(s.queueClasses[1]!.maxLength).toBe(500);
    expect(s.queueClasses[2]).toMatchObject({
      exchange: "reports",
      routingKey: "reports.#",
      queueType: "classic",
      maxPriority: 10,
      overflow: "reject-publish-dlx",
    });
  });

  it("brokerObjects lists exchanges and queues, shards replacing a sharded class's queue", () => {
    const s = resolveBrokerSpec({ sharding: { enabled: true, shardCount: 3 } }, "p", "us-east-1");
    const o = brokerObjects(s);
    expect(o.exchanges.map((e) => `${e.name}:${e.type}`)).toEqual([
      "high_priority:topic",
      "high_priority.dlx:fanout",
      "default:topic",
      "default.shards:x-consistent-hash",
      "default.dlx:fanout",
    ]);
    expect(o.queues.map((q) => `${q.name}:${q.kind}`)).toEqual([
      "high_priority:task",
      "high_priority.dead:dead-letter",
      "default.shard.0:shard",
      "default.shard.1:shard",
      "default.shard.2:shard",
      "default.dead:dead-letter",
    ]);
    expect(o.consumeQueues).toEqual({
      high_priority: ["high_priority"],
      default: ["default.shard.0", "default.shard.1", "default.shard.2"],
    });
  });
});

describe("resolveBrokerSpec errors name the field, the value and what is allowed", () => {
  it.each([
    [
      { nodes: 4 },
      "taskfleet:broker.nodes: 4 is even; use an odd count from 3 to 7 (5 recommended)",
    ],
    [
      { nodes: 9 },
      "taskfleet:broker.nodes: 9 is out of range; use an odd count from 3 to 7 (5 recommended)",
    ],
    [
      { nodes: 1 },
      "taskfleet:broker.nodes: 1 is out of range; use an odd count from 3 to 7 (5 recommended)",
    ],
    [
      { nodes: "5" },
      'taskfleet:broker.nodes: "5" is not a whole number; use an odd count from 3 to 7 (5 recommended)',
    ],
    [
      { nodez: 5 },
      "taskfleet:broker.nodez: unknown field; allowed: region, nodes, vhost, memoryHighWatermark, diskFreeLimitGiB, fileDescriptorLimit, consumerTimeoutSeconds, tls, queueClasses, sharding, users, federation",
    ],
    [
      { memoryHighWatermark: 0.95 },
      "taskfleet:broker.memoryHighWatermark: 0.95 is not allowed; use a number from 0.1 to 0.9",
    ],
    [
      { queueClasses: { default: { overflow: "reject-publish-dlx" } } },
      'taskfleet:broker.queueClasses.default.overflow: "reject-publish-dlx" is not supported by quorum queues; use "reject-publish" or "drop-head", or set queueType: classic',
    ],
    [
      { queueClasses: { default: { maxLength: 0 } } },
      "taskfleet:broker.queueClasses.default.maxLength: 0 is not allowed; use a positive integer (100000 recommended)",
    ],
    [
      { queueClasses: { default: { maxPriority: 5 } } },
      "taskfleet:broker.queueClasses.default.maxPriority: 5 needs queueType: classic (quorum queues have no x-max-priority)",
    ],
    [
      { queueClasses: { high_priority: { overflow: "drop-tail" } } },
      'taskfleet:broker.queueClasses.high_priority.overflow: "drop-tail" is not allowed; use one of reject-publish, reject-publish-dlx, drop-head',
    ],
    [
      { sharding: { enabled: true, shardCount: 0 } },
      "taskfleet:broker.sharding.shardCount: 0 is not allowed; use an integer from 1 to 64",
    ],
    [
      { sharding: { shardCount: 2, weights: [1, 2, 3] } },
      "taskfleet:broker.sharding.weights: [1,2,3] is not allowed; give one weight per shard (2 numbers)",
    ],
    [
      { sharding: { classes: ["bulk"] } },
      'taskfleet:broker.sharding.classes[0]: "bulk" is not a queue class; use one of high_priority, default',
    ],
    [
      { tls: { enabled: true, caCertFile: "/etc/ca.pem", certFile: "cert.pem" } },
      'taskfleet:broker.tls.certFile: "cert.pem" is not allowed; use an absolute file path on the node',
    ],
    [
      { tls: { enabled: true } },
      "taskfleet:broker.tls.caCertFile: missing; TLS is enabled, so give the absolute path of the file on the node",
    ],
    [
      { users: { workers: "guest" } },
      'taskfleet:broker.users: "guest" is not allowed as a user name; the default guest user is removed',
    ],
    [
      { federation: [{ region: "us-east-1", uris: ["amqp://a:5672"], queues: ["default"] }] },
      'taskfleet:broker.federation[0].region: "us-east-1" is this broker\'s own region; a link must name another region',
    ],
    [
      { federation: [{ region: "eu-west-1", uris: ["amqp://u:p@a:5672"], queues: ["default"] }] },
      'taskfleet:broker.federation[0].uris[0]: "amqp://u:p@a:5672" holds credentials; remove them (the federation password is passed as a secret)',
    ],
    [
      { federation: [{ region: "eu-west-1", uris: ["http://a"], queues: ["default"] }] },
      'taskfleet:broker.federation[0].uris[0]: "http://a" is not allowed; use an amqp:// or amqps:// URI',
    ],
    [
      { federation: [{ region: "eu-west-1", uris: ["amqp://a"] }] },
      "taskfleet:broker.federation[0]: federates nothing; list queue classes under queues and/or exchanges",
    ],
    [
      {
        federation: [
          { region: "eu-west-1", uris: ["amqp://a"], queues: ["default"], ackMode: "auto" },
        ],
      },
      'taskfleet:broker.federation[0].ackMode: "auto" is not allowed; use one of on-confirm, on-publish, no-ack',
    ],
    [
      {
        federation: [
          { region: "eu-west-1", uris: ["amqp://a"], queues: ["default"] },
          { region: "eu-west-1", uris: ["amqp://b"], exchanges: ["default"] },
        ],
      },
      'taskfleet:broker.federation[1].region: "eu-west-1" is linked twice; give one link per upstream region',
    ],
  ])("%j", (input, message) => {
    expect(err(input)).toBe(message);
  });

  it("a missing region is named", () => {
    expect(err({}, null)).toBe(
      "taskfleet:broker.region: missing; set taskfleet:region (or taskfleet:broker.region) to the region's name",
    );
  });
});
