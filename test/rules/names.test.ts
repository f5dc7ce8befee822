/**
 * Physical names (item 8 of issue 9): two stacks of one region share no physical name, every
 * name AWS requires unique carries the stack, and names fit their services' limits.
 */
import { describe, expect, it } from "vitest";
import { explicitNames } from "../../cli/rules/names.js";
import type { PlannedResource } from "../../cli/rules/rule.js";
import { carriesStack, physicalName, stackHash } from "../../components/config/physicalNames.js";
import {
  contextOf,
  expectPasses,
  expectRejects,
  planOf,
  setPath,
  withResource,
} from "./support.js";

const REDIS = "aws:elasticache/replicationGroup:ReplicationGroup::taskfleet-storage-redis";
const DOMAIN = "aws:opensearch/domain:Domain::taskfleet-storage-events";
const BROKER = "kubernetes:apps/v1:StatefulSet::taskfleet-broker";

describe("physicalName", () => {
  it("is <stack>-<purpose> when it fits", () => {
    expect(physicalName("prod-us-east-1", "events", 28)).toBe("prod-us-east-1-events");
    expect(physicalName("Prod_EU", "results", 40)).toBe("prod-eu-results");
  });

  it("cuts a long stack short with its hash, so two long stacks stay apart", () => {
    const a = physicalName("prod-ap-southeast-1-blue", "events", 28);
    const b = physicalName("prod-ap-southeast-1-green", "events", 28);
    expect(a).toBe(`prod-ap-southe-${stackHash("prod-ap-southeast-1-blue")}-events`);
    expect(a.length).toBeLessThanOrEqual(28);
    expect(a).not.toBe(b);
    expect(carriesStack(a, "prod-ap-southeast-1-blue")).toBe(true);
    expect(carriesStack(a, "prod-ap-southeast-1-green")).toBe(false);
  });

  it("starts with a letter", () => {
    expect(physicalName("1st", "events", 28)).toBe("s1st-events");
  });
});

describe("two stacks in one region and account", () => {
  it("dev and prod-us-east-1 (both us-east-1) share no physical name, and each carries its stack", async () => {
    const names = async (stack: string) =>
      explicitNames((await planOf(stack)).resources).map(
        (n) => `${n.resource.type} ${n.field}=${n.value}`,
      );
    const dev = await names("dev");
    const prod = await names("prod-us-east-1");
    // The names AWS requires unique that both stacks create: result store, event store, archive.
    for (const list of [dev, prod]) {
      expect(list.some((n) => n.includes("replicationGroupId="))).toBe(true);
      expect(list.some((n) => n.includes("domainName="))).toBe(true);
      expect(list.some((n) => n.includes("bucketPrefix="))).toBe(true);
    }
    expect(dev.filter((n) => prod.includes(n))).toEqual([]);
    expect(prod).toEqual(
      expect.arrayContaining([
        "aws:elasticache/replicationGroup:ReplicationGroup replicationGroupId=prod-us-east-1-results",
        "aws:opensearch/domain:Domain domainName=prod-us-east-1-events",
        "aws:eks/cluster:Cluster name=prod-us-east-1-eks",
        "aws:iam/role:Role namePrefix=prod-us-east-1-eks-cluster-",
      ]),
    );
    expect(dev).toContain(
      "aws:elasticache/replicationGroup:ReplicationGroup replicationGroupId=dev-results",
    );
  });
});

describe("physical-name-per-stack", () => {
  it("passes on the shipped stacks", async () => {
    expectPasses("physical-name-per-stack", await contextOf("prod-us-east-1"));
    expectPasses("physical-name-per-stack", await contextOf("dev"));
  });

  it("rejects a fixed replication group id that every stack would share", async () => {
    const ctx = withResource(await contextOf("dev"), REDIS, (r) =>
      setPath(r, "inputs.replicationGroupId", "taskfleet-storage-redis"),
    );
    expectRejects("physical-name-per-stack", ctx, {
      resource: REDIS,
      field: "replicationGroupId",
      problem:
        '"taskfleet-storage-redis" does not carry the stack "dev", and it must be unique in the region: a second stack in the account fails with "already exists"',
      fix: 'use physicalName(stack, purpose, 40) (here "dev-purpose"), or leave the name to Pulumi\'s autonaming',
    });
  });
});

describe("physical-name-limits", () => {
  it("passes on the shipped stacks", async () => {
    expectPasses("physical-name-limits", await contextOf("prod-ap-southeast-1"));
  });

  it("rejects an OpenSearch domain name over 28 characters", async () => {
    const ctx = withResource(await contextOf("prod-ap-southeast-1"), DOMAIN, (r) =>
      setPath(r, "inputs.domainName", "prod-ap-southeast-1-event-store"),
    );
    expectRejects("physical-name-limits", ctx, {
      resource: DOMAIN,
      field: "domainName",
      problem: /^"prod-ap-southeast-1-event-store" has 31 characters; the limit is 28 \(https:/,
      fix: "name it with physicalName(stack, purpose, 28) from components/config/physicalNames.ts",
    });
  });

  it("rejects a load balancer name over 32 characters and a target group with a bad character", async () => {
    const ctx = await contextOf("prod-us-east-1");
    const extra = (
      type: string,
      name: string,
      inputs: Record<string, unknown>,
    ): PlannedResource => ({
      type,
      name,
      custom: true,
      inputs,
      dependsOn: [],
      protect: false,
      ignoreChanges: [],
    });
    const found = expectRejects(
      "physical-name-limits",
      {
        ...ctx,
        resources: [
          ...ctx.resources,
          extra("aws:lb/loadBalancer:LoadBalancer", "api", {
            name: "prod-us-east-1-task-api-internal-lb",
          }),
          extra("aws:lb/targetGroup:TargetGroup", "api", { name: "prod_api" }),
        ],
      },
      { resource: "aws:lb/loadBalancer:LoadBalancer::api", field: "name" },
    );
    expect(found.map((v) => v.problem)).toEqual([
      expect.stringMatching(
        /^"prod-us-east-1-task-api-internal-lb" has 35 characters; the limit is 32/,
      ),
      expect.stringMatching(/^"prod_api" is not allowed: use letters, digits and hyphens/),
    ]);
  });

  it("rejects an S3 bucket prefix with capitals", async () => {
    const key = "aws:s3/bucket:Bucket::taskfleet-storage-archive";
    const ctx = withResource(await contextOf("dev"), key, (r) =>
      setPath(r, "inputs.bucketPrefix", "Dev-archive-"),
    );
    expectRejects("physical-name-limits", ctx, { resource: key, field: "bucketPrefix" });
  });
});

describe("kubernetes-object-names", () => {
  it("passes on the shipped stacks", async () => {
    expectPasses("kubernetes-object-names", await contextOf("prod-us-east-1"));
  });

  it("rejects a StatefulSet name over 52 characters (its revision-hash label would exceed 63)", async () => {
    const long = "taskfleet-broker-with-a-rather-long-name-for-a-cluster";
    const ctx = withResource(await contextOf("prod-us-east-1"), BROKER, (r) =>
      setPath(r, "inputs.metadata.name", long),
    );
    expectRejects("kubernetes-object-names", ctx, {
      resource: BROKER,
      field: "metadata.name",
      problem: `"${long}" (${long.length} characters) is not a DNS-1123 label of at most 52 characters`,
    });
  });
});
