/**
 * `definitions.json` for a region's broker: vhost, one user per role with least-privilege
 * permissions (no `guest`), the task exchanges and queues, sharding, limits and federation as
 * policies, and federation upstreams as parameters. Pure apart from drawing random salts.
 */
import { createHash, randomBytes } from "node:crypto";
import {
  BROKER_ROLES,
  BrokerConfigError,
  brokerObjects,
  shardExchangeName,
  type BrokerRole,
  type BrokerSpec,
  type QueueClass,
} from "./brokerSpec.js";

/** Secrets the definitions need; kept out of the spec so the cloud target can feed Pulumi secrets. */
export interface BrokerCredentials {
  /** Password of this region's user for each role. */
  readonly passwords: Readonly<Record<BrokerRole, string>>;
  /** Password of the federation user at each upstream region, keyed by region. One per federation link. */
  readonly upstreamPasswords?: Readonly<Record<string, string>>;
}

export interface DefinitionsOptions {
  /** Salt for a user's password hash (4 bytes). @default - 4 random bytes per user */
  readonly salt?: (username: string) => Buffer;
}

export interface DefinitionUser {
  name: string;
  password_hash: string;
  hashing_algorithm: "rabbit_password_hashing_sha256";
  tags: string[];
  limits: Record<string, never>;
}
export interface DefinitionPermission {
  user: string;
  vhost: string;
  configure: string;
  write: string;
  read: string;
}
export interface DefinitionQueue {
  name: string;
  vhost: string;
  durable: true;
  auto_delete: false;
  arguments: Record<string, string | number>;
}
export interface DefinitionExchange {
  name: string;
  vhost: string;
  type: string;
  durable: true;
  auto_delete: false;
  internal: false;
  arguments: Record<string, string>;
}
export interface DefinitionBinding {
  source: string;
  vhost: string;
  destination: string;
  destination_type: "queue" | "exchange";
  routing_key: string;
  arguments: Record<string, never>;
}
export interface DefinitionPolicy {
  vhost: string;
  name: string;
  pattern: string;
  "apply-to": "queues" | "exchanges";
  priority: number;
  definition: Record<string, string | number>;
}
export interface DefinitionParameter {
  vhost: string;
  component: "federation-upstream" | "federation-upstream-set";
  name: string;
  value: Record<string, unknown> | Array<{ upstream: string }>;
}

/** The document RabbitMQ imports with `load_definitions` (or `rabbitmqctl import_definitions`). */
export interface BrokerDefinitions {
  users: DefinitionUser[];
  vhosts: Array<{ name: string }>;
  permissions: DefinitionPermission[];
  parameters: DefinitionParameter[];
  policies: DefinitionPolicy[];
  queues: DefinitionQueue[];
  exchanges: DefinitionExchange[];
  bindings: DefinitionBinding[];
}

/**
 * RabbitMQ's `rabbit_password_hashing_sha256` hash: base64(salt ‖ SHA-256(salt ‖ UTF-8 password))
 * with a 4-byte salt.
 */
export function rabbitPasswordHash(password: string, salt: Buffer = randomBytes(4)): string {
  if (salt.length !== 4) throw new RangeError(`salt must be 4 bytes, got ${salt.length}`);
  const digest = createHash("sha256").update(salt).update(password, "utf8").digest();
  return Buffer.concat([salt, digest]).toString("base64");
}

/** A regex matching exactly one of `names` (or one of the `extra` regex alternatives). */
export function exactNames(names: readonly string[], extra: readonly string[] = []): string {
  const alts = [
    ...[...new Set(names)].map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")),
    ...extra,
  ];
  return alts.length === 0 ? "^$" : `^(${alts.join("|")})$`;
}

/** Regex for the queues of a class: the class queue, or its shard queues. */
function classQueuePattern(spec: BrokerSpec, qc: QueueClass): string {
  const base = qc.queue.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return isSharded(spec, qc) ? `^${base}\\.shard\\.\\d+$` : `^${base}$`;
}

function isSharded(spec: BrokerSpec, qc: QueueClass): boolean {
  return spec.sharding.enabled && spec.sharding.classes.includes(qc.name);
}

/** Name of the federation upstream set for a class's queues (`queues`) or exchange (`exchanges`). */
export function upstreamSetName(queueClass: string, kind: "queues" | "exchanges"): string {
  return `taskfleet-${queueClass}-${kind}`;
}

/** Objects a federation link creates at its upstream: `federation: <exchange> -> <node>`. */
const FEDERATION_OBJECTS = "^federation: .*$";

/**
 * Objects the worker runtime declares and uses besides the task queues (regex alternatives,
 * unanchored): its delay queues and poison queue, the default exchange (the delay queues'
 * dead-letter target), and Celery's remote-control (`celery.pidbox`, `reply.celery.pidbox`,
 * `<node>.celery.pidbox`) and event (`celeryev`) objects.
 */
export const WORKER_RUNTIME_OBJECTS: readonly string[] = Object.freeze([
  "taskfleet\\.(delay|poison)(\\..*)?",
  "amq\\.default",
  "(reply\\.)?celery\\.pidbox",
  ".+\\.celery\\.pidbox",
  "celeryev(\\..*)?",
]);

/** Least-privilege permissions of each role on the spec's vhost. */
export function rolePermissions(spec: BrokerSpec): Record<BrokerRole, DefinitionPermission> {
  const o = brokerObjects(spec);
  const consume = Object.values(o.consumeQueues).flat();
  const taskExchanges = o.exchanges.filter((e) => e.kind === "task").map((e) => e.name);
  const federatedNames = [...consume, ...taskExchanges];
  const p = (
    user: string,
    configure: string,
    write: string,
    read: string,
  ): DefinitionPermission => ({
    user,
    vhost: spec.vhost,
    configure,
    write,
    read,
  });
  const u = spec.users;
  return {
    // Workers (re)declare and consume their queues, publish retries/chains to task exchanges, and
    // use the runtime's own delay/poison queues and Celery's remote-control and event objects.
    workers: p(
      u.workers,
      exactNames(consume, WORKER_RUNTIME_OBJECTS),
      exactNames(taskExchanges, WORKER_RUNTIME_OBJECTS),
      exactNames(consume, WORKER_RUNTIME_OBJECTS),
    ),
    // Producers only publish to the task exchanges.
    producers: p(u.producers, "^$", exactNames(taskExchanges), "^$"),
    // Downstream regions pull task queues and bind to task exchanges through their own objects.
    federation: p(
      u.federation,
      FEDERATION_OBJECTS,
      FEDERATION_OBJECTS,
      exactNames(federatedNames, ["federation: .*"]),
    ),
    // Monitoring reads through the management API (tag) and touches no resource.
    monitoring: p(u.monitoring, "^$", "^$", "^$"),
  };
}

const ROLE_TAGS: Record<BrokerRole, string[]> = {
  workers: [],
  producers: [],
  federation: [],
  monitoring: ["monitoring"],
};

function upstreamUris(
  spec: BrokerSpec,
  link: BrokerSpec["federation"][number],
  password: string,
): string[] {
  return link.uris.map((raw) => {
    const url = new URL(raw);
    url.username = encodeURIComponent(link.username);
    url.password = encodeURIComponent(password);
    let s = url.toString();
    if (url.pathname === "" || url.pathname === "/") {
      s = s.replace(/\/$/, "") + `/${encodeURIComponent(spec.vhost)}`;
    }
    return s;
  });
}

/** The definitions document for the spec's region. */
export function buildDefinitions(
  spec: BrokerSpec,
  credentials: BrokerCredentials,
  options: DefinitionsOptions = {},
): BrokerDefinitions {
  for (const role of BROKER_ROLES) {
    const pw = credentials.passwords?.[role];
    if (typeof pw !== "string" || pw.length < 8) {
      throw new BrokerConfigError(
        `credentials.passwords.${role}`,
        `${pw === undefined ? "missing" : "too short"}; give a password of at least 8 characters`,
      );
    }
  }
  const vhost = spec.vhost;
  const salt = options.salt ?? (() => randomBytes(4));
  const perms = rolePermissions(spec);
  const users: DefinitionUser[] = BROKER_ROLES.map((role) => ({
    name: spec.users[role],
    password_hash: rabbitPasswordHash(credentials.passwords[role], salt(spec.users[role])),
    hashing_algorithm: "rabbit_password_hashing_sha256",
    tags: ROLE_TAGS[role],
    limits: {},
  }));

  const objects = brokerObjects(spec);
  const exchanges: DefinitionExchange[] = objects.exchanges.map((e) => {
    const args: Record<string, string> = {};
    if (e.kind === "shards") {
      if (spec.sharding.hashHeader !== null) args["hash-header"] = spec.sharding.hashHeader;
      if (spec.sharding.hashProperty !== null) args["hash-property"] = spec.sharding.hashProperty;
    }
    return {
      name: e.name,
      vhost,
      type: e.type,
      durable: true,
      auto_delete: false,
      internal: false,
      arguments: args,
    };
  });
  const queues: DefinitionQueue[] = objects.queues.map((q) => {
    const qc = spec.queueClasses.find((c) => c.name === q.queueClass)!;
    const args: Record<string, string | number> = { "x-queue-type": q.queueType };
    if (q.kind !== "dead-letter" && qc.maxPriority !== null)
      args["x-max-priority"] = qc.maxPriority;
    return { name: q.name, vhost, durable: true, auto_delete: false, arguments: args };
  });

  const bindings: DefinitionBinding[] = [];
  const bind = (
    source: string,
    destination: string,
    type: "queue" | "exchange",
    key: string,
  ): void => {
    bindings.push({
      source,
      vhost,
      destination,
      destination_type: type,
      routing_key: key,
      arguments: {},
    });
  };
  const policies: DefinitionPolicy[] = [];
  for (const qc of spec.queueClasses) {
    const queueSet = spec.federation.some((l) => l.queues.includes(qc.name));
    const exchangeSet = spec.federation.some((l) => l.exchanges.includes(qc.name));
    if (isSharded(spec, qc)) {
      const hx = shardExchangeName(qc);
      bind(qc.exchange, hx, "exchange", qc.routingKey);
      spec.sharding.weights.forEach((w, i) => {
        const name = objects.consumeQueues[qc.name]![i]!;
        bind(hx, name, "queue", String(w));
      });
    } else {
      bind(qc.exchange, qc.queue, "queue", qc.routingKey);
    }
    bind(qc.deadLetterExchange, qc.deadLetterQueue, "queue", "");

    const def: Record<string, string | number> = {
      "max-length": qc.maxLength,
      overflow: qc.overflow,
      "message-ttl": qc.messageTtlSeconds * 1000,
      "dead-letter-exchange": qc.deadLetterExchange,
    };
    if (qc.queueType === "quorum") {
      def["delivery-limit"] = qc.deliveryLimit;
      // At-least-once dead-lettering needs reject-publish; with drop-head RabbitMQ falls back to at-most-once.
      if (qc.overflow === "reject-publish") def["dead-letter-strategy"] = "at-least-once";
    }
    if (queueSet) def["federation-upstream-set"] = upstreamSetName(qc.name, "queues");
    policies.push({
      vhost,
      name: `taskfleet-${qc.name}`,
      pattern: classQueuePattern(spec, qc),
      "apply-to": "queues",
      priority: 10,
      definition: def,
    });
    if (exchangeSet) {
      policies.push({
        vhost,
        name: `taskfleet-${qc.name}-exchange`,
        pattern: exactNames([qc.exchange]),
        "apply-to": "exchanges",
        priority: 10,
        definition: { "federation-upstream-set": upstreamSetName(qc.name, "exchanges") },
      });
    }
  }

  const parameters: DefinitionParameter[] = [];
  spec.federation.forEach((link, i) => {
    const pw = credentials.upstreamPasswords?.[link.region];
    if (typeof pw !== "string" || pw.length === 0) {
      throw new BrokerConfigError(
        `credentials.upstreamPasswords.${link.region}`,
        `missing; federation[${i}] links to ${JSON.stringify(link.region)}, so give the password of ${JSON.stringify(link.username)} there`,
      );
    }
    const uris = upstreamUris(spec, link, pw);
    parameters.push({
      vhost,
      component: "federation-upstream",
      name: link.region,
      value: {
        uri: uris.length === 1 ? uris[0] : uris,
        "ack-mode": link.ackMode,
        "prefetch-count": link.prefetchCount,
        "reconnect-delay": link.reconnectDelaySeconds,
        "max-hops": link.maxHops,
        "trust-user-id": false,
      },
    });
  });
  for (const qc of spec.queueClasses) {
    for (const kind of ["queues", "exchanges"] as const) {
      const members = spec.federation.filter((l) => l[kind].includes(qc.name));
      if (members.length === 0) continue;
      parameters.push({
        vhost,
        component: "federation-upstream-set",
        name: upstreamSetName(qc.name, kind),
        value: members.map((l) => ({ upstream: l.region })),
      });
    }
  }

  return {
    users,
    vhosts: [{ name: vhost }],
    permissions: BROKER_ROLES.map((r) => perms[r]),
    parameters,
    policies,
    queues,
    exchanges,
    bindings,
  };
}

/** `definitions.json` text. */
export function renderDefinitions(
  spec: BrokerSpec,
  credentials: BrokerCredentials,
  options: DefinitionsOptions = {},
): string {
  return JSON.stringify(buildDefinitions(spec, credentials, options), null, 2) + "\n";
}

/**
 * `rabbitmqctl` argument lists that restart the federation links of a node after it (re)starts.
 *
 * RabbitMQ 3.10 does not restart the links of federated quorum queues when the downstream node
 * restarts (seen in scenario 5 of the broker suite): the policy is there, the links are not.
 * A policy change starts them. (Federated exchanges recover with their exchange and are left
 * alone.) These commands first shadow each federation policy with a
 * higher-priority copy without the federation key (so limits, TTL and dead-lettering stay
 * in force throughout), then remove the copy, which re-applies the federation policy and
 * starts its links. Run them on a node once it has booted (e.g. a post-start hook). Empty when
 * the region federates nothing.
 */
export function federationRelinkCommands(spec: BrokerSpec): string[][] {
  const defs = buildDefinitions(
    spec,
    {
      passwords: {
        workers: "-".repeat(8),
        producers: "-".repeat(8),
        federation: "-".repeat(8),
        monitoring: "-".repeat(8),
      },
      upstreamPasswords: Object.fromEntries(spec.federation.map((l) => [l.region, "-"])),
    },
    { salt: () => Buffer.alloc(4) },
  );
  const cmds: string[][] = [];
  for (const p of defs.policies) {
    if (p["apply-to"] !== "queues" || !("federation-upstream-set" in p.definition)) continue;
    const { "federation-upstream-set": _omit, ...rest } = p.definition;
    void _omit;
    const shadow = `${p.name}-relink`;
    cmds.push([
      "set_policy",
      "--vhost",
      p.vhost,
      "--apply-to",
      p["apply-to"],
      "--priority",
      String(p.priority + 1),
      shadow,
      p.pattern,
      JSON.stringify(rest),
    ]);
    cmds.push(["clear_policy", "--vhost", p.vhost, shadow]);
  }
  return cmds;
}

/** One CLI call against a running node: which tool of the RabbitMQ package, and its arguments. */
export interface BrokerCommand {
  readonly tool: "rabbitmqctl" | "rabbitmq-queues";
  readonly args: readonly string[];
}

/**
 * What a target runs once its nodes are up, for RabbitMQ 3.10's two gaps that the broker suites
 * found:
 * - quorum queues declared (from definitions) before the other nodes joined have replicas only
 *   on the nodes present then: `rabbitmq-queues grow <node> all` for each node that joined later
 *   (`joinedNodes`, Erlang node names; empty for a single node);
 * - federated quorum-queue links do not come back after a restart: `federationRelinkCommands`.
 * Both are safe to repeat.
 */
export function postStartCommands(
  spec: BrokerSpec,
  joinedNodes: readonly string[] = [],
): BrokerCommand[] {
  return [
    ...joinedNodes.map((n) => ({ tool: "rabbitmq-queues" as const, args: ["grow", n, "all"] })),
    ...federationRelinkCommands(spec).map((args) => ({ tool: "rabbitmqctl" as const, args })),
  ];
}
