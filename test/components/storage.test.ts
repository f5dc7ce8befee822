import { beforeAll, describe, expect, it } from "vitest";
import {
  archiveLifecycleRules,
  openSearchDomainName,
  resultBackendUrl,
} from "../../components/storage/storagePlan.js";
import { valueOf } from "../../cli/planEngine.js";
import { find, mocked, ofType, type RecordedResource } from "./support.js";

describe("storage plan (pure)", () => {
  it("keeps OpenSearch domain names within AWS's 28 lowercase characters", () => {
    expect(openSearchDomainName("taskfleet-storage-events")).toBe("taskfleet-storage-events");
    expect(openSearchDomainName("Taskfleet_Prod_AP_Southeast_1-storage-events")).toBe(
      "taskfleet-prod-ap-southeast",
    );
  });
  it("writes the result-backend URL with TLS and the URL-encoded AUTH token (S29)", () => {
    expect(resultBackendUrl("clustercfg.x.cache.amazonaws.com", "a#b$c")).toBe(
      "rediss://:a%23b%24c@clustercfg.x.cache.amazonaws.com:6379/0",
    );
  });
  it("moves archives to Glacier, then expires them (S33)", () => {
    expect(archiveLifecycleRules(30, 365)[0]).toMatchObject({
      status: "Enabled",
      transitions: [{ days: 30, storageClass: "GLACIER" }],
      expiration: { days: 365 },
    });
  });
});

const NET = {
  vpcId: "vpc-1",
  vpcCidr: "10.0.0.0/16",
  privateSubnetIds: ["subnet-a", "subnet-b", "subnet-c"],
};

describe("Storage", () => {
  let primary: RecordedResource[];
  let secondary: RecordedResource[];
  let writeUrl: string;
  let readUrl: string;
  beforeAll(async () => {
    const engine = await mocked({
      stackOutputs: {
        "acme/taskfleet/prod-us-east-1": {
          resultBackendGlobalDatastoreId: "ldgnf-results",
          resultBackendAuthToken: "primary-token",
          resultBackendHost: "clustercfg.primary.cache",
        },
      },
    });
    const { Storage } = await import("../../components/storage/storage.js");
    new Storage("p", {
      ...NET,
      globalDatastoreRole: "primary",
      secondaryRegions: ["eu-west-1", "ap-southeast-1"],
    });
    const s = new Storage("s", {
      ...NET,
      globalDatastoreRole: "secondary",
      primaryStack: "acme/taskfleet/prod-us-east-1",
    });
    writeUrl = await valueOf(s.resultBackendWriteUrl);
    readUrl = await valueOf(s.resultBackendUrl);
    await engine.settle();
    primary = engine.resources.filter((r) => r.name === "p" || r.name.startsWith("p-"));
    secondary = engine.resources.filter((r) => r.name === "s" || r.name.startsWith("s-"));
  });

  it("parents every child to the component", () => {
    for (const r of primary.filter((x) => x.name !== "p")) {
      expect([r.name, r.parent, r.parentType]).toEqual([r.name, "p", "taskfleet:storage:Storage"]);
    }
  });

  it("builds the result backend: cluster mode, Multi-AZ, TLS, AUTH token, encrypted at rest (S28–S30)", () => {
    const rg = find(primary, "aws:elasticache/replicationGroup:ReplicationGroup", "p-redis");
    expect(rg.inputs).toMatchObject({
      engine: "redis",
      clusterMode: "enabled",
      numNodeGroups: 3,
      replicasPerNodeGroup: 2,
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
      transitEncryptionEnabled: true,
      atRestEncryptionEnabled: true,
      authToken: { secret: "mock-p-redis-auth-password" },
      nodeType: "cache.r7g.large",
    });
    const sg = find(primary, "aws:ec2/securityGroup:SecurityGroup", "p-redis");
    expect(sg.inputs.ingress).toEqual([
      expect.objectContaining({ fromPort: 6379, toPort: 6379, cidrBlocks: ["10.0.0.0/16"] }),
    ]);
  });

  it("creates the Global Datastore in the primary region from its replication group", () => {
    const g = find(
      primary,
      "aws:elasticache/globalReplicationGroup:GlobalReplicationGroup",
      "p-global",
    );
    expect(g.inputs).toMatchObject({
      primaryReplicationGroupId: "p-redis-id",
      globalReplicationGroupIdSuffix: "p-results",
    });
  });

  it("joins a secondary by the id and token the primary's stack publishes, without shape settings", () => {
    expect(find(secondary, "pulumi:pulumi:StackReference", "s-primary").inputs).toMatchObject({
      name: "acme/taskfleet/prod-us-east-1",
    });
    const rg = find(secondary, "aws:elasticache/replicationGroup:ReplicationGroup", "s-redis");
    expect(rg.inputs).toMatchObject({
      globalReplicationGroupId: "ldgnf-results",
      authToken: { secret: "primary-token" },
      transitEncryptionEnabled: true,
    });
    expect(rg.inputs.numNodeGroups).toBeUndefined();
    expect(rg.inputs.nodeType).toBeUndefined();
    expect(
      ofType(secondary, "aws:elasticache/globalReplicationGroup:GlobalReplicationGroup"),
    ).toEqual([]);
    expect(ofType(secondary, "random:index/randomPassword:RandomPassword")).toEqual([]);
  });

  it("sends a secondary's writes to the primary (secondaries are read-only) and reads locally", () => {
    expect(writeUrl).toBe("rediss://:primary-token@clustercfg.primary.cache:6379/0");
    expect(readUrl).toBe("rediss://:primary-token@clustercfg.s-redis.cache.mock:6379/0");
  });

  it("puts OpenSearch in the VPC, encrypted at rest and node to node, HTTPS only (S32)", () => {
    const d = find(primary, "aws:opensearch/domain:Domain", "p-events");
    expect(d.inputs).toMatchObject({
      encryptAtRest: { enabled: true },
      nodeToNodeEncryption: { enabled: true },
      domainEndpointOptions: { enforceHttps: true },
      vpcOptions: { subnetIds: ["subnet-a", "subnet-b", "subnet-c"] },
      clusterConfig: {
        instanceCount: 3,
        zoneAwarenessEnabled: true,
        zoneAwarenessConfig: { availabilityZoneCount: 3 },
      },
    });
  });

  it("keeps the archive bucket private and encrypted, with lifecycle to Glacier and expiry", () => {
    expect(
      find(primary, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "p-archive").inputs,
    ).toMatchObject({
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    expect(
      find(
        primary,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "p-archive",
      ).inputs.rules,
    ).toEqual([
      { applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" }, bucketKeyEnabled: true },
    ]);
    const lc = find(
      primary,
      "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
      "p-archive",
    );
    expect(lc.inputs.rules).toEqual([
      expect.objectContaining({
        transitions: [{ days: 30, storageClass: "GLACIER" }],
        expiration: { days: 365 },
      }),
    ]);
  });

  it("refuses more than two secondaries before registering anything", async () => {
    const engine = await mocked();
    const { Storage } = await import("../../components/storage/storage.js");
    expect(
      () =>
        new Storage("x", {
          ...NET,
          globalDatastoreRole: "primary",
          secondaryRegions: ["eu-west-1", "ap-southeast-1", "us-west-2"],
        }),
    ).toThrow(
      'secondaryRegions: ["eu-west-1","ap-southeast-1","us-west-2"] lists 3 regions; a Global Datastore has one primary and at most 2 secondaries',
    );
    await engine.settle();
    expect(engine.resources).toEqual([]);
  });
});
