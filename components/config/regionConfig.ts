/**
 * The typed description of one region (one stack), parsed once from the stack's `taskfleet:*`
 * keys and validated before anything is created. Pure: no Pulumi import, no I/O, so the entry
 * program, `taskfleet plan`, the local target and the tests share it.
 *
 * The broker's own description (`taskfleet:broker`) is parsed by `components/broker/brokerSpec.ts`;
 * this module covers everything around it.
 */
import {
  DEPLOYED_RABBITMQ_IMAGE,
  imageRabbitmqVersion,
  RABBITMQ_SERIES,
  versionString,
} from "../broker/rabbitmqVersion.js";
import type { WorkerPoolSizing } from "../workers/workerManifests.js";
import { parseAlerting, SECRET_CONFIG_KEYS, type AlertingConfig } from "./alertingConfig.js";
import {
  ACCESS_DEFAULTS,
  ACCESS_KEYS,
  parseClusterAccess,
  type ClusterAccessConfig,
} from "./clusterAccess.js";
import { ConfigError, show } from "./errors.js";
import { clientIdProblem, globProblem } from "../../worker-runtime/src/api/auth.js";
import {
  array,
  boolean,
  cpu,
  integer,
  object,
  oneOf,
  onlyKeys,
  optionalString,
  string,
  stringArray,
  type Raw,
} from "./read.js";

export const NAMESPACE = "taskfleet";

/** Every stack key this module reads (without the `taskfleet:` prefix); `broker` is the broker spec's. */
export const CONFIG_KEYS = [
  "region",
  "environment",
  "network",
  "cluster",
  "brokerCluster",
  "workers",
  "ingress",
  "storage",
  "federation",
  "alerting",
] as const;
export type ConfigKey = (typeof CONFIG_KEYS)[number];

export type Environment = "prod" | "dev";
export type ClusterMode = "eks" | "existing";
export type BrokerVolumeType = "gp3" | "io2";
export type PriorityClass = "high" | "default" | "low";
export type GlobalDatastoreRole = "primary" | "secondary" | "none";

export interface NetworkConfig {
  /** CIDR of a new VPC; regions that federate need non-overlapping blocks. */
  readonly cidr: string;
  /** Exactly three zones when a VPC is created. */
  readonly availabilityZones: readonly string[];
  /** Use this VPC instead of creating one. */
  readonly existingVpcId?: string;
  readonly existingPrivateSubnetIds: readonly string[];
  readonly existingPublicSubnetIds: readonly string[];
}

export interface NodePoolConfig {
  readonly instanceTypes: readonly string[];
  readonly minNodes: number;
  readonly maxNodes: number;
  readonly desiredNodes: number;
  readonly volumeSizeGiB: number;
}

export interface BrokerPoolConfig {
  readonly instanceTypes: readonly string[];
  readonly volumeSizeGiB: number;
}

export interface ClusterConfig extends ClusterAccessConfig {
  readonly mode: ClusterMode;
  /** EKS control-plane version (mode `eks`). */
  readonly kubernetesVersion: string;
  /** Path to (or contents of) a kubeconfig (mode `existing`). */
  readonly kubeconfig?: string;
  readonly context?: string;
  /** Install the KEDA Helm chart (mode `eks`; an existing cluster must have KEDA already). */
  readonly installKeda: boolean;
  readonly brokerPool: BrokerPoolConfig;
  readonly systemPool: NodePoolConfig;
}

export interface BrokerClusterConfig {
  /** RabbitMQ image, pinned by the user (versions drift, so no default tag beyond the one tested). */
  readonly image: string;
  readonly volumeType: BrokerVolumeType;
  readonly volumeSizeGiB: number;
  readonly iops: number;
  readonly throughputMiBps: number;
  readonly cpu: string;
  readonly memoryGiB: number;
  readonly terminationGracePeriodSeconds: number;
  /** Use this existing StorageClass instead of creating the EBS one (clusters not on EKS). */
  readonly storageClassName?: string;
}

export interface WorkerPoolConfig extends WorkerPoolSizing {
  /** The queue class the pool consumes. */
  readonly queue: string;
  readonly instanceTypes: readonly string[];
  readonly minNodes: number;
  readonly maxNodes: number;
}

export interface WorkersConfig {
  readonly image: string;
  /** Task module passed as `-A` (path inside the image); omitted when empty. */
  readonly app?: string;
  readonly healthPort: number;
  readonly pools: readonly WorkerPoolConfig[];
}

export interface IngressConfig {
  readonly replicas: number;
  readonly port: number;
  readonly cpu: string;
  readonly memoryMiB: number;
  /** The one name users call in every region (latency routing picks the region). */
  readonly hostname?: string;
  readonly hostedZoneId?: string;
  /** `internal` (a load balancer inside the VPC) or `public` (internet-facing, TLS required). */
  readonly exposure: "internal" | "public";
  /** ACM certificate (this region's) of the TLS listener on 443. */
  readonly certificateArn?: string;
  /** Container port of the API's `/metrics` (scraped, never on the Service). */
  readonly metricsPort: number;
  /** The API's clients (a token generated per client), or empty with `tokensSecret`. */
  readonly clients: readonly { readonly id: string; readonly tasks: readonly string[] }[];
  /** An existing Kubernetes Secret (key `tokens`) holding the tokens file, instead of clients. */
  readonly tokensSecret?: string;
}

export interface RedisConfig {
  readonly nodeType: string;
  readonly engineVersion: string;
  /** Read replicas beside the primary, in other zones (cluster mode is disabled: one shard). */
  readonly replicas: number;
  readonly globalDatastore: {
    readonly role: GlobalDatastoreRole;
    /** Secondary only: the primary's stack (`org/project/stack`). */
    readonly primaryStack?: string;
    /** Primary only: the regions allowed to join (at most two). */
    readonly secondaryRegions: readonly string[];
    /** Secondary only: the stack that takes writes after a promotion, or "self". */
    readonly writeStack?: string;
  };
}

/** `create`: this stack creates OpenSearch's account-wide service-linked role; `exists`: it does not. */
export type ServiceLinkedRoleMode = "create" | "exists";

export interface OpenSearchConfig {
  /** Who provides the service-linked role a VPC domain needs (one stack per account creates it). */
  readonly serviceLinkedRole: ServiceLinkedRoleMode;
  readonly engineVersion: string;
  readonly instanceType: string;
  readonly instanceCount: number;
  readonly volumeSizeGiB: number;
}

export interface ArchiveConfig {
  readonly glacierAfterDays: number;
  readonly expireAfterDays: number;
}

export interface StorageConfig {
  readonly redis: RedisConfig;
  readonly opensearch: OpenSearchConfig;
  readonly archive: ArchiveConfig;
}

export interface FederationPeer {
  readonly region: string;
  /** Fully qualified stack name holding the peer's outputs (`org/taskfleet/prod-eu-west-1`). */
  readonly stack: string;
}

export interface RegionConfig {
  readonly region: string;
  readonly environment: Environment;
  readonly network: NetworkConfig;
  readonly cluster: ClusterConfig;
  readonly brokerCluster: BrokerClusterConfig;
  readonly workers: WorkersConfig;
  readonly ingress: IngressConfig;
  readonly storage: StorageConfig;
  readonly federation: {
    readonly peers: readonly FederationPeer[];
    /** Address blocks (peer VPCs) allowed to reach this broker's internal NLB, besides this VPC. */
    readonly allowedCidrs: readonly string[];
  };
  /** Who is told when an alert fires (`taskfleet:alerting`; secrets are separate stack secrets). */
  readonly alerting: AlertingConfig;
}

/** Defaults, in one place. `Pulumi.yaml` declares the same values (a test checks they match). */
export const DEFAULTS = Object.freeze({
  environment: "prod" as Environment,
  network: { cidr: "10.0.0.0/16" },
  cluster: {
    mode: "eks" as ClusterMode,
    kubernetesVersion: "1.33",
    endpointPublicAccess: ACCESS_DEFAULTS.endpointPublicAccess,
    installKeda: true,
    brokerPool: { instanceTypes: ["r6i.xlarge"], volumeSizeGiB: 100 },
    systemPool: { instanceTypes: ["m6i.large"], minNodes: 2, maxNodes: 4, volumeSizeGiB: 50 },
  },
  brokerCluster: {
    image: DEPLOYED_RABBITMQ_IMAGE,
    volumeType: "gp3" as BrokerVolumeType,
    volumeSizeGiB: 200,
    gp3Iops: 3000,
    gp3ThroughputMiBps: 125,
    cpu: "2",
    memoryGiB: 8,
    terminationGracePeriodSeconds: 3600,
  },
  workers: { image: "ghcr.io/taskfleet/worker:0.1.0", healthPort: 8080 },
  pool: {
    concurrency: 10,
    minReplicas: 1,
    maxReplicas: 20,
    backlogPerReplica: 100,
    taskTimeLimitSeconds: 300,
    instanceTypes: ["c6i.xlarge"],
    minNodes: 1,
    maxNodes: 10,
    resources: {
      high: { cpu: "2", memoryMiB: 4096 },
      default: { cpu: "1", memoryMiB: 2048 },
      low: { cpu: "500m", memoryMiB: 1024 },
    },
  },
  pools: [
    {
      name: "high_priority",
      queue: "high_priority",
      priority: "high",
      concurrency: 10,
      autoscale: { maxConcurrency: 50, minConcurrency: 10 },
    },
    {
      name: "default",
      queue: "default",
      priority: "default",
      concurrency: 20,
      autoscale: { maxConcurrency: 50, minConcurrency: 10 },
    },
  ],
  ingress: { replicas: 3, port: 8080, cpu: "500m", memoryMiB: 512, metricsPort: 9464 },
  storage: {
    redis: { nodeType: "cache.r7g.large", engineVersion: "7.1", replicas: 2 },
    opensearch: {
      serviceLinkedRole: "create" as ServiceLinkedRoleMode,
      engineVersion: "OpenSearch_2.19",
      instanceType: "r6g.large.search",
      instanceCount: 3,
      volumeSizeGiB: 100,
    },
    archive: { glacierAfterDays: 30, expireAfterDays: 365 },
  },
});

const K = (key: string): string => `${NAMESPACE}:${key}`;
const REGION_RE = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;
const NAME_RE = /^[a-z][a-z0-9_]{0,30}$/;

export const PRIORITIES: readonly PriorityClass[] = ["high", "default", "low"];

/** Parses and validates a stack's `taskfleet:*` values (keys without the prefix). */
export function parseRegionConfig(raw: Readonly<Record<string, unknown>>): RegionConfig {
  for (const key of Object.keys(raw)) {
    if (
      key !== "broker" &&
      !(CONFIG_KEYS as readonly string[]).includes(key) &&
      !SECRET_CONFIG_KEYS.includes(key)
    ) {
      throw new ConfigError(
        `${K(key)}: unknown key; allowed keys are ${[...CONFIG_KEYS, "broker"].map(K).join(", ")}`,
      );
    }
  }
  const region = string(raw.region, K("region"));
  if (!REGION_RE.test(region)) {
    throw new ConfigError(
      `${K("region")}: ${show(region)} is not an AWS region name; use one like "us-east-1"`,
    );
  }
  const environment = oneOf(
    raw.environment,
    K("environment"),
    ["prod", "dev"],
    DEFAULTS.environment,
  );
  const cluster = parseCluster(object(raw.cluster, K("cluster")), environment);
  const network = parseNetwork(object(raw.network, K("network")), region, cluster.mode);
  const brokerCluster = parseBrokerCluster(object(raw.brokerCluster, K("brokerCluster")));
  const workers = parseWorkers(object(raw.workers, K("workers")));
  const ingress = parseIngress(object(raw.ingress, K("ingress")), region);
  const storage = parseStorage(object(raw.storage, K("storage")), region);
  const federation = parseFederation(object(raw.federation, K("federation")), region);
  const alerting = parseAlerting(raw.alerting);
  return {
    region,
    environment,
    network,
    cluster,
    brokerCluster,
    workers,
    ingress,
    storage,
    federation,
    alerting,
  };
}

function parseCidr(value: unknown, path: string, fallback: string): string {
  const v = string(value, path, fallback);
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(v);
  const ok =
    m !== null &&
    m.slice(1, 5).every((o) => Number(o) <= 255) &&
    Number(m[5]) >= 16 &&
    Number(m[5]) <= 20;
  if (!ok) {
    throw new ConfigError(
      `${path}: ${show(v)} is not usable; use an IPv4 CIDR from /16 to /20 like "10.0.0.0/16"`,
    );
  }
  return v;
}

function parseNetwork(o: Raw, region: string, mode: ClusterMode): NetworkConfig {
  const p = K("network");
  onlyKeys(o, p, [
    "cidr",
    "availabilityZones",
    "existingVpcId",
    "existingPrivateSubnetIds",
    "existingPublicSubnetIds",
  ]);
  const cidr = parseCidr(o.cidr, `${p}.cidr`, DEFAULTS.network.cidr);
  const availabilityZones = stringArray(o.availabilityZones, `${p}.availabilityZones`, [
    `${region}a`,
    `${region}b`,
    `${region}c`,
  ]);
  if (availabilityZones.length !== 3) {
    throw new ConfigError(
      `${p}.availabilityZones: ${show(availabilityZones)} has ${availabilityZones.length} zones; list exactly 3 zones of ${region}`,
    );
  }
  availabilityZones.forEach((zone, i) => {
    if (!(zone.startsWith(region) && /^[a-z]$/.test(zone.slice(region.length)))) {
      throw new ConfigError(
        `${p}.availabilityZones[${i}]: ${show(zone)} is not a zone of ${region}; use names like "${region}a"`,
      );
    }
  });
  if (new Set(availabilityZones).size !== 3) {
    throw new ConfigError(
      `${p}.availabilityZones: ${show(availabilityZones)} repeats a zone; list 3 different zones`,
    );
  }
  const existingVpcId = optionalString(o.existingVpcId, `${p}.existingVpcId`);
  if (existingVpcId !== undefined && !/^vpc-[0-9a-f]{8,17}$/.test(existingVpcId)) {
    throw new ConfigError(
      `${p}.existingVpcId: ${show(existingVpcId)} is not a VPC id; use one like "vpc-0abc12345def67890"`,
    );
  }
  const existingPrivateSubnetIds = stringArray(
    o.existingPrivateSubnetIds,
    `${p}.existingPrivateSubnetIds`,
  );
  const existingPublicSubnetIds = stringArray(
    o.existingPublicSubnetIds,
    `${p}.existingPublicSubnetIds`,
  );
  if (existingVpcId !== undefined && mode === "eks" && existingPrivateSubnetIds.length < 2) {
    throw new ConfigError(
      `${p}.existingPrivateSubnetIds: ${show(existingPrivateSubnetIds)} with existingVpcId; list the VPC's private subnets, at least 2 in different zones`,
    );
  }
  if (
    existingVpcId === undefined &&
    (existingPrivateSubnetIds.length > 0 || existingPublicSubnetIds.length > 0)
  ) {
    throw new ConfigError(
      `${p}.existingPrivateSubnetIds: subnets given without existingVpcId; set existingVpcId too`,
    );
  }
  return {
    cidr,
    availabilityZones,
    existingVpcId,
    existingPrivateSubnetIds,
    existingPublicSubnetIds,
  };
}

/** The broker image; its tag must name a series the generator knows (the config follows it). */
function parseBrokerImage(value: unknown, path: string, fallback: string): string {
  const image = string(value, path, fallback);
  const version = imageRabbitmqVersion(image);
  if (version === undefined || RABBITMQ_SERIES[versionString(version)] === undefined) {
    const known = Object.keys(RABBITMQ_SERIES).join(", ");
    throw new ConfigError(
      `${path}: ${show(image)} ${version === undefined ? "names no RabbitMQ version" : `is RabbitMQ ${versionString(version)}, a series the broker generator does not know`}; pin a tag of ${known} like ${show(DEPLOYED_RABBITMQ_IMAGE)} (the generated rabbitmq.conf follows it)`,
    );
  }
  return image;
}

function parsePool(
  o: Raw,
  path: string,
  defaults: {
    instanceTypes: readonly string[];
    minNodes: number;
    maxNodes: number;
    volumeSizeGiB: number;
  },
): NodePoolConfig {
  onlyKeys(o, path, ["instanceTypes", "minNodes", "maxNodes", "desiredNodes", "volumeSizeGiB"]);
  const instanceTypes = stringArray(
    o.instanceTypes,
    `${path}.instanceTypes`,
    defaults.instanceTypes,
  );
  if (instanceTypes.length === 0)
    throw new ConfigError(
      `${path}.instanceTypes: [] is empty; list at least one EC2 instance type`,
    );
  const minNodes = integer(o.minNodes, `${path}.minNodes`, { min: 0, max: 100 }, defaults.minNodes);
  const maxNodes = integer(o.maxNodes, `${path}.maxNodes`, { min: 1, max: 500 }, defaults.maxNodes);
  if (maxNodes < minNodes) {
    throw new ConfigError(
      `${path}.maxNodes: ${maxNodes} is below minNodes (${minNodes}); use a value of at least ${minNodes}`,
    );
  }
  const desiredNodes = integer(
    o.desiredNodes,
    `${path}.desiredNodes`,
    { min: minNodes, max: maxNodes },
    minNodes,
  );
  const volumeSizeGiB = integer(
    o.volumeSizeGiB,
    `${path}.volumeSizeGiB`,
    { min: 20, max: 16384 },
    defaults.volumeSizeGiB,
  );
  return { instanceTypes, minNodes, maxNodes, desiredNodes, volumeSizeGiB };
}

/** The broker pool's size follows `taskfleet:broker.nodes` (one node per broker), so only its shape is set here. */
function parseBrokerPool(o: Raw, path: string): BrokerPoolConfig {
  onlyKeys(o, path, ["instanceTypes", "volumeSizeGiB"]);
  const d = DEFAULTS.cluster.brokerPool;
  const instanceTypes = stringArray(o.instanceTypes, `${path}.instanceTypes`, d.instanceTypes);
  if (instanceTypes.length === 0)
    throw new ConfigError(
      `${path}.instanceTypes: [] is empty; list at least one EC2 instance type`,
    );
  return {
    instanceTypes,
    volumeSizeGiB: integer(
      o.volumeSizeGiB,
      `${path}.volumeSizeGiB`,
      { min: 20, max: 16384 },
      d.volumeSizeGiB,
    ),
  };
}

function parseCluster(o: Raw, environment: Environment): ClusterConfig {
  const p = K("cluster");
  onlyKeys(o, p, [
    "mode",
    "kubernetesVersion",
    "kubeconfig",
    "context",
    ...ACCESS_KEYS,
    "installKeda",
    "brokerPool",
    "systemPool",
  ]);
  const mode = oneOf(o.mode, `${p}.mode`, ["eks", "existing"], DEFAULTS.cluster.mode);
  const kubernetesVersion = string(
    o.kubernetesVersion,
    `${p}.kubernetesVersion`,
    DEFAULTS.cluster.kubernetesVersion,
  );
  if (!/^1\.\d{2}$/.test(kubernetesVersion)) {
    throw new ConfigError(
      `${p}.kubernetesVersion: ${show(kubernetesVersion)} is not an EKS version; use one like "1.33"`,
    );
  }
  const kubeconfig = optionalString(o.kubeconfig, `${p}.kubeconfig`);
  const context = optionalString(o.context, `${p}.context`);
  if (mode === "existing" && kubeconfig === undefined) {
    throw new ConfigError(
      `${p}.kubeconfig: missing for mode "existing"; set the path of the cluster's kubeconfig file`,
    );
  }
  if (mode === "eks" && kubeconfig !== undefined) {
    throw new ConfigError(
      `${p}.kubeconfig: only used with mode "existing"; remove it or set ${p}.mode to "existing"`,
    );
  }
  return {
    mode,
    kubernetesVersion,
    kubeconfig,
    context,
    ...parseClusterAccess(o, p, environment),
    installKeda: boolean(o.installKeda, `${p}.installKeda`, DEFAULTS.cluster.installKeda),
    brokerPool: parseBrokerPool(object(o.brokerPool, `${p}.brokerPool`), `${p}.brokerPool`),
    systemPool: parsePool(
      object(o.systemPool, `${p}.systemPool`),
      `${p}.systemPool`,
      DEFAULTS.cluster.systemPool,
    ),
  };
}

function parseBrokerCluster(o: Raw): BrokerClusterConfig {
  const p = K("brokerCluster");
  const d = DEFAULTS.brokerCluster;
  onlyKeys(o, p, [
    "image",
    "volumeType",
    "volumeSizeGiB",
    "iops",
    "throughputMiBps",
    "cpu",
    "memoryGiB",
    "terminationGracePeriodSeconds",
    "storageClassName",
  ]);
  const volumeType = oneOf(o.volumeType, `${p}.volumeType`, ["gp3", "io2"], d.volumeType);
  const volumeSizeGiB = integer(
    o.volumeSizeGiB,
    `${p}.volumeSizeGiB`,
    { min: 10, max: 65536 },
    d.volumeSizeGiB,
  );
  let iops: number;
  let throughputMiBps: number;
  if (volumeType === "gp3") {
    iops = integer(o.iops, `${p}.iops`, { min: 3000, max: 16000 }, d.gp3Iops);
    throughputMiBps = integer(
      o.throughputMiBps,
      `${p}.throughputMiBps`,
      { min: 125, max: 1000 },
      d.gp3ThroughputMiBps,
    );
  } else {
    if (o.iops === undefined || o.iops === null) {
      throw new ConfigError(
        `${p}.iops: missing for volumeType "io2"; set the provisioned IOPS, from 100 to 256000`,
      );
    }
    iops = integer(o.iops, `${p}.iops`, { min: 100, max: 256000 });
    if (iops > volumeSizeGiB * 1000) {
      throw new ConfigError(
        `${p}.iops: ${iops} exceeds 1000 IOPS per GiB of volumeSizeGiB (${volumeSizeGiB}); use at most ${volumeSizeGiB * 1000} or a larger volume`,
      );
    }
    if (o.throughputMiBps !== undefined) {
      throw new ConfigError(
        `${p}.throughputMiBps: only used with volumeType "gp3"; remove it for "io2"`,
      );
    }
    throughputMiBps = 0;
  }
  return {
    image: parseBrokerImage(o.image, `${p}.image`, d.image),
    volumeType,
    volumeSizeGiB,
    iops,
    throughputMiBps,
    cpu: cpu(o.cpu, `${p}.cpu`, d.cpu),
    memoryGiB: integer(o.memoryGiB, `${p}.memoryGiB`, { min: 1, max: 1024 }, d.memoryGiB),
    terminationGracePeriodSeconds: integer(
      o.terminationGracePeriodSeconds,
      `${p}.terminationGracePeriodSeconds`,
      { min: 60, max: 604800 },
      d.terminationGracePeriodSeconds,
    ),
    storageClassName: optionalString(o.storageClassName, `${p}.storageClassName`),
  };
}

function parseWorkerPool(o: Raw, path: string): WorkerPoolConfig {
  onlyKeys(o, path, [
    "name",
    "queue",
    "priority",
    "concurrency",
    "autoscale",
    "backlogPerReplica",
    "cpu",
    "memoryMiB",
    "taskTimeLimitSeconds",
    "instanceTypes",
    "minNodes",
    "maxNodes",
  ]);
  const d = DEFAULTS.pool;
  const name = string(o.name, `${path}.name`);
  if (!NAME_RE.test(name)) {
    throw new ConfigError(
      `${path}.name: ${show(name)} is not a pool name; use lowercase letters, digits and "_", starting with a letter, at most 31 characters`,
    );
  }
  const queue = string(o.queue, `${path}.queue`, name);
  const priority = oneOf(o.priority, `${path}.priority`, PRIORITIES, "default");
  const concurrency = integer(
    o.concurrency,
    `${path}.concurrency`,
    { min: 1, max: 1000 },
    d.concurrency,
  );
  const a = object(o.autoscale, `${path}.autoscale`);
  const ap = `${path}.autoscale`;
  onlyKeys(a, ap, ["minConcurrency", "maxConcurrency", "minReplicas", "maxReplicas"]);
  const maxConcurrency = integer(
    a.maxConcurrency,
    `${ap}.maxConcurrency`,
    { min: 1, max: 1000 },
    concurrency,
  );
  const minConcurrency = integer(
    a.minConcurrency,
    `${ap}.minConcurrency`,
    { min: 1, max: 1000 },
    Math.min(concurrency, maxConcurrency),
  );
  if (minConcurrency > maxConcurrency) {
    throw new ConfigError(
      `${ap}.minConcurrency: ${minConcurrency} exceeds maxConcurrency (${maxConcurrency}); use a value from 1 to ${maxConcurrency}`,
    );
  }
  const minReplicas = integer(
    a.minReplicas,
    `${ap}.minReplicas`,
    { min: 0, max: 1000 },
    d.minReplicas,
  );
  const maxReplicas = integer(
    a.maxReplicas,
    `${ap}.maxReplicas`,
    { min: 1, max: 1000 },
    d.maxReplicas,
  );
  if (minReplicas > maxReplicas) {
    throw new ConfigError(
      `${ap}.minReplicas: ${minReplicas} exceeds maxReplicas (${maxReplicas}); use a value from 0 to ${maxReplicas}`,
    );
  }
  const res = d.resources[priority];
  const minNodes = integer(o.minNodes, `${path}.minNodes`, { min: 0, max: 100 }, d.minNodes);
  const maxNodes = integer(o.maxNodes, `${path}.maxNodes`, { min: 1, max: 500 }, d.maxNodes);
  if (maxNodes < minNodes) {
    throw new ConfigError(
      `${path}.maxNodes: ${maxNodes} is below minNodes (${minNodes}); use a value of at least ${minNodes}`,
    );
  }
  const instanceTypes = stringArray(o.instanceTypes, `${path}.instanceTypes`, d.instanceTypes);
  if (instanceTypes.length === 0)
    throw new ConfigError(
      `${path}.instanceTypes: [] is empty; list at least one EC2 instance type`,
    );
  return {
    name,
    queue,
    priority,
    concurrency,
    minConcurrency,
    maxConcurrency,
    minReplicas,
    maxReplicas,
    backlogPerReplica: integer(
      o.backlogPerReplica,
      `${path}.backlogPerReplica`,
      { min: 1, max: 1000000 },
      d.backlogPerReplica,
    ),
    cpu: cpu(o.cpu, `${path}.cpu`, res.cpu),
    memoryMiB: integer(o.memoryMiB, `${path}.memoryMiB`, { min: 128, max: 262144 }, res.memoryMiB),
    taskTimeLimitSeconds: integer(
      o.taskTimeLimitSeconds,
      `${path}.taskTimeLimitSeconds`,
      { min: 1, max: 86400 },
      d.taskTimeLimitSeconds,
    ),
    instanceTypes,
    minNodes,
    maxNodes,
  };
}

function parseWorkers(o: Raw): WorkersConfig {
  const p = K("workers");
  onlyKeys(o, p, ["image", "app", "healthPort", "pools"]);
  const rawPools =
    o.pools === undefined || o.pools === null ? DEFAULTS.pools : array(o.pools, `${p}.pools`);
  if (rawPools.length === 0)
    throw new ConfigError(`${p}.pools: [] is empty; list at least one worker pool`);
  const pools = rawPools.map((item, i) =>
    parseWorkerPool(object(item, `${p}.pools[${i}]`), `${p}.pools[${i}]`),
  );
  const seen = new Map<string, number>();
  pools.forEach((pool, i) => {
    const prev = seen.get(pool.name);
    if (prev !== undefined) {
      throw new ConfigError(
        `${p}.pools[${i}].name: ${show(pool.name)} is already used by pools[${prev}]; pool names must be unique`,
      );
    }
    seen.set(pool.name, i);
  });
  return {
    image: string(o.image, `${p}.image`, DEFAULTS.workers.image),
    app: optionalString(o.app, `${p}.app`),
    healthPort: integer(
      o.healthPort,
      `${p}.healthPort`,
      { min: 1024, max: 65535 },
      DEFAULTS.workers.healthPort,
    ),
    pools,
  };
}

/** Without clients in the stack: one client "default" that may send any task (its token is a secret output). */
const DEFAULT_API_CLIENTS: IngressConfig["clients"] = [{ id: "default", tasks: ["*"] }];

/** An ACM certificate ARN; an NLB listener takes only a certificate of its own region. */
const ACM_ARN = /^arn:aws[a-z-]*:acm:([a-z0-9-]+):\d{12}:certificate\/[0-9a-f-]{36}$/;

function parseApiClients(o: Raw, p: string): IngressConfig["clients"] {
  const seen = new Set<string>();
  return array(o.clients, `${p}.clients`).map((raw, i) => {
    const cp = `${p}.clients[${i}]`;
    const c = object(raw, cp);
    onlyKeys(c, cp, ["id", "tasks"]);
    const id = string(c.id, `${cp}.id`);
    const idErr = clientIdProblem(id);
    if (idErr) throw new ConfigError(`${cp}.id: ${idErr}`);
    if (seen.has(id))
      throw new ConfigError(`${cp}.id: "${id}" is listed twice; client ids are unique`);
    seen.add(id);
    const tasks = stringArray(c.tasks, `${cp}.tasks`);
    if (tasks.length === 0) {
      throw new ConfigError(
        `${cp}.tasks: missing; list the task-name globs this client may send, e.g. ["reports.*"]`,
      );
    }
    tasks.forEach((g, k) => {
      const e = globProblem(g);
      if (e) throw new ConfigError(`${cp}.tasks[${k}]: ${e}`);
    });
    return { id, tasks };
  });
}

function parseIngress(o: Raw, region: string): IngressConfig {
  const p = K("ingress");
  const d = DEFAULTS.ingress;
  onlyKeys(o, p, [
    "replicas",
    "port",
    "cpu",
    "memoryMiB",
    "hostname",
    "hostedZoneId",
    "exposure",
    "certificateArn",
    "metricsPort",
    "clients",
    "tokensSecret",
  ]);
  const exposure = oneOf(o.exposure, `${p}.exposure`, ["internal", "public"], "internal");
  const certificateArn = optionalString(o.certificateArn, `${p}.certificateArn`);
  if (certificateArn !== undefined) {
    const m = ACM_ARN.exec(certificateArn);
    if (!m) {
      throw new ConfigError(
        `${p}.certificateArn: ${show(certificateArn)} is not an ACM certificate ARN; use one like "arn:aws:acm:${region}:123456789012:certificate/<uuid>"`,
      );
    }
    // An NLB TLS listener takes a certificate from ACM in its own region (ACM certificates are regional).
    if (m[1] !== region) {
      throw new ConfigError(
        `${p}.certificateArn: the certificate is in ${m[1]}, this stack in ${region}; a load balancer uses a certificate of its own region`,
      );
    }
  }
  if (exposure === "public" && certificateArn === undefined) {
    throw new ConfigError(
      `${p}.certificateArn: missing; exposure "public" serves the API only over TLS on 443 — give an ACM certificate ARN of ${region}, or use exposure "internal"`,
    );
  }
  const hostname = optionalString(o.hostname, `${p}.hostname`);
  const hostedZoneId = optionalString(o.hostedZoneId, `${p}.hostedZoneId`);
  if (hostname !== undefined && !/^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$/.test(hostname)) {
    throw new ConfigError(
      `${p}.hostname: ${show(hostname)} is not a DNS name; use one like "api.tasks.example.com"`,
    );
  }
  if ((hostname === undefined) !== (hostedZoneId === undefined)) {
    const missing = hostname === undefined ? "hostname" : "hostedZoneId";
    throw new ConfigError(
      `${p}.${missing}: missing; set hostname and hostedZoneId together, or neither (no DNS record)`,
    );
  }
  if (hostedZoneId !== undefined && !/^Z[A-Z0-9]{4,31}$/.test(hostedZoneId)) {
    throw new ConfigError(
      `${p}.hostedZoneId: ${show(hostedZoneId)} is not a Route 53 zone id; use one like "Z0123456789ABCDEFGHIJ"`,
    );
  }
  const tokensSecret = optionalString(o.tokensSecret, `${p}.tokensSecret`);
  if (tokensSecret !== undefined && o.clients !== undefined) {
    throw new ConfigError(
      `${p}.clients: set together with tokensSecret; use one — clients (a token generated per client) or tokensSecret (an existing Secret with the tokens file)`,
    );
  }
  const clients =
    tokensSecret !== undefined
      ? []
      : o.clients === undefined
        ? DEFAULT_API_CLIENTS
        : parseApiClients(o, p);
  if (tokensSecret === undefined && clients.length === 0) {
    throw new ConfigError(
      `${p}.clients: empty; the API admits only known clients — list them (e.g. [{ id: orders, tasks: ["orders.*"] }]) or name an existing Secret with tokensSecret`,
    );
  }
  return {
    replicas: integer(o.replicas, `${p}.replicas`, { min: 1, max: 100 }, d.replicas),
    port: integer(o.port, `${p}.port`, { min: 1024, max: 65535 }, d.port),
    cpu: cpu(o.cpu, `${p}.cpu`, d.cpu),
    memoryMiB: integer(o.memoryMiB, `${p}.memoryMiB`, { min: 128, max: 65536 }, d.memoryMiB),
    hostname,
    hostedZoneId,
    exposure,
    ...(certificateArn !== undefined ? { certificateArn } : {}),
    metricsPort: integer(
      o.metricsPort,
      `${p}.metricsPort`,
      { min: 1024, max: 65535 },
      d.metricsPort,
    ),
    clients,
    ...(tokensSecret !== undefined ? { tokensSecret } : {}),
  };
}

function parseStorage(o: Raw, region: string): StorageConfig {
  const p = K("storage");
  onlyKeys(o, p, ["redis", "opensearch", "archive"]);
  const r = object(o.redis, `${p}.redis`);
  const rp = `${p}.redis`;
  const dr = DEFAULTS.storage.redis;
  if (r.shards !== undefined) {
    // Cluster mode (shards) was removed on purpose: see components/storage/storagePlan.ts.
    throw new ConfigError(
      `${rp}.shards: ${show(r.shards)} is not allowed; the result store runs with cluster mode disabled (one shard, replicas in other zones) because taskfleet's Redis client and Python Celery's Redis result backend do not follow Redis Cluster redirects (MOVED), so most keys would fail; remove shards, set replicas (1-5) and scale with a larger nodeType`,
    );
  }
  if (r.replicasPerShard !== undefined) {
    throw new ConfigError(
      `${rp}.replicasPerShard: renamed; the result store has one shard, so write replicas: ${show(r.replicasPerShard)}`,
    );
  }
  onlyKeys(r, rp, ["nodeType", "engineVersion", "replicas", "globalDatastore"]);
  const g = object(r.globalDatastore, `${rp}.globalDatastore`);
  const gp = `${rp}.globalDatastore`;
  onlyKeys(g, gp, ["role", "primaryStack", "secondaryRegions", "writeStack"]);
  const role = oneOf(g.role, `${gp}.role`, ["primary", "secondary", "none"], "none");
  const primaryStack = optionalString(g.primaryStack, `${gp}.primaryStack`);
  const secondaryRegions = stringArray(g.secondaryRegions, `${gp}.secondaryRegions`);
  const writeStack = optionalString(g.writeStack, `${gp}.writeStack`);
  if (writeStack !== undefined && role !== "secondary") {
    throw new ConfigError(
      `${gp}.writeStack: only used with role "secondary"; remove it or set role to "secondary"`,
    );
  }
  if (
    writeStack !== undefined &&
    writeStack !== "self" &&
    !/^[\w.-]+\/[\w.-]+\/[\w.-]+$/.test(writeStack)
  ) {
    throw new ConfigError(
      `${gp}.writeStack: ${show(writeStack)} is not allowed; use "self" or a fully qualified stack name "<org>/<project>/<stack>"`,
    );
  }
  if (role === "secondary" && primaryStack === undefined) {
    throw new ConfigError(
      `${gp}.primaryStack: missing for role "secondary"; set the primary region's stack, like "acme/taskfleet/prod-us-east-1"`,
    );
  }
  if (primaryStack !== undefined && !/^[\w.-]+\/[\w.-]+\/[\w.-]+$/.test(primaryStack)) {
    throw new ConfigError(
      `${gp}.primaryStack: ${show(primaryStack)} is not a fully qualified stack name; use "<org>/<project>/<stack>"`,
    );
  }
  if (role !== "secondary" && primaryStack !== undefined) {
    throw new ConfigError(
      `${gp}.primaryStack: only used with role "secondary"; remove it or set role to "secondary"`,
    );
  }
  if (role !== "primary" && secondaryRegions.length > 0) {
    throw new ConfigError(
      `${gp}.secondaryRegions: only used with role "primary"; remove it or set role to "primary"`,
    );
  }
  if (secondaryRegions.length > 2) {
    throw new ConfigError(
      `${gp}.secondaryRegions: ${show(secondaryRegions)} lists ${secondaryRegions.length} regions; a Global Datastore has one primary and at most 2 secondary regions`,
    );
  }
  secondaryRegions.forEach((s, i) => {
    if (!REGION_RE.test(s))
      throw new ConfigError(
        `${gp}.secondaryRegions[${i}]: ${show(s)} is not an AWS region name; use one like "eu-west-1"`,
      );
    if (s === region)
      throw new ConfigError(
        `${gp}.secondaryRegions[${i}]: ${show(s)} is this stack's own region; list other regions`,
      );
  });
  if (new Set(secondaryRegions).size !== secondaryRegions.length) {
    throw new ConfigError(
      `${gp}.secondaryRegions: ${show(secondaryRegions)} repeats a region; list each region once`,
    );
  }
  const nodeType = string(r.nodeType, `${rp}.nodeType`, dr.nodeType);
  if (!/^cache\.[a-z0-9]+\.[a-z0-9]+$/.test(nodeType)) {
    throw new ConfigError(
      `${rp}.nodeType: ${show(nodeType)} is not an ElastiCache node type; use one like "cache.r7g.large"`,
    );
  }
  if (
    role !== "none" &&
    !/^cache\.(m5|m6g|m7g|r5|r6g|r6gd|r7g|c7gn)\.(large|\d*xlarge)$/.test(nodeType)
  ) {
    throw new ConfigError(
      `${rp}.nodeType: ${show(nodeType)} cannot join a Global Datastore; use size large or above of m5, m6g, m7g, r5, r6g, r6gd, r7g or c7gn`,
    );
  }
  const os = object(o.opensearch, `${p}.opensearch`);
  const op = `${p}.opensearch`;
  const dos = DEFAULTS.storage.opensearch;
  onlyKeys(os, op, [
    "serviceLinkedRole",
    "engineVersion",
    "instanceType",
    "instanceCount",
    "volumeSizeGiB",
  ]);
  const engineVersion = string(os.engineVersion, `${op}.engineVersion`, dos.engineVersion);
  if (!/^OpenSearch_\d+\.\d+$/.test(engineVersion)) {
    throw new ConfigError(
      `${op}.engineVersion: ${show(engineVersion)} is not an OpenSearch version; use one like "OpenSearch_2.19"`,
    );
  }
  const instanceCount = integer(
    os.instanceCount,
    `${op}.instanceCount`,
    { min: 1, max: 80 },
    dos.instanceCount,
  );
  const ar = object(o.archive, `${p}.archive`);
  const arp = `${p}.archive`;
  onlyKeys(ar, arp, ["glacierAfterDays", "expireAfterDays"]);
  const glacierAfterDays = integer(
    ar.glacierAfterDays,
    `${arp}.glacierAfterDays`,
    { min: 1, max: 3650 },
    DEFAULTS.storage.archive.glacierAfterDays,
  );
  const expireAfterDays = integer(
    ar.expireAfterDays,
    `${arp}.expireAfterDays`,
    { min: 2, max: 36500 },
    DEFAULTS.storage.archive.expireAfterDays,
  );
  if (expireAfterDays <= glacierAfterDays) {
    throw new ConfigError(
      `${arp}.expireAfterDays: ${expireAfterDays} is not after glacierAfterDays (${glacierAfterDays}); use a value above ${glacierAfterDays}`,
    );
  }
  return {
    redis: {
      nodeType,
      engineVersion: string(r.engineVersion, `${rp}.engineVersion`, dr.engineVersion),
      replicas: integer(r.replicas, `${rp}.replicas`, { min: 1, max: 5 }, dr.replicas),
      globalDatastore: { role, primaryStack, secondaryRegions, writeStack },
    },
    opensearch: {
      serviceLinkedRole: oneOf(
        os.serviceLinkedRole,
        `${op}.serviceLinkedRole`,
        ["create", "exists"],
        dos.serviceLinkedRole,
      ),
      engineVersion,
      instanceType: string(os.instanceType, `${op}.instanceType`, dos.instanceType),
      instanceCount,
      volumeSizeGiB: integer(
        os.volumeSizeGiB,
        `${op}.volumeSizeGiB`,
        { min: 10, max: 16384 },
        dos.volumeSizeGiB,
      ),
    },
    archive: { glacierAfterDays, expireAfterDays },
  };
}

function parseFederation(o: Raw, region: string): RegionConfig["federation"] {
  const p = K("federation");
  onlyKeys(o, p, ["peers", "allowedCidrs"]);
  const peers = array(o.peers, `${p}.peers`).map((item, i) => {
    const ip = `${p}.peers[${i}]`;
    const peer = object(item, ip);
    onlyKeys(peer, ip, ["region", "stack"]);
    const peerRegion = string(peer.region, `${ip}.region`);
    if (!REGION_RE.test(peerRegion))
      throw new ConfigError(
        `${ip}.region: ${show(peerRegion)} is not an AWS region name; use one like "eu-west-1"`,
      );
    if (peerRegion === region) {
      throw new ConfigError(
        `${ip}.region: ${show(peerRegion)} is this stack's own region; a region does not federate with itself`,
      );
    }
    const stack = string(peer.stack, `${ip}.stack`);
    if (!/^[\w.-]+\/[\w.-]+\/[\w.-]+$/.test(stack)) {
      throw new ConfigError(
        `${ip}.stack: ${show(stack)} is not a fully qualified stack name; use "<org>/<project>/<stack>"`,
      );
    }
    return { region: peerRegion, stack };
  });
  const regions = peers.map((x) => x.region);
  regions.forEach((r, i) => {
    if (regions.indexOf(r) !== i)
      throw new ConfigError(
        `${p}.peers[${i}].region: ${show(r)} is listed twice; list each peer region once`,
      );
  });
  const allowedCidrs = stringArray(o.allowedCidrs, `${p}.allowedCidrs`).map((c, i) => {
    if (c === "0.0.0.0/0") {
      throw new ConfigError(
        `${p}.allowedCidrs[${i}]: "0.0.0.0/0" opens the broker to everyone; list the peer VPC blocks instead`,
      );
    }
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(c);
    if (
      m === null ||
      m.slice(1, 5).some((x) => Number(x) > 255) ||
      Number(m[5]) < 8 ||
      Number(m[5]) > 32
    ) {
      throw new ConfigError(
        `${p}.allowedCidrs[${i}]: ${show(c)} is not an IPv4 CIDR; use a block like "10.1.0.0/16"`,
      );
    }
    return c;
  });
  return { peers, allowedCidrs };
}
