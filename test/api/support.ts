/**
 * What the API suites share: two clients with fixed tokens, "alice" (every task) and "bob" (only
 * bob.*), as a tokens file lists them; and a task API on the shared RabbitMQ and Redis with its
 * own exchange and queues.
 */
import { randomUUID } from "node:crypto";
import { inject } from "vitest";
import { connect, type Channel, type ChannelModel } from "amqplib";
import { TaskApi, type TaskApiOptions } from "../../worker-runtime/src/api/server.js";
import { BrokerGateway, type TaskGateway } from "../../worker-runtime/src/api/gateway.js";
import type { ApiRouting } from "../../worker-runtime/src/api/validate.js";
import { ApiState } from "../../worker-runtime/src/api/state.js";
import { ClientRegistry, sha256Hex } from "../../worker-runtime/src/api/auth.js";

const TOKENS: Record<string, { token: string; globs: string }> = {
  alice: { token: "tf_alice-test-token-0123456789abcdef", globs: "*" },
  bob: { token: "tf_bob-test-token-0123456789abcdef", globs: "bob.*" },
};

export function tokenOf(client: keyof typeof TOKENS): string {
  return TOKENS[client]!.token;
}

/** The tokens file's text for the suites' clients. */
export function tokensFileText(): string {
  return Object.entries(TOKENS)
    .map(([id, t]) => `${id} ${sha256Hex(t.token)} ${t.globs}`)
    .join("\n");
}

export function clients(): ClientRegistry {
  return ClientRegistry.fromText(tokensFileText());
}

export interface Answer {
  status: number;
  json: Record<string, unknown>;
  headers: Headers;
}

/**
 * A task API on the shared RabbitMQ and Redis with its own topic exchange and queues: `default`
 * (unbounded) and `tiny` (max-length 5, reject-publish) for refusals.
 */
export class ApiFixture {
  readonly tag = `api-${randomUUID().slice(0, 8)}`;
  readonly queues = { default: `${this.tag}.default`, tiny: `${this.tag}.tiny` };
  readonly routing: ApiRouting = {
    queues: {
      default: { exchange: this.tag, routingKeyPrefix: "default" },
      tiny: { exchange: this.tag, routingKeyPrefix: "tiny" },
    },
    priorities: { default: "default" },
    defaultQueue: "default",
  };
  api!: TaskApi;
  base = "";
  private conn!: ChannelModel;
  ch!: Channel;

  async start(
    opts: Partial<TaskApiOptions> & {
      wrapGateway?: (g: TaskGateway) => TaskGateway;
      /** Lease of a pending idempotency key, ms. @default ApiState's */
      leaseMs?: number;
    } = {},
  ): Promise<this> {
    this.conn = await connect(inject("amqpUrl"));
    this.ch = await this.conn.createChannel();
    await this.ch.assertExchange(this.tag, "topic", { durable: false });
    await this.ch.assertQueue(this.queues.default, { durable: true });
    await this.ch.bindQueue(this.queues.default, this.tag, "default.#");
    await this.ch.assertQueue(this.queues.tiny, {
      durable: true,
      arguments: { "x-max-length": 5, "x-overflow": "reject-publish" },
    });
    await this.ch.bindQueue(this.queues.tiny, this.tag, "tiny.#");
    const gateway = new BrokerGateway({
      brokerUrl: inject("amqpUrl"),
      backendUrl: inject("redisUrl"),
      region: "fx",
    });
    const { wrapGateway, leaseMs, ...rest } = opts;
    this.api = new TaskApi({
      gateway: wrapGateway ? wrapGateway(gateway) : gateway,
      ...(leaseMs ? { state: new ApiState(() => gateway.redis(), { leaseMs }) } : {}),
      routing: this.routing,
      region: "fx",
      clients: clients(),
      log: () => undefined,
      ...rest,
    });
    this.base = `http://127.0.0.1:${await this.api.listen(0)}`;
    return this;
  }

  async request(
    method: string,
    path: string,
    o: {
      client?: string | null;
      token?: string;
      body?: unknown;
      headers?: Record<string, string>;
    } = {},
  ): Promise<Answer> {
    const token = o.token ?? (o.client === null ? undefined : tokenOf(o.client ?? "alice"));
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        ...(o.body !== undefined ? { "content-type": "application/json" } : {}),
        ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
        ...(o.headers ?? {}),
      },
      ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
    });
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      json = { text };
    }
    return { status: res.status, json, headers: res.headers };
  }

  post(
    body: unknown,
    o: { client?: string; headers?: Record<string, string> } = {},
  ): Promise<Answer> {
    return this.request("POST", "/v1/tasks", { ...o, body });
  }

  batch(
    tasks: unknown[],
    o: { client?: string; headers?: Record<string, string> } = {},
  ): Promise<Answer> {
    return this.request("POST", "/v1/tasks/batch", { ...o, body: { tasks } });
  }

  /** Task ids (correlation ids) the broker holds in `queue`, taking them off the queue. */
  async drain(queue: string): Promise<string[]> {
    const ids: string[] = [];
    for (
      let m = await this.ch.get(queue, { noAck: true });
      m;
      m = await this.ch.get(queue, { noAck: true })
    ) {
      ids.push(String(m.properties.correlationId));
    }
    return ids;
  }

  async stop(): Promise<void> {
    await this.api?.close();
    for (const q of Object.values(this.queues))
      await this.ch?.deleteQueue(q).catch(() => undefined);
    await this.ch?.deleteExchange(this.tag).catch(() => undefined);
    await this.conn?.close().catch(() => undefined);
  }
}

/** A gateway whose publishes first wait for `hold(id)` (faults a real broker does not make on demand). */
export function holdingGateway(
  g: TaskGateway,
  hold: (ids: string[]) => Promise<void>,
  seen: string[] = [],
): TaskGateway {
  return {
    publish: async (item) => {
      seen.push(item.id);
      await hold([item.id]);
      return g.publish(item);
    },
    publishMany: async (items) => {
      seen.push(...items.map((i) => i.id));
      await hold(items.map((i) => i.id));
      return g.publishMany(items);
    },
    status: (id) => g.status(id),
    check: () => g.check(),
    redis: () => g.redis(),
    close: () => g.close(),
  };
}
