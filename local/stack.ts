/**
 * Reads a stack's description (`stacks/Pulumi.<stack>.yaml`) the way the cloud program does —
 * the typed region config and the broker spec — and derives the local target's plan from it:
 * two regions, each with the stack's broker description (federated to the other region over
 * loopback) and the stack's worker pools.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import {
  parseRegionConfig,
  type RegionConfig,
  type WorkerPoolConfig,
} from "../components/config/regionConfig.js";
import {
  resolveBrokerSpec,
  brokerObjects,
  type BrokerSpec,
} from "../components/broker/brokerSpec.js";

export interface StackDescription {
  name: string;
  file: string;
  config: RegionConfig;
  /** `taskfleet:broker` as written (resolved per local region, with local federation links). */
  brokerInput: Record<string, unknown>;
}

/** Names of the two local regions: the stack's region and its first federation peer, else local-a/local-b. */
export function localRegionNames(cfg: RegionConfig): [string, string] {
  const peer = cfg.federation.peers[0]?.region;
  if (peer && peer !== cfg.region) return [cfg.region, peer];
  return ["local-a", "local-b"];
}

/** Loads and validates `stacks/Pulumi.<name>.yaml` under `root`. */
export function loadStack(root: string, name: string): StackDescription {
  const file = /\.ya?ml$/.test(name) ? name : join(root, "stacks", `Pulumi.${name}.yaml`);
  if (!existsSync(file)) {
    throw new Error(
      `--stack: "${name}" has no file ${file}; use a stack from stacks/ (e.g. dev) or the path of a stack file`,
    );
  }
  const doc = (parse(readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc.config ?? {})) {
    if (k.startsWith("taskfleet:")) raw[k.slice("taskfleet:".length)] = v;
  }
  const config = parseRegionConfig(raw);
  const brokerInput = (raw.broker ?? {}) as Record<string, unknown>;
  // Validate the broker description as written, before anything starts.
  resolveBrokerSpec(brokerInput, "taskfleet:broker", config.region);
  return { name, file, config, brokerInput };
}

/**
 * The broker spec of one local region: the stack's description with this region's name, the
 * cluster size asked for, and a federation link (every queue class, as work-stealing federated
 * queues) to the other local region's nodes on loopback.
 */
export function localBrokerSpec(
  stack: StackDescription,
  region: string,
  brokerNodes: number,
  peer: { region: string; amqpPorts: readonly number[] },
): BrokerSpec {
  const input: Record<string, unknown> = { ...stack.brokerInput, region };
  if (brokerNodes > 1) input.nodes = brokerNodes;
  else delete input.nodes;
  const classes = resolveBrokerSpec(
    { ...input, federation: [] },
    "taskfleet:broker",
    region,
  ).queueClasses.map((q) => q.name);
  input.federation = [
    {
      region: peer.region,
      uris: peer.amqpPorts.map((p) => `amqp://127.0.0.1:${p}`),
      queues: classes,
    },
  ];
  return resolveBrokerSpec(input, "taskfleet:broker", region);
}

/** A worker pool as the local target runs it. */
export interface LocalPool {
  pool: WorkerPoolConfig;
  /** Queue class of the broker the pool consumes. */
  queueClass: string;
  /** Queues passed to `-Q` (the class queue, or its shards). */
  queues: readonly string[];
}

export function localPools(cfg: RegionConfig, spec: BrokerSpec): LocalPool[] {
  const objects = brokerObjects(spec);
  return cfg.workers.pools.map((pool, i) => {
    const qc = spec.queueClasses.find((c) => c.queue === pool.queue || c.name === pool.queue);
    if (!qc) {
      throw new Error(
        `taskfleet:workers.pools[${i}].queue: "${pool.queue}" is not a queue of taskfleet:broker; use one of ${spec.queueClasses.map((c) => c.queue).join(", ")}`,
      );
    }
    return { pool, queueClass: qc.name, queues: objects.consumeQueues[qc.name] ?? [qc.queue] };
  });
}

/** `taskfleet api` routing flags for a region's broker and pools. */
export function apiRoutingArgs(spec: BrokerSpec, pools: readonly LocalPool[]): string[] {
  const args: string[] = [];
  for (const qc of spec.queueClasses) {
    const prefix = qc.routingKey.replace(/\.#$/, "").replace(/\.\*$/, "");
    args.push("--queue", `${qc.queue}=${qc.exchange}:${prefix}`);
  }
  const seen = new Set<string>();
  for (const p of pools) {
    if (seen.has(p.pool.priority)) continue;
    seen.add(p.pool.priority);
    const qc = spec.queueClasses.find((c) => c.name === p.queueClass)!;
    args.push("--priority", `${p.pool.priority}=${qc.queue}`);
  }
  const def = spec.queueClasses.find((c) => c.name === "default") ?? spec.queueClasses[0]!;
  args.push("--default-queue", def.queue);
  const sharded =
    spec.sharding.enabled &&
    spec.sharding.hashHeader === null &&
    spec.sharding.hashProperty === null;
  if (sharded) {
    const qc = spec.queueClasses.find((c) => spec.sharding.classes.includes(c.name));
    if (qc) args.push("--shard-queue", qc.queue);
  }
  return args;
}
