import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  BrokerConfigError,
  buildDefinitions,
  federationRelinkCommands,
  postStartCommands,
  rabbitPasswordHash,
  renderBrokerFiles,
  resolveBrokerSpec,
} from "../../../components/broker/index.js";

const PASSWORDS = {
  workers: "w-password",
  producers: "p-password",
  federation: "f-password",
  monitoring: "m-password",
};
const SALT = Buffer.from([1, 2, 3, 4]);

const federated = resolveBrokerSpec(
  {
    sharding: { enabled: true, shardCount: 2, weights: [1, 3], hashHeader: "id" },
    federation: [
      {
        region: "us-east-1",
        uris: [
          "amqps://broker.us-east-1.example.com:5671",
          "amqps://broker2.us-east-1.example.com:5671/tasks",
        ],
        queues: ["default"],
        exchanges: ["high_priority"],
      },
    ],
  },
  "taskfleet:broker",
  "eu-west-1",
);
const defs = buildDefinitions(
  federated,
  { passwords: PASSWORDS, upstreamPasswords: { "us-east-1": "up/pass@word" } },
  { salt: () => SALT },
);

describe("rabbitPasswordHash", () => {
  it("is base64(salt ‖ sha256(salt ‖ password)) with a 4-byte salt", () => {
    const h = rabbitPasswordHash("w-password", SALT);
    expect(h).toBe("AQIDBMBAM+WyhJBZnVNlL8PHAubbHdC/ts3I4MtY8bUnF2zr");
    const raw = Buffer.from(h, "base64");
    expect(raw.subarray(0, 4)).toEqual(SALT);
    expect(raw.subarray(4)).toEqual(
      createHash("sha256")
        .update(Buffer.concat([SALT, Buffer.from("w-password")]))
        .digest(),
    );
    // random salts differ
    expect(rabbitPasswordHash("x")).not.toBe(rabbitPasswordHash("x"));
  });
});

describe("buildDefinitions", () => {
  it("one user per role, salted sha256, monitoring tagged, no guest", () => {
    expect(defs.users).toEqual([
      {
        name: "taskfleet-workers",
        password_hash: "AQIDBMBAM+WyhJBZnVNlL8PHAubbHdC/ts3I4MtY8bUnF2zr",
        hashing_algorithm: "rabbit_password_hashing_sha256",
        tags: [],
        limits: {},
      },
      {
        name: "taskfleet-producers",
        password_hash: "AQIDBK8IEMH8+jh766fbrmvJwmHCC4CDgWvzKGOejxXIHcSd",
        hashing_algorithm: "rabbit_password_hashing_sha256",
        tags: [],
        limits: {},
      },
      {
        name: "taskfleet-federation",
        password_hash: "AQIDBK/c2JYBBOJgebdEl9WTnv2HneWcGAeEfViD6TG8qylx",
        hashing_algorithm: "rabbit_password_hashing_sha256",
        tags: [],
        limits: {},
      },
      {
        name: "taskfleet-monitoring",
        password_hash: "AQIDBFC/dvOAznqykWE7ztr9T2ak5um9NFEfU6sS64cvuzRk",
        hashing_algorithm: "rabbit_password_hashing_sha256",
        tags: ["monitoring"],
        limits: {},
      },
    ]);
    expect(defs.vhosts).toEqual([{ name: "/" }]);
  });

  it("least-privilege permissions per role", () => {
    expect(defs.permissions).toEqual([
      {
        user: "taskfleet-workers",
        vhost: "/",
        configure:
          "^(high_priority|default\\.shard\\.0|default\\.shard\\.1|taskfleet\\.(delay|poison)(\\..*)?|amq\\.default|(reply\\.)?celery\\.pidbox|.+\\.celery\\.pidbox|celeryev(\\..*)?)$",
        write:
          "^(high_priority|default|taskfleet\\.(delay|poison)(\\..*)?|amq\\.default|(reply\\.)?celery\\.pidbox|.+\\.celery\\.pidbox|celeryev(\\..*)?)$",
        read: "^(high_priority|default\\.shard\\.0|default\\.shard\\.1|taskfleet\\.(delay|poison)(\\..*)?|amq\\.default|(reply\\.)?celery\\.pidbox|.+\\.celery\\.pidbox|celeryev(\\..*)?)$",
      },
      {
        user: "taskfleet-producers",
        vhost: "/",
        configure: "^$",
        write: "^(high_priority|default)$",
        read: "^$",
      },
      {
        user: "taskfleet-federation",
        vhost: "/",
        configure: "^federation: .*$",
        write: "^federation: .*$",
        read: "^(high_priority|default\\.shard\\.0|default\\.shard\\.1|default|federation: .*)$",
      },
      { user: "taskfleet-monitoring", vhost: "/", configure: "^$", write: "^$", read: "^$" },
    ]);
  });

  it("federation upstream with credentials from the secrets, on-confirm, and per-class upstream sets", () => {
    expect(defs.parameters).toEqual([
      {
        vhost: "/",
        component: "federation-upstream",
        name: "us-east-1",
        value: {
          uri: [
            "amqps://taskfleet-federation:up%2Fpass%40word@broker.us-east-1.example.com:5671/%2F",
            "amqps://taskfleet-federation:up%2Fpass%40word@broker2.us-east-1.example.com:5671/tasks",
          ],
          "ack-mode": "on-confirm",
          "prefetch-count": 1000,
          "reconnect-delay": 1,
          "max-hops": 1,
          "trust-user-id": false,
        },
      },
      {
        vhost: "/",
        component: "federation-upstream-set",
        name: "taskfleet-high_priority-exchanges",
        value: [{ upstream: "us-east-1" }],
      },
      {
        vhost: "/",
        component: "federation-upstream-set",
        name: "taskfleet-default-queues",
        value: [{ upstream: "us-east-1" }],
      },
    ]);
  });

  it("class policies carry limits, TTL, dead-lettering and federation", () => {
    expect(defs.policies).toEqual([
      {
        vhost: "/",
        name: "taskfleet-high_priority",
        pattern: "^high_priority$",
        "apply-to": "queues",
        priority: 10,
        definition: {
          "max-length": 100000,
          overflow: "reject-publish",
          "message-ttl": 3600000,
          "dead-letter-exchange": "high_priority.dlx",
          "delivery-limit": 20,
          "dead-letter-strategy": "at-least-once",
        },
      },
      {
        vhost: "/",
        name: "taskfleet-high_priority-exchange",
        pattern: "^(high_priority)$",
        "apply-to": "exchanges",
        priority: 10,
        definition: { "federation-upstream-set": "taskfleet-high_priority-exchanges" },
      },
      {
        vhost: "/",
        name: "taskfleet-default",
        pattern: "^default\\.shard\\.\\d+$",
        "apply-to": "queues",
        priority: 10,
        definition: {
          "max-length": 100000,
          overflow: "reject-publish",
          "message-ttl": 3600000,
          "dead-letter-exchange": "default.dlx",
          "delivery-limit": 20,
          "dead-letter-strategy": "at-least-once",
          "federation-upstream-set": "taskfleet-default-queues",
        },
      },
    ]);
  });

  it("exchanges, quorum queues, weighted shard bindings and dead-letter bindings", () => {
    expect(defs.exchanges.map((e) => [e.name, e.type, e.arguments])).toEqual([
      ["high_priority", "topic", {}],
      ["high_priority.dlx", "fanout", {}],
      ["default", "topic", {}],
      ["default.shards", "x-consistent-hash", { "hash-header": "id" }],
      ["default.dlx", "fanout", {}],
    ]);
    expect(defs.queues.map((q) => [q.name, q.arguments])).toEqual([
      ["high_priority", { "x-queue-type": "quorum" }],
      ["high_priority.dead", { "x-queue-type": "quorum" }],
      ["default.shard.0", { "x-queue-type": "quorum" }],
      ["default.shard.1", { "x-queue-type": "quorum" }],
      ["default.dead", { "x-queue-type": "quorum" }],
    ]);
    expect(
      defs.bindings.map(
        (b) => `${b.source} -> ${b.destination} (${b.destination_type}) ${b.routing_key}`,
      ),
    ).toEqual([
      "high_priority -> high_priority (queue) high.#",
      "high_priority.dlx -> high_priority.dead (queue) ",
      "default -> default.shards (exchange) default.#",
      "default.shards -> default.shard.0 (queue) 1",
      "default.shards -> default.shard.1 (queue) 3",
      "default.dlx -> default.dead (queue) ",
    ]);
  });

  it("classic priority queues get x-max-priority; drop-head drops the at-least-once strategy", () => {
    const spec = resolveBrokerSpec(
      {
        queueClasses: {
          high_priority: { queueType: "classic", maxPriority: 10, overflow: "reject-publish-dlx" },
          default: { overflow: "drop-head" },
        },
      },
      "taskfleet:broker",
      "us-east-1",
    );
    const d = buildDefinitions(spec, { passwords: PASSWORDS });
    expect(d.queues.map((q) => [q.name, q.arguments])).toEqual([
      ["high_priority", { "x-queue-type": "classic", "x-max-priority": 10 }],
      ["high_priority.dead", { "x-queue-type": "classic" }],
      ["default", { "x-queue-type": "quorum" }],
      ["default.dead", { "x-queue-type": "quorum" }],
    ]);
    expect(d.policies.map((p) => p.definition)).toEqual([
      {
        "max-length": 100000,
        overflow: "reject-publish-dlx",
        "message-ttl": 3600000,
        "dead-letter-exchange": "high_priority.dlx",
      },
      {
        "max-length": 100000,
        overflow: "drop-head",
        "message-ttl": 3600000,
        "dead-letter-exchange": "default.dlx",
        "delivery-limit": 20,
      },
    ]);
  });

  it("missing secrets are named", () => {
    expect(() =>
      buildDefinitions(federated, { passwords: PASSWORDS }, { salt: () => SALT }),
    ).toThrow(
      new BrokerConfigError(
        "credentials.upstreamPasswords.us-east-1",
        'missing; federation[0] links to "us-east-1", so give the password of "taskfleet-federation" there',
      ),
    );
    expect(() =>
      buildDefinitions(federated, { passwords: { ...PASSWORDS, workers: "short" } }),
    ).toThrow("credentials.passwords.workers: too short; give a password of at least 8 characters");
  });

  it("federationRelinkCommands shadows each federated queue policy, then removes the shadow", () => {
    expect(federationRelinkCommands(federated)).toEqual([
      [
        "set_policy",
        "--vhost",
        "/",
        "--apply-to",
        "queues",
        "--priority",
        "11",
        "taskfleet-default-relink",
        "^default\\.shard\\.\\d+$",
        '{"max-length":100000,"overflow":"reject-publish","message-ttl":3600000,"dead-letter-exchange":"default.dlx","delivery-limit":20,"dead-letter-strategy":"at-least-once"}',
      ],
      ["clear_policy", "--vhost", "/", "taskfleet-default-relink"],
    ]);
    expect(federationRelinkCommands(resolveBrokerSpec({}, "p", "us-east-1"))).toEqual([]);
  });

  it("postStartCommands: grow each joined node, then relink federated queues", () => {
    expect(postStartCommands(federated, ["rabbit@b", "rabbit@c"])).toEqual([
      { tool: "rabbitmq-queues", args: ["grow", "rabbit@b", "all"] },
      { tool: "rabbitmq-queues", args: ["grow", "rabbit@c", "all"] },
      ...federationRelinkCommands(federated).map((args) => ({ tool: "rabbitmqctl", args })),
    ]);
    expect(postStartCommands(resolveBrokerSpec({}, "p", "us-east-1"))).toEqual([]);
  });

  it("renderBrokerFiles gives the three files", () => {
    const files = renderBrokerFiles(
      federated,
      { passwords: PASSWORDS, upstreamPasswords: { "us-east-1": "x" } },
      { listeners: false },
    );
    expect(Object.keys(files)).toEqual(["rabbitmq.conf", "enabled_plugins", "definitions.json"]);
    expect(JSON.parse(files["definitions.json"]).queues).toHaveLength(5);
  });
});
