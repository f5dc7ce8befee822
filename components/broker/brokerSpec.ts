/**
 * The typed description of one region's broker (seed S8, S12–S21, S26, S40): what users write in
 * stack config under `taskfleet:broker` (`BrokerSpecInput`), the resolved form every generator
 * takes (`BrokerSpec`), the defaults (`BROKER_DEFAULTS`) and the validation
 * (`resolveBrokerSpec`). Pure: no I/O, no Pulumi.
 */

/** Queue implementations this kit uses. Classic only where a feature needs it (`maxPriority`). */
export type QueueType = "quorum" | "classic";

/** What a full queue does with a new message (RabbitMQ `overflow`). */
export type OverflowMode = "reject-publish" | "reject-publish-dlx" | "drop-head";

/** When a federation link acknowledges a message to its upstream. */
export type FederationAckMode = "on-confirm" | "on-publish" | "no-ack";

/** Message property the consistent-hash exchange hashes instead of the routing key. */
export type HashProperty = "message_id" | "correlation_id" | "timestamp";

/** The roles that get one broker user each. */
export type BrokerRole = "workers" | "producers" | "federation" | "monitoring";

export const BROKER_ROLES: readonly BrokerRole[] = Object.freeze([
  "workers",
  "producers",
  "federation",
  "monitoring",
]);

/** One class of task queue (seed S26), as written in stack config. */
export interface QueueClassInput {
  /** Exchange (type `topic`) producers publish this class to. @default the class name */
  exchange?: string;
  /** Binding key from the exchange to the queue. @default `<class name>.#` (`high.#` for `high_priority`) */
  routingKey?: string;
  /** Queue name workers consume (`-Q`). @default the class name */
  queue?: string;
  /** `quorum` (replicated, Raft) or `classic` (needed for `maxPriority`). @default "quorum" */
  queueType?: QueueType;
  /** Ready messages the queue holds before `overflow` applies (S20). @default 100000 */
  maxLength?: number;
  /** What happens past `maxLength`. `reject-publish-dlx` is classic-only. @default "reject-publish" */
  overflow?: OverflowMode;
  /** Seconds a message may wait before it is dead-lettered (S21). @default 3600 */
  messageTtlSeconds?: number;
  /** Exchange (type `fanout`) that receives expired and rejected messages. @default `<queue>.dlx` */
  deadLetterExchange?: string;
  /** Queue bound to the dead-letter exchange. @default `<queue>.dead` */
  deadLetterQueue?: string;
  /** Deliveries before a quorum-queue message is dead-lettered (poison guard). @default 20 */
  deliveryLimit?: number;
  /** Highest message priority (`x-max-priority`, 1–255); requires `queueType: classic`. @default none */
  maxPriority?: number;
}

/** Consistent-hash sharding of queue classes over N shard queues (seed S14). */
export interface ShardingInput {
  /** @default false */
  enabled?: boolean;
  /** Queue classes to shard. @default ["default"] */
  classes?: string[];
  /** Shard queues per sharded class, 1–64. @default 4 */
  shardCount?: number;
  /** Relative weight of each shard (binding weight, integer 1–1000); length = shardCount. @default all 1 */
  weights?: number[];
  /** Hash this header instead of the routing key (e.g. `id`, the Celery task id). @default none */
  hashHeader?: string;
  /** Hash this property instead of the routing key. @default none */
  hashProperty?: HashProperty;
}

/** TLS for client listeners (5671) and management (15671). */
export interface TlsInput {
  /** @default false */
  enabled?: boolean;
  /** Absolute path of the CA bundle on the node. Required when enabled. */
  caCertFile?: string;
  /** Absolute path of the server certificate on the node. Required when enabled. */
  certFile?: string;
  /** Absolute path of the server private key on the node. Required when enabled. */
  keyFile?: string;
  /** Verify client certificates (`verify_peer`). @default true */
  verifyPeer?: boolean;
  /** Refuse clients without a certificate. @default false */
  failIfNoPeerCert?: boolean;
  /** Turn off the plain AMQP listener (5672). @default true */
  disablePlainListener?: boolean;
}

/** One federation link: this region pulls from `region` (seed S8, S12). */
export interface FederationLinkInput {
  /** The upstream region's name; must differ from this broker's region. */
  region: string;
  /**
   * Upstream AMQP URIs (`amqp://host:5672` or `amqps://host:5671`, optional vhost path), all of
   * one upstream cluster, without credentials: the federation user's password comes from the
   * generator's `credentials` argument.
   */
  uris: string[];
  /** Queue classes federated from the upstream (work stealing: moved only when idle here). @default [] */
  queues?: string[];
  /** Queue classes whose exchanges are federated (every message copied). @default [] */
  exchanges?: string[];
  /** @default "on-confirm" */
  ackMode?: FederationAckMode;
  /** Hops a federated-exchange message may travel. @default 1 */
  maxHops?: number;
  /** Unacknowledged messages in flight on the link. @default 1000 */
  prefetchCount?: number;
  /** Seconds between reconnect attempts after the link fails. @default 1 */
  reconnectDelaySeconds?: number;
  /** User this region logs in as at the upstream. @default the federation user name (`users.federation`) */
  username?: string;
}

/** A region's broker as written in stack config under `taskfleet:broker`. */
export interface BrokerSpecInput {
  /** Region name; usually taken from `taskfleet:region`. */
  region?: string;
  /** Cluster nodes: odd, 3–7 (S13, S15). @default 5 */
  nodes?: number;
  /** Virtual host of the task system. @default "/" */
  vhost?: string;
  /** `vm_memory_high_watermark.relative`, 0.1–0.9 (S17). @default 0.6 */
  memoryHighWatermark?: number;
  /** Free disk below which publishers are blocked, GiB. @default 2 */
  diskFreeLimitGiB?: number;
  /** Open-files limit of the node process, `ulimit -n` (S16), 1024–1048576. @default 65536 */
  fileDescriptorLimit?: number;
  /** Seconds a consumer may hold a delivery unacknowledged (`consumer_timeout`). @default 1800 */
  consumerTimeoutSeconds?: number;
  /** @default { enabled: false } */
  tls?: TlsInput;
  /** Queue classes by name; `high_priority` and `default` always exist (S26). */
  queueClasses?: Record<string, QueueClassInput>;
  /** @default { enabled: false } */
  sharding?: ShardingInput;
  /** User names per role; passwords are never in config. */
  users?: Partial<Record<BrokerRole, string>>;
  /** Upstream regions this region federates from. @default [] */
  federation?: FederationLinkInput[];
}

export interface QueueClass {
  readonly name: string;
  readonly exchange: string;
  readonly routingKey: string;
  readonly queue: string;
  readonly queueType: QueueType;
  readonly maxLength: number;
  readonly overflow: OverflowMode;
  readonly messageTtlSeconds: number;
  readonly deadLetterExchange: string;
  readonly deadLetterQueue: string;
  readonly deliveryLimit: number;
  readonly maxPriority: number | null;
}

export interface Sharding {
  readonly enabled: boolean;
  readonly classes: readonly string[];
  readonly shardCount: number;
  readonly weights: readonly number[];
  readonly hashHeader: string | null;
  readonly hashProperty: HashProperty | null;
}

export interface Tls {
  readonly enabled: boolean;
  readonly caCertFile: string | null;
  readonly certFile: string | null;
  readonly keyFile: string | null;
  readonly verifyPeer: boolean;
  readonly failIfNoPeerCert: boolean;
  readonly disablePlainListener: boolean;
}

export interface FederationLink {
  readonly region: string;
  readonly uris: readonly string[];
  readonly queues: readonly string[];
  readonly exchanges: readonly string[];
  readonly ackMode: FederationAckMode;
  readonly maxHops: number;
  readonly prefetchCount: number;
  readonly reconnectDelaySeconds: number;
  readonly username: string;
}

/** A validated broker description with every default applied. */
export interface BrokerSpec {
  readonly region: string;
  readonly nodes: number;
  readonly vhost: string;
  readonly memoryHighWatermark: number;
  readonly diskFreeLimitGiB: number;
  readonly fileDescriptorLimit: number;
  readonly consumerTimeoutSeconds: number;
  readonly tls: Tls;
  /** In a stable order: `high_priority`, `default`, then the others by name. */
  readonly queueClasses: readonly QueueClass[];
  readonly sharding: Sharding;
  readonly users: Readonly<Record<BrokerRole, string>>;
  readonly federation: readonly FederationLink[];
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object") {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** The defaults, in one place (seed values where the seed gives one). */
export const BROKER_DEFAULTS = deepFreeze({
  nodes: 5,
  vhost: "/",
  memoryHighWatermark: 0.6,
  diskFreeLimitGiB: 2,
  fileDescriptorLimit: 65536,
  consumerTimeoutSeconds: 1800,
  tls: {
    enabled: false,
    verifyPeer: true,
    failIfNoPeerCert: false,
    disablePlainListener: true,
  },
  queueClass: {
    queueType: "quorum" as QueueType,
    maxLength: 100_000,
    overflow: "reject-publish" as OverflowMode,
    messageTtlSeconds: 3600,
    deliveryLimit: 20,
  },
  /** Routing keys of the built-in classes (S26). */
  builtinClasses: { high_priority: { routingKey: "high.#" }, default: { routingKey: "default.#" } },
  sharding: { enabled: false, classes: ["default"], shardCount: 4, weight: 1 },
  users: {
    workers: "taskfleet-workers",
    producers: "taskfleet-producers",
    federation: "taskfleet-federation",
    monitoring: "taskfleet-monitoring",
  },
  federation: {
    ackMode: "on-confirm" as FederationAckMode,
    maxHops: 1,
    prefetchCount: 1000,
    reconnectDelaySeconds: 1,
  },
});

/** Invalid broker description; the message names the field as written, the value and what is allowed. */
export class BrokerConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = "BrokerConfigError";
  }
}

// ---------------------------------------------------------------------------------------------
// validation helpers

const show = (v: unknown): string =>
  typeof v === "string" ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));

function fail(field: string, message: string): never {
  throw new BrokerConfigError(field, message);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function checkKeys(obj: Record<string, unknown>, path: string, allowed: readonly string[]): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) fail(`${path}.${k}`, `unknown field; allowed: ${allowed.join(", ")}`);
  }
}

function objectAt(v: unknown, path: string): Record<string, unknown> {
  if (!isObject(v)) fail(path, `${show(v)} is not an object`);
  return v;
}

function intAt(v: unknown, path: string, min: number, max: number, what = "an integer"): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    fail(path, `${show(v)} is not allowed; use ${what} from ${min} to ${max}`);
  }
  return v;
}

function numAt(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) {
    fail(path, `${show(v)} is not allowed; use a number from ${min} to ${max}`);
  }
  return v;
}

function boolAt(v: unknown, path: string): boolean {
  if (typeof v !== "boolean") fail(path, `${show(v)} is not allowed; use true or false`);
  return v;
}

function oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[]): T {
  if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) {
    fail(path, `${show(v)} is not allowed; use one of ${allowed.join(", ")}`);
  }
  return v as T;
}

/** AMQP names: printable ASCII without spaces, 1–200 characters (RabbitMQ allows 255 bytes). */
const AMQP_NAME = /^[A-Za-z0-9_.:\-#*]{1,200}$/;

function nameAt(v: unknown, path: string): string {
  if (typeof v !== "string" || !AMQP_NAME.test(v)) {
    fail(path, `${show(v)} is not allowed; use 1–200 characters from A–Z a–z 0–9 _ . : -`);
  }
  return v;
}

function absPathAt(v: unknown, path: string): string {
  if (typeof v !== "string" || !v.startsWith("/")) {
    fail(path, `${show(v)} is not allowed; use an absolute file path on the node`);
  }
  return v;
}

function stringListAt(v: unknown, path: string): string[] {
  if (!Array.isArray(v)) fail(path, `${show(v)} is not a list`);
  return v.map((x, i) => {
    if (typeof x !== "string") fail(`${path}[${i}]`, `${show(x)} is not a string`);
    return x;
  });
}

const REGION = /^[a-z][a-z0-9-]{0,62}$/;
const CLASS_NAME = /^[a-z][a-z0-9_]{0,62}$/;

// ---------------------------------------------------------------------------------------------

function resolveQueueClass(name: string, raw: unknown, path: string): QueueClass {
  const o = raw === undefined || raw === null ? {} : objectAt(raw, path);
  checkKeys(o, path, [
    "exchange",
    "routingKey",
    "queue",
    "queueType",
    "maxLength",
    "overflow",
    "messageTtlSeconds",
    "deadLetterExchange",
    "deadLetterQueue",
    "deliveryLimit",
    "maxPriority",
  ]);
  const d = BROKER_DEFAULTS.queueClass;
  const builtin = (BROKER_DEFAULTS.builtinClasses as Record<string, { routingKey: string }>)[name];
  const exchange = o.exchange === undefined ? name : nameAt(o.exchange, `${path}.exchange`);
  const routingKey =
    o.routingKey === undefined
      ? (builtin?.routingKey ?? `${name}.#`)
      : nameAt(o.routingKey, `${path}.routingKey`);
  const queue = o.queue === undefined ? name : nameAt(o.queue, `${path}.queue`);
  const queueType =
    o.queueType === undefined
      ? d.queueType
      : oneOf(o.queueType, `${path}.queueType`, ["quorum", "classic"]);
  const maxLength =
    o.maxLength === undefined
      ? d.maxLength
      : typeof o.maxLength === "number" && Number.isInteger(o.maxLength) && o.maxLength <= 0
        ? fail(
            `${path}.maxLength`,
            `${o.maxLength} is not allowed; use a positive integer (100000 recommended)`,
          )
        : intAt(o.maxLength, `${path}.maxLength`, 1, 100_000_000, "a positive integer");
  const overflow =
    o.overflow === undefined
      ? d.overflow
      : oneOf(o.overflow, `${path}.overflow`, [
          "reject-publish",
          "reject-publish-dlx",
          "drop-head",
        ]);
  if (overflow === "reject-publish-dlx" && queueType === "quorum") {
    fail(
      `${path}.overflow`,
      `"reject-publish-dlx" is not supported by quorum queues; use "reject-publish" or "drop-head", or set queueType: classic`,
    );
  }
  const messageTtlSeconds =
    o.messageTtlSeconds === undefined
      ? d.messageTtlSeconds
      : intAt(o.messageTtlSeconds, `${path}.messageTtlSeconds`, 1, 31_536_000, "whole seconds");
  const deadLetterExchange =
    o.deadLetterExchange === undefined
      ? `${queue}.dlx`
      : nameAt(o.deadLetterExchange, `${path}.deadLetterExchange`);
  const deadLetterQueue =
    o.deadLetterQueue === undefined
      ? `${queue}.dead`
      : nameAt(o.deadLetterQueue, `${path}.deadLetterQueue`);
  const deliveryLimit =
    o.deliveryLimit === undefined
      ? d.deliveryLimit
      : intAt(o.deliveryLimit, `${path}.deliveryLimit`, 1, 1000);
  let maxPriority: number | null = null;
  if (o.maxPriority !== undefined) {
    maxPriority = intAt(o.maxPriority, `${path}.maxPriority`, 1, 255);
    if (queueType !== "classic") {
      fail(
        `${path}.maxPriority`,
        `${maxPriority} needs queueType: classic (quorum queues have no x-max-priority)`,
      );
    }
  }
  return {
    name,
    exchange,
    routingKey,
    queue,
    queueType,
    maxLength,
    overflow,
    messageTtlSeconds,
    deadLetterExchange,
    deadLetterQueue,
    deliveryLimit,
    maxPriority,
  };
}

function resolveTls(raw: unknown, path: string): Tls {
  const o = raw === undefined ? {} : objectAt(raw, path);
  checkKeys(o, path, [
    "enabled",
    "caCertFile",
    "certFile",
    "keyFile",
    "verifyPeer",
    "failIfNoPeerCert",
    "disablePlainListener",
  ]);
  const d = BROKER_DEFAULTS.tls;
  const enabled = o.enabled === undefined ? d.enabled : boolAt(o.enabled, `${path}.enabled`);
  const file = (k: "caCertFile" | "certFile" | "keyFile"): string | null => {
    if (o[k] === undefined) {
      if (enabled)
        fail(
          `${path}.${k}`,
          `missing; TLS is enabled, so give the absolute path of the file on the node`,
        );
      return null;
    }
    return absPathAt(o[k], `${path}.${k}`);
  };
  return {
    enabled,
    caCertFile: file("caCertFile"),
    certFile: file("certFile"),
    keyFile: file("keyFile"),
    verifyPeer:
      o.verifyPeer === undefined ? d.verifyPeer : boolAt(o.verifyPeer, `${path}.verifyPeer`),
    failIfNoPeerCert:
      o.failIfNoPeerCert === undefined
        ? d.failIfNoPeerCert
        : boolAt(o.failIfNoPeerCert, `${path}.failIfNoPeerCert`),
    disablePlainListener:
      o.disablePlainListener === undefined
        ? d.disablePlainListener
        : boolAt(o.disablePlainListener, `${path}.disablePlainListener`),
  };
}

function resolveSharding(raw: unknown, path: string, classNames: readonly string[]): Sharding {
  const o = raw === undefined ? {} : objectAt(raw, path);
  checkKeys(o, path, ["enabled", "classes", "shardCount", "weights", "hashHeader", "hashProperty"]);
  const d = BROKER_DEFAULTS.sharding;
  const enabled = o.enabled === undefined ? d.enabled : boolAt(o.enabled, `${path}.enabled`);
  const classes =
    o.classes === undefined ? [...d.classes] : stringListAt(o.classes, `${path}.classes`);
  classes.forEach((c, i) => {
    if (!classNames.includes(c)) {
      fail(
        `${path}.classes[${i}]`,
        `${show(c)} is not a queue class; use one of ${classNames.join(", ")}`,
      );
    }
  });
  if (enabled && classes.length === 0)
    fail(`${path}.classes`, `[] shards nothing; name at least one queue class`);
  const shardCount =
    o.shardCount === undefined ? d.shardCount : intAt(o.shardCount, `${path}.shardCount`, 1, 64);
  let weights: number[];
  if (o.weights === undefined) weights = Array.from({ length: shardCount }, () => d.weight);
  else {
    if (!Array.isArray(o.weights) || o.weights.length !== shardCount) {
      fail(
        `${path}.weights`,
        `${show(o.weights)} is not allowed; give one weight per shard (${shardCount} numbers)`,
      );
    }
    weights = o.weights.map((w, i) => intAt(w, `${path}.weights[${i}]`, 1, 1000));
  }
  const hashHeader = o.hashHeader === undefined ? null : nameAt(o.hashHeader, `${path}.hashHeader`);
  const hashProperty =
    o.hashProperty === undefined
      ? null
      : oneOf(o.hashProperty, `${path}.hashProperty`, [
          "message_id",
          "correlation_id",
          "timestamp",
        ]);
  if (hashHeader !== null && hashProperty !== null) {
    fail(
      `${path}.hashProperty`,
      `${show(hashProperty)} conflicts with hashHeader; set at most one of the two`,
    );
  }
  return { enabled, classes, shardCount, weights, hashHeader, hashProperty };
}

function resolveLink(
  raw: unknown,
  path: string,
  ctx: { region: string; classNames: readonly string[]; federationUser: string },
): FederationLink {
  const o = objectAt(raw, path);
  checkKeys(o, path, [
    "region",
    "uris",
    "queues",
    "exchanges",
    "ackMode",
    "maxHops",
    "prefetchCount",
    "reconnectDelaySeconds",
    "username",
  ]);
  if (o.region === undefined) fail(`${path}.region`, `missing; give the upstream region's name`);
  if (typeof o.region !== "string" || !REGION.test(o.region)) {
    fail(
      `${path}.region`,
      `${show(o.region)} is not allowed; use a region name such as "eu-west-1"`,
    );
  }
  const region = o.region;
  if (region === ctx.region) {
    fail(
      `${path}.region`,
      `${show(region)} is this broker's own region; a link must name another region`,
    );
  }
  if (o.uris === undefined)
    fail(`${path}.uris`, `missing; give at least one upstream URI (amqp:// or amqps://)`);
  const uris = stringListAt(o.uris, `${path}.uris`);
  if (uris.length === 0)
    fail(`${path}.uris`, `[] is empty; give at least one upstream URI (amqp:// or amqps://)`);
  uris.forEach((u, i) => {
    const p = `${path}.uris[${i}]`;
    let url: URL;
    try {
      url = new URL(u);
    } catch {
      fail(p, `${show(u)} is not a URI; use amqp://host:5672 or amqps://host:5671`);
    }
    if (url.protocol !== "amqp:" && url.protocol !== "amqps:") {
      fail(p, `${show(u)} is not allowed; use an amqp:// or amqps:// URI`);
    }
    if (url.username || url.password) {
      fail(
        p,
        `${show(u)} holds credentials; remove them (the federation password is passed as a secret)`,
      );
    }
  });
  const classList = (k: "queues" | "exchanges"): string[] => {
    if (o[k] === undefined) return [];
    const list = stringListAt(o[k], `${path}.${k}`);
    list.forEach((c, i) => {
      if (!ctx.classNames.includes(c)) {
        fail(
          `${path}.${k}[${i}]`,
          `${show(c)} is not a queue class; use one of ${ctx.classNames.join(", ")}`,
        );
      }
    });
    return list;
  };
  const queues = classList("queues");
  const exchanges = classList("exchanges");
  if (queues.length === 0 && exchanges.length === 0) {
    fail(path, `federates nothing; list queue classes under queues and/or exchanges`);
  }
  const d = BROKER_DEFAULTS.federation;
  return {
    region,
    uris,
    queues,
    exchanges,
    ackMode:
      o.ackMode === undefined
        ? d.ackMode
        : oneOf(o.ackMode, `${path}.ackMode`, ["on-confirm", "on-publish", "no-ack"]),
    maxHops: o.maxHops === undefined ? d.maxHops : intAt(o.maxHops, `${path}.maxHops`, 1, 10),
    prefetchCount:
      o.prefetchCount === undefined
        ? d.prefetchCount
        : intAt(o.prefetchCount, `${path}.prefetchCount`, 1, 65535),
    reconnectDelaySeconds:
      o.reconnectDelaySeconds === undefined
        ? d.reconnectDelaySeconds
        : intAt(o.reconnectDelaySeconds, `${path}.reconnectDelaySeconds`, 1, 3600, "whole seconds"),
    username:
      o.username === undefined ? ctx.federationUser : nameAt(o.username, `${path}.username`),
  };
}

/**
 * Validates a broker description as written in stack config and applies the defaults.
 * `path` is how the user wrote the key (used in messages); `region` is used when the input has
 * none (stack config keeps it in `taskfleet:region`).
 * @throws BrokerConfigError naming the field, the value and what is allowed.
 */
export function resolveBrokerSpec(
  input: unknown,
  path = "taskfleet:broker",
  region?: string,
): BrokerSpec {
  const o = input === undefined || input === null ? {} : objectAt(input, path);
  checkKeys(o, path, [
    "region",
    "nodes",
    "vhost",
    "memoryHighWatermark",
    "diskFreeLimitGiB",
    "fileDescriptorLimit",
    "consumerTimeoutSeconds",
    "tls",
    "queueClasses",
    "sharding",
    "users",
    "federation",
  ]);
  const d = BROKER_DEFAULTS;
  let reg: string;
  if (o.region !== undefined) {
    if (typeof o.region !== "string" || !REGION.test(o.region)) {
      fail(
        `${path}.region`,
        `${show(o.region)} is not allowed; use a region name such as "us-east-1"`,
      );
    }
    reg = o.region;
  } else if (region !== undefined) {
    if (!REGION.test(region))
      fail(
        "taskfleet:region",
        `${show(region)} is not allowed; use a region name such as "us-east-1"`,
      );
    reg = region;
  } else
    fail(
      `${path}.region`,
      `missing; set taskfleet:region (or ${path}.region) to the region's name`,
    );

  let nodes: number = d.nodes;
  if (o.nodes !== undefined) {
    const n = o.nodes;
    if (typeof n !== "number" || !Number.isInteger(n)) {
      fail(
        `${path}.nodes`,
        `${show(n)} is not a whole number; use an odd count from 3 to 7 (5 recommended)`,
      );
    }
    if (n % 2 === 0)
      fail(`${path}.nodes`, `${n} is even; use an odd count from 3 to 7 (5 recommended)`);
    if (n < 3 || n > 7)
      fail(`${path}.nodes`, `${n} is out of range; use an odd count from 3 to 7 (5 recommended)`);
    nodes = n;
  }
  const vhost =
    o.vhost === undefined
      ? d.vhost
      : typeof o.vhost === "string" && /^[A-Za-z0-9_./-]{1,64}$/.test(o.vhost)
        ? o.vhost
        : fail(
            `${path}.vhost`,
            `${show(o.vhost)} is not allowed; use 1–64 characters from A–Z a–z 0–9 _ . / -`,
          );

  // queue classes: the built-ins always exist; user entries add classes or override fields
  const qcRaw =
    o.queueClasses === undefined ? {} : objectAt(o.queueClasses, `${path}.queueClasses`);
  for (const name of Object.keys(qcRaw)) {
    if (!CLASS_NAME.test(name)) {
      fail(
        `${path}.queueClasses.${name}`,
        `${show(name)} is not allowed as a class name; use a–z, 0–9 and _ starting with a letter`,
      );
    }
  }
  const builtin = Object.keys(d.builtinClasses);
  const names = [
    ...builtin,
    ...Object.keys(qcRaw)
      .filter((n) => !builtin.includes(n))
      .sort(),
  ];
  const queueClasses = names.map((n) =>
    resolveQueueClass(n, qcRaw[n], `${path}.queueClasses.${n}`),
  );
  const seen = new Map<string, string>();
  for (const qc of queueClasses) {
    for (const [what, value] of [
      ["queue", qc.queue],
      ["deadLetterQueue", qc.deadLetterQueue],
    ] as const) {
      const prev = seen.get(value);
      if (prev !== undefined) {
        fail(
          `${path}.queueClasses.${qc.name}.${what}`,
          `${show(value)} is already used by ${prev}; use a unique queue name`,
        );
      }
      seen.set(value, `${qc.name}.${what}`);
    }
  }

  const sharding = resolveSharding(o.sharding, `${path}.sharding`, names);
  if (sharding.enabled) {
    for (const c of sharding.classes) {
      const qc = queueClasses.find((q) => q.name === c)!;
      if (qc.maxPriority !== null) {
        fail(
          `${path}.sharding.classes`,
          `${show(c)} has maxPriority; priority queues cannot be sharded`,
        );
      }
    }
  }

  const usersRaw = o.users === undefined ? {} : objectAt(o.users, `${path}.users`);
  checkKeys(usersRaw, `${path}.users`, BROKER_ROLES);
  const users = Object.fromEntries(
    BROKER_ROLES.map((r) => [
      r,
      usersRaw[r] === undefined ? d.users[r] : nameAt(usersRaw[r], `${path}.users.${r}`),
    ]),
  ) as Record<BrokerRole, string>;
  if (usersRaw.guest !== undefined || Object.values(users).includes("guest")) {
    fail(
      `${path}.users`,
      `"guest" is not allowed as a user name; the default guest user is removed`,
    );
  }
  if (new Set(Object.values(users)).size !== BROKER_ROLES.length) {
    fail(`${path}.users`, `${show(users)} reuses a name; give each role its own user`);
  }

  const fedRaw = o.federation === undefined ? [] : o.federation;
  if (!Array.isArray(fedRaw)) fail(`${path}.federation`, `${show(fedRaw)} is not a list of links`);
  const federation = fedRaw.map((l, i) =>
    resolveLink(l, `${path}.federation[${i}]`, {
      region: reg,
      classNames: names,
      federationUser: users.federation,
    }),
  );
  federation.forEach((l, i) => {
    if (federation.findIndex((m) => m.region === l.region) !== i) {
      fail(
        `${path}.federation[${i}].region`,
        `${show(l.region)} is linked twice; give one link per upstream region`,
      );
    }
  });

  return deepFreeze({
    region: reg,
    nodes,
    vhost,
    memoryHighWatermark:
      o.memoryHighWatermark === undefined
        ? d.memoryHighWatermark
        : numAt(o.memoryHighWatermark, `${path}.memoryHighWatermark`, 0.1, 0.9),
    diskFreeLimitGiB:
      o.diskFreeLimitGiB === undefined
        ? d.diskFreeLimitGiB
        : numAt(o.diskFreeLimitGiB, `${path}.diskFreeLimitGiB`, 0.05, 1024),
    fileDescriptorLimit:
      o.fileDescriptorLimit === undefined
        ? d.fileDescriptorLimit
        : intAt(o.fileDescriptorLimit, `${path}.fileDescriptorLimit`, 1024, 1_048_576),
    consumerTimeoutSeconds:
      o.consumerTimeoutSeconds === undefined
        ? d.consumerTimeoutSeconds
        : intAt(
            o.consumerTimeoutSeconds,
            `${path}.consumerTimeoutSeconds`,
            60,
            604_800,
            "whole seconds",
          ),
    tls: resolveTls(o.tls, `${path}.tls`),
    queueClasses,
    sharding,
    users,
    federation,
  });
}

// ---------------------------------------------------------------------------------------------
// the AMQP objects a spec implies, for the worker tier and the local target

export interface BrokerQueue {
  readonly name: string;
  /** Queue class it belongs to. */
  readonly queueClass: string;
  readonly kind: "task" | "shard" | "dead-letter";
  readonly queueType: QueueType;
  /** Shard index for `kind: "shard"`, else null. */
  readonly shard: number | null;
}

export interface BrokerExchange {
  readonly name: string;
  readonly type: "topic" | "fanout" | "x-consistent-hash";
  readonly queueClass: string;
  readonly kind: "task" | "shards" | "dead-letter";
}

export interface BrokerObjects {
  readonly vhost: string;
  readonly exchanges: readonly BrokerExchange[];
  readonly queues: readonly BrokerQueue[];
  /** Queue names workers of each class consume (`-Q`): the class queue, or its shard queues. */
  readonly consumeQueues: Readonly<Record<string, readonly string[]>>;
}

/** Name of shard `i` of a sharded class's queue. */
export function shardQueueName(queue: string, i: number): string {
  return `${queue}.shard.${i}`;
}

/** Name of the consistent-hash exchange of a sharded class. */
export function shardExchangeName(queueClass: QueueClass): string {
  return `${queueClass.exchange}.shards`;
}

/** Every exchange and queue the spec declares, in a stable order. */
export function brokerObjects(spec: BrokerSpec): BrokerObjects {
  const exchanges: BrokerExchange[] = [];
  const queues: BrokerQueue[] = [];
  const consumeQueues: Record<string, string[]> = {};
  for (const qc of spec.queueClasses) {
    const sharded = spec.sharding.enabled && spec.sharding.classes.includes(qc.name);
    exchanges.push({ name: qc.exchange, type: "topic", queueClass: qc.name, kind: "task" });
    if (sharded) {
      exchanges.push({
        name: shardExchangeName(qc),
        type: "x-consistent-hash",
        queueClass: qc.name,
        kind: "shards",
      });
      const names: string[] = [];
      for (let i = 0; i < spec.sharding.shardCount; i++) {
        const name = shardQueueName(qc.queue, i);
        names.push(name);
        queues.push({
          name,
          queueClass: qc.name,
          kind: "shard",
          queueType: qc.queueType,
          shard: i,
        });
      }
      consumeQueues[qc.name] = names;
    } else {
      queues.push({
        name: qc.queue,
        queueClass: qc.name,
        kind: "task",
        queueType: qc.queueType,
        shard: null,
      });
      consumeQueues[qc.name] = [qc.queue];
    }
    exchanges.push({
      name: qc.deadLetterExchange,
      type: "fanout",
      queueClass: qc.name,
      kind: "dead-letter",
    });
    queues.push({
      name: qc.deadLetterQueue,
      queueClass: qc.name,
      kind: "dead-letter",
      queueType: qc.queueType === "quorum" ? "quorum" : "classic",
      shard: null,
    });
  }
  return { vhost: spec.vhost, exchanges, queues, consumeQueues };
}
