/**
 * What a Region derives from its config before creating anything: the broker spec (validated,
 * with placeholder federation URIs), each worker pool's AMQP queues (shard queues when the class
 * is sharded), the node pools, the address blocks allowed to reach the broker. Pure: no Pulumi
 * import, so a bad stack fails here with the key and the allowed values.
 */
import { brokerObjects, resolveBrokerSpec, type BrokerSpec } from "./broker/brokerSpec.js";
import { requireClusterAccess } from "./config/clusterAccess.js";
import { ConfigError } from "./config/errors.js";
import type { RegionConfig } from "./config/regionConfig.js";
import { fillUpstreamUris, placeholderUri } from "./federation/upstreams.js";
import { apiRoutingArgs } from "./ingress/apiManifests.js";
import type { WorkerPoolSpec } from "./workers/workerManifests.js";

export interface RegionPlan {
  readonly brokerSpec: BrokerSpec;
  readonly workerPools: readonly WorkerPoolSpec[];
  /** Blocks allowed to reach AMQP through the broker's internal NLB. */
  readonly brokerClientCidrs: readonly string[];
  /** `taskfleet api` routing flags. */
  readonly apiRoutingArgs: readonly string[];
}

export function planRegion(config: RegionConfig, brokerInput: unknown): RegionPlan {
  if (config.cluster.mode === "eks") requireClusterAccess(config.cluster, "taskfleet:cluster");
  const peers = Object.fromEntries(
    config.federation.peers.map((p) => [p.region, [placeholderUri(p.region)]]),
  );
  const brokerSpec = resolveBrokerSpec(
    fillUpstreamUris(brokerInput, peers),
    "taskfleet:broker",
    config.region,
  );
  if (brokerSpec.region !== config.region) {
    throw new ConfigError(
      `taskfleet:broker.region: ${JSON.stringify(brokerSpec.region)} differs from taskfleet:region ${JSON.stringify(config.region)}; remove it or make them equal`,
    );
  }
  const consume = brokerObjects(brokerSpec).consumeQueues;
  const classes = brokerSpec.queueClasses.map((c) => c.name);
  const workerPools = config.workers.pools.map((pool, i) => {
    const queues = consume[pool.queue];
    if (queues === undefined) {
      throw new ConfigError(
        `taskfleet:workers.pools[${i}].queue: ${JSON.stringify(pool.queue)} is not a queue class of taskfleet:broker; use one of ${classes.map((c) => `"${c}"`).join(", ")}`,
      );
    }
    return {
      name: pool.name,
      queues,
      priority: pool.priority,
      concurrency: pool.concurrency,
      minConcurrency: pool.minConcurrency,
      maxConcurrency: pool.maxConcurrency,
      minReplicas: pool.minReplicas,
      maxReplicas: pool.maxReplicas,
      backlogPerReplica: pool.backlogPerReplica,
      cpu: pool.cpu,
      memoryMiB: pool.memoryMiB,
      taskTimeLimitSeconds: pool.taskTimeLimitSeconds,
    };
  });
  const sh = brokerSpec.sharding;
  // Keyed routing needs the routing key to be the hash input (no hash header/property).
  const shardedClass =
    sh.enabled && sh.hashHeader === null && sh.hashProperty === null ? sh.classes[0] : undefined;
  return {
    brokerSpec,
    workerPools,
    apiRoutingArgs: apiRoutingArgs({
      classes: brokerSpec.queueClasses,
      priorities: config.workers.pools.map((p) => ({ priority: p.priority, queueClass: p.queue })),
      shardedClass,
    }),
    brokerClientCidrs: [config.network.cidr, ...config.federation.allowedCidrs],
  };
}
