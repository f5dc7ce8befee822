import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { DEFAULTS, parseRegionConfig } from "../../../components/config/regionConfig.js";
import {
  decodeConfigValue,
  PROGRAM_KEYS,
  readStackValues,
} from "../../../components/config/stackValues.js";
import { validateStacks } from "../../../components/config/stacks.js";
import { planRegion } from "../../../components/regionPlan.js";
import { EKS_ACCESS } from "../support.js";

const base = { region: "eu-west-1" };
const parse = (extra: Record<string, unknown>) => () => parseRegionConfig({ ...base, ...extra });

describe("parseRegionConfig: defaults", () => {
  it("fills every section from DEFAULTS", () => {
    const c = parseRegionConfig(base);
    expect(c.network).toMatchObject({
      cidr: "10.0.0.0/16",
      availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
    });
    expect(c.cluster).toMatchObject({
      mode: "eks",
      kubernetesVersion: "1.33",
      endpointPublicAccess: true,
      publicAccessCidrs: [],
      adminRoleArns: [],
    });
    expect(c.brokerCluster).toMatchObject({
      volumeType: "gp3",
      iops: 3000,
      throughputMiBps: 125,
      volumeSizeGiB: 200,
    });
    expect(
      c.workers.pools.map((p) => [
        p.name,
        p.queue,
        p.concurrency,
        p.maxConcurrency,
        p.minConcurrency,
        p.cpu,
        p.memoryMiB,
      ]),
    ).toEqual([
      ["high_priority", "high_priority", 10, 50, 10, "2", 4096],
      ["default", "default", 20, 50, 10, "1", 2048],
    ]);
    expect(c.storage.redis).toMatchObject({
      nodeType: DEFAULTS.storage.redis.nodeType,
      globalDatastore: { role: "none" },
    });
  });

  it("matches the defaults Pulumi.yaml declares, and Pulumi.yaml declares every key with type, description and default", () => {
    const doc = YAML.parse(
      readFileSync(new URL("../../../Pulumi.yaml", import.meta.url), "utf8"),
    ) as {
      config: Record<string, { type: string; description: string; default: unknown }>;
    };
    expect(Object.keys(doc.config).sort()).toEqual(
      PROGRAM_KEYS.map((k) => `taskfleet:${k}`).sort(),
    );
    for (const [key, decl] of Object.entries(doc.config)) {
      expect([key, typeof decl.type, typeof decl.description, decl.default === undefined]).toEqual([
        key,
        "string",
        "string",
        false,
      ]);
    }
    const fromYaml = Object.fromEntries(
      Object.entries(doc.config)
        .filter(([k]) => k !== "taskfleet:broker")
        .map(([k, d]) => [k.slice("taskfleet:".length), d.default]),
    );
    expect(parseRegionConfig({ ...fromYaml, region: "eu-west-1" })).toEqual(
      parseRegionConfig(base),
    );
  });
});

describe("parseRegionConfig: exact messages", () => {
  const cases: [string, Record<string, unknown>, string][] = [
    [
      "unknown top-level key",
      { netwrok: {} },
      "taskfleet:netwrok: unknown key; allowed keys are taskfleet:region, taskfleet:environment, taskfleet:network, taskfleet:cluster, taskfleet:brokerCluster, taskfleet:workers, taskfleet:ingress, taskfleet:storage, taskfleet:federation, taskfleet:alerting, taskfleet:broker",
    ],
    [
      "bad region",
      { region: "europe" },
      'taskfleet:region: "europe" is not an AWS region name; use one like "us-east-1"',
    ],
    [
      "environment",
      { environment: "staging" },
      'taskfleet:environment: "staging" is not allowed; use one of "prod", "dev"',
    ],
    [
      "cidr too small",
      { network: { cidr: "10.0.0.0/24" } },
      'taskfleet:network.cidr: "10.0.0.0/24" is not usable; use an IPv4 CIDR from /16 to /20 like "10.0.0.0/16"',
    ],
    [
      "two zones",
      { network: { availabilityZones: ["eu-west-1a", "eu-west-1b"] } },
      'taskfleet:network.availabilityZones: ["eu-west-1a","eu-west-1b"] has 2 zones; list exactly 3 zones of eu-west-1',
    ],
    [
      "zone of another region",
      { network: { availabilityZones: ["eu-west-1a", "eu-west-1b", "us-east-1c"] } },
      'taskfleet:network.availabilityZones[2]: "us-east-1c" is not a zone of eu-west-1; use names like "eu-west-1a"',
    ],
    [
      "typo in network",
      { network: { cdir: "10.0.0.0/16" } },
      "taskfleet:network.cdir: unknown key; allowed keys are cidr, availabilityZones, existingVpcId, existingPrivateSubnetIds, existingPublicSubnetIds",
    ],
    [
      "cluster mode",
      { cluster: { mode: "gke" } },
      'taskfleet:cluster.mode: "gke" is not allowed; use one of "eks", "existing"',
    ],
    [
      "existing without kubeconfig",
      { cluster: { mode: "existing" } },
      'taskfleet:cluster.kubeconfig: missing for mode "existing"; set the path of the cluster\'s kubeconfig file',
    ],
    [
      "gp3 iops",
      { brokerCluster: { iops: 20000 } },
      "taskfleet:brokerCluster.iops: 20000 is out of range; use an integer from 3000 to 16000",
    ],
    [
      "io2 without iops",
      { brokerCluster: { volumeType: "io2" } },
      'taskfleet:brokerCluster.iops: missing for volumeType "io2"; set the provisioned IOPS, from 100 to 256000',
    ],
    [
      "io2 iops per GiB",
      { brokerCluster: { volumeType: "io2", volumeSizeGiB: 10, iops: 20000 } },
      "taskfleet:brokerCluster.iops: 20000 exceeds 1000 IOPS per GiB of volumeSizeGiB (10); use at most 10000 or a larger volume",
    ],
    [
      "volume type",
      { brokerCluster: { volumeType: "gp2" } },
      'taskfleet:brokerCluster.volumeType: "gp2" is not allowed; use one of "gp3", "io2"',
    ],
    [
      "cpu quantity",
      { brokerCluster: { cpu: "two" } },
      'taskfleet:brokerCluster.cpu: "two" is not a CPU quantity; use cores like "2" or "1.5", or millicores like "500m"',
    ],
    [
      "pool name",
      { workers: { pools: [{ name: "High-Priority" }] } },
      'taskfleet:workers.pools[0].name: "High-Priority" is not a pool name; use lowercase letters, digits and "_", starting with a letter, at most 31 characters',
    ],
    [
      "duplicate pool",
      { workers: { pools: [{ name: "a" }, { name: "a" }] } },
      'taskfleet:workers.pools[1].name: "a" is already used by pools[0]; pool names must be unique',
    ],
    [
      "autoscale inverted",
      {
        workers: { pools: [{ name: "a", autoscale: { minConcurrency: 20, maxConcurrency: 10 } }] },
      },
      "taskfleet:workers.pools[0].autoscale.minConcurrency: 20 exceeds maxConcurrency (10); use a value from 1 to 10",
    ],
    [
      "replicas inverted",
      { workers: { pools: [{ name: "a", autoscale: { minReplicas: 5, maxReplicas: 2 } }] } },
      "taskfleet:workers.pools[0].autoscale.minReplicas: 5 exceeds maxReplicas (2); use a value from 0 to 2",
    ],
    [
      "priority",
      { workers: { pools: [{ name: "a", priority: "urgent" }] } },
      'taskfleet:workers.pools[0].priority: "urgent" is not allowed; use one of "high", "default", "low"',
    ],
    [
      "no pools",
      { workers: { pools: [] } },
      "taskfleet:workers.pools: [] is empty; list at least one worker pool",
    ],
    [
      "hostname without zone",
      { ingress: { hostname: "api.example.com" } },
      "taskfleet:ingress.hostedZoneId: missing; set hostname and hostedZoneId together, or neither (no DNS record)",
    ],
    [
      "three secondaries",
      {
        storage: {
          redis: {
            globalDatastore: {
              role: "primary",
              secondaryRegions: ["us-east-1", "ap-southeast-1", "us-west-2"],
            },
          },
        },
      },
      'taskfleet:storage.redis.globalDatastore.secondaryRegions: ["us-east-1","ap-southeast-1","us-west-2"] lists 3 regions; a Global Datastore has one primary and at most 2 secondary regions',
    ],
    [
      "secondary without primary",
      { storage: { redis: { globalDatastore: { role: "secondary" } } } },
      'taskfleet:storage.redis.globalDatastore.primaryStack: missing for role "secondary"; set the primary region\'s stack, like "acme/taskfleet/prod-us-east-1"',
    ],
    [
      "global datastore node type",
      {
        storage: { redis: { nodeType: "cache.t4g.medium", globalDatastore: { role: "primary" } } },
      },
      'taskfleet:storage.redis.nodeType: "cache.t4g.medium" cannot join a Global Datastore; use size large or above of m5, m6g, m7g, r5, r6g, r6gd, r7g or c7gn',
    ],
    [
      "own region as secondary",
      {
        storage: {
          redis: { globalDatastore: { role: "primary", secondaryRegions: ["eu-west-1"] } },
        },
      },
      'taskfleet:storage.redis.globalDatastore.secondaryRegions[0]: "eu-west-1" is this stack\'s own region; list other regions',
    ],
    [
      "broker image without a version",
      { brokerCluster: { image: "rabbitmq:latest" } },
      'taskfleet:brokerCluster.image: "rabbitmq:latest" names no RabbitMQ version; pin a tag of 3.10, 3.11, 3.12, 3.13, 4.0, 4.1, 4.2, 4.3 like "rabbitmq:4.3.5-management" (the generated rabbitmq.conf follows it)',
    ],
    [
      "broker image of a series the generator does not know",
      { brokerCluster: { image: "rabbitmq:3.9-management" } },
      'taskfleet:brokerCluster.image: "rabbitmq:3.9-management" is RabbitMQ 3.9, a series the broker generator does not know; pin a tag of 3.10, 3.11, 3.12, 3.13, 4.0, 4.1, 4.2, 4.3 like "rabbitmq:4.3.5-management" (the generated rabbitmq.conf follows it)',
    ],
    [
      "result store in cluster mode (shards)",
      { storage: { redis: { shards: 3 } } },
      "taskfleet:storage.redis.shards: 3 is not allowed; the result store runs with cluster mode disabled (one shard, replicas in other zones) because taskfleet's Redis client and Python Celery's Redis result backend do not follow Redis Cluster redirects (MOVED), so most keys would fail; remove shards, set replicas (1-5) and scale with a larger nodeType",
    ],
    [
      "old replicasPerShard key",
      { storage: { redis: { replicasPerShard: 2 } } },
      "taskfleet:storage.redis.replicasPerShard: renamed; the result store has one shard, so write replicas: 2",
    ],
    [
      "too many result store replicas",
      { storage: { redis: { replicas: 6 } } },
      "taskfleet:storage.redis.replicas: 6 is out of range; use an integer from 1 to 5",
    ],
    [
      "service-linked role mode",
      { storage: { opensearch: { serviceLinkedRole: "maybe" } } },
      'taskfleet:storage.opensearch.serviceLinkedRole: "maybe" is not allowed; use one of "create", "exists"',
    ],
    [
      "archive order",
      { storage: { archive: { glacierAfterDays: 90, expireAfterDays: 30 } } },
      "taskfleet:storage.archive.expireAfterDays: 30 is not after glacierAfterDays (90); use a value above 90",
    ],
    [
      "federate with self",
      { federation: { peers: [{ region: "eu-west-1", stack: "a/b/c" }] } },
      'taskfleet:federation.peers[0].region: "eu-west-1" is this stack\'s own region; a region does not federate with itself',
    ],
    [
      "peer stack name",
      { federation: { peers: [{ region: "us-east-1", stack: "prod-us-east-1" }] } },
      'taskfleet:federation.peers[0].stack: "prod-us-east-1" is not a fully qualified stack name; use "<org>/<project>/<stack>"',
    ],
    [
      "open broker",
      { federation: { allowedCidrs: ["0.0.0.0/0"] } },
      'taskfleet:federation.allowedCidrs[0]: "0.0.0.0/0" opens the broker to everyone; list the peer VPC blocks instead',
    ],
  ];
  it.each(cases)("%s", (_label, extra, message) => {
    expect(parse(extra)).toThrowError(message);
    try {
      parse(extra)();
    } catch (err) {
      expect((err as Error).message).toBe(message);
    }
  });
});

describe("planRegion: checks across the broker description", () => {
  const eks = { ...base, cluster: EKS_ACCESS };
  it("refuses a pool on a queue class the broker does not have, naming the classes", () => {
    const c = parseRegionConfig({
      ...eks,
      workers: { pools: [{ name: "reports", queue: "reports" }] },
    });
    expect(() => planRegion(c, {})).toThrowError(
      'taskfleet:workers.pools[0].queue: "reports" is not a queue class of taskfleet:broker; use one of "high_priority", "default"',
    );
  });
  it("passes the broker spec's own message through (even node count)", () => {
    expect(() => planRegion(parseRegionConfig(eks), { nodes: 4 })).toThrowError(
      /^taskfleet:broker\.nodes: 4/,
    );
  });
  it("consumes the shard queues of a sharded class", () => {
    const plan = planRegion(parseRegionConfig(eks), {
      sharding: { enabled: true, classes: ["default"], shardCount: 2 },
    });
    expect(plan.workerPools.map((p) => p.queues)).toEqual([
      ["high_priority"],
      ["default.shard.0", "default.shard.1"],
    ]);
  });
});

describe("validateStacks: across stacks", () => {
  /** One account: only the primary creates OpenSearch's service-linked role. */
  const stack = (name: string, region: string, cidr: string, gd: Record<string, unknown>) => ({
    fullName: `acme/taskfleet/${name}`,
    config: parseRegionConfig({
      region,
      network: { cidr },
      storage: {
        redis: { globalDatastore: gd },
        opensearch: { serviceLinkedRole: name === "p" ? "create" : "exists" },
      },
    }),
  });
  const primary = stack("p", "us-east-1", "10.0.0.0/16", {
    role: "primary",
    secondaryRegions: ["eu-west-1", "ap-southeast-1"],
  });
  /** A stack joining `primary`'s Global Datastore as a secondary. */
  const secondary = (name: string, region: string, cidr: string) =>
    stack(name, region, cidr, { role: "secondary", primaryStack: "acme/taskfleet/p" });
  it("allows one primary and two secondaries", () => {
    expect(() =>
      validateStacks([
        primary,
        secondary("e", "eu-west-1", "10.1.0.0/16"),
        secondary("a", "ap-southeast-1", "10.2.0.0/16"),
      ]),
    ).not.toThrow();
  });
  it("refuses a third secondary", () => {
    expect(() =>
      validateStacks([
        primary,
        secondary("e", "eu-west-1", "10.1.0.0/16"),
        secondary("a", "ap-southeast-1", "10.2.0.0/16"),
        secondary("w", "us-west-2", "10.3.0.0/16"),
      ]),
    ).toThrowError(
      'taskfleet:storage.redis.globalDatastore.role: "secondary" is set in 3 stacks (acme/taskfleet/e, acme/taskfleet/a, acme/taskfleet/w); a Global Datastore has at most 2 secondaries',
    );
  });
  it("refuses two primaries", () => {
    expect(() =>
      validateStacks([primary, stack("q", "eu-west-1", "10.1.0.0/16", { role: "primary" })]),
    ).toThrowError(
      'taskfleet:storage.redis.globalDatastore.role: "primary" is set in 2 stacks (acme/taskfleet/p, acme/taskfleet/q); exactly one stack may be the primary',
    );
  });
  it("refuses a secondary the primary does not list", () => {
    expect(() =>
      validateStacks([primary, secondary("w", "us-west-2", "10.3.0.0/16")]),
    ).toThrowError(
      'taskfleet:storage.redis.globalDatastore.secondaryRegions: ["eu-west-1","ap-southeast-1"] in acme/taskfleet/p does not list "us-west-2", which acme/taskfleet/w joins as a secondary; add it',
    );
  });
  it("refuses a second stack creating OpenSearch's account-wide service-linked role", () => {
    const creating = {
      fullName: "acme/taskfleet/e",
      config: parseRegionConfig({ region: "eu-west-1", network: { cidr: "10.1.0.0/16" } }),
    };
    expect(creating.config.storage.opensearch.serviceLinkedRole).toBe("create");
    expect(() => validateStacks([primary, creating])).toThrowError(
      'taskfleet:storage.opensearch.serviceLinkedRole: "create" is set in 2 stacks (acme/taskfleet/p, acme/taskfleet/e); OpenSearch\'s service-linked role is one per AWS account, so exactly one stack (the first deployed) may create it; set "exists" in the others',
    );
  });
  it("refuses overlapping VPC blocks", () => {
    expect(() =>
      validateStacks([primary, stack("e", "eu-west-1", "10.0.128.0/17", { role: "none" })]),
    ).toThrowError(
      'taskfleet:network.cidr: "10.0.128.0/17" in acme/taskfleet/e overlaps "10.0.0.0/16" in acme/taskfleet/p; federated regions need non-overlapping VPC blocks',
    );
  });
});

describe("stack values", () => {
  it("decodes Pulumi's JSON-encoded structured values and leaves plain strings", () => {
    expect(decodeConfigValue('{"cidr":"10.0.0.0/16"}')).toEqual({ cidr: "10.0.0.0/16" });
    expect(decodeConfigValue("us-east-1")).toBe("us-east-1");
    expect(readStackValues((k) => ({ region: "eu-west-1", broker: '{"nodes":3}' })[k])).toEqual({
      region: "eu-west-1",
      broker: { nodes: 3 },
    });
  });
});

describe("parseRegionConfig: Global Datastore write target", () => {
  it("accepts writeStack only on a secondary", () => {
    expect(
      parse({ storage: { redis: { globalDatastore: { role: "primary", writeStack: "self" } } } }),
    ).toThrowError(
      'taskfleet:storage.redis.globalDatastore.writeStack: only used with role "secondary"; remove it or set role to "secondary"',
    );
    const c = parseRegionConfig({
      ...base,
      storage: {
        redis: {
          globalDatastore: { role: "secondary", primaryStack: "a/taskfleet/p", writeStack: "self" },
        },
      },
    });
    expect(c.storage.redis.globalDatastore.writeStack).toBe("self");
  });
});
