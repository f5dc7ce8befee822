import { beforeAll, describe, expect, it } from "vitest";
import {
  archiveLifecycleRules,
  openSearchDomainName,
  resultBackendUrl,
  resultStoreSettings,
  resultStoreZones,
  SECONDARY_CONFLICTING_FIELDS,
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
  it("places the result store's primary and each replica in another zone, round robin", () => {
    expect(resultStoreZones(["a", "b", "c"], 2)).toEqual(["a", "b", "c"]);
    expect(resultStoreZones(["a", "b", "c"], 4)).toEqual(["a", "b", "c", "a", "b"]);
    expect(resultStoreZones([], 2)).toEqual([]);
  });
  it("gives a Global Datastore secondary none of the fields the provider refuses beside globalReplicationGroupId", () => {
    const shape = { nodeType: "cache.r7g.large", engineVersion: "7.1", replicas: 2, zones: [] };
    const secondary = resultStoreSettings({ ...shape, role: "secondary" });
    expect(secondary).toEqual({
      numCacheClusters: 3,
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
    });
    const primary = resultStoreSettings({ ...shape, role: "primary" });
    // The primary sets the inherited fields the secondary leaves out: the list is not vacuous.
    expect(SECONDARY_CONFLICTING_FIELDS.filter((f) => f in primary).sort()).toEqual([
      "atRestEncryptionEnabled",
      "engine",
      "engineVersion",
      "nodeType",
      "transitEncryptionEnabled",
    ]);
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
          resultBackendHost: "master.primary.cache",
        },
      },
    });
    const { Storage } = await import("../../components/storage/storage.js");
    new Storage("p", {
      ...NET,
      availabilityZones: ["us-east-1a", "us-east-1b", "us-east-1c"],
      globalDatastoreRole: "primary",
      secondaryRegions: ["eu-west-1", "ap-southeast-1"],
    });
    const s = new Storage("s", {
      ...NET,
      createOpenSearchServiceLinkedRole: false,
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

  it("builds the result backend: cluster mode disabled, replicas in the other zones, Multi-AZ, TLS, AUTH token, encrypted at rest (S28–S30)", () => {
    const rg = find(primary, "aws:elasticache/replicationGroup:ReplicationGroup", "p-redis");
    expect(rg.inputs).toMatchObject({
      engine: "redis",
      clusterMode: "disabled",
      numCacheClusters: 3,
      preferredCacheClusterAzs: ["us-east-1a", "us-east-1b", "us-east-1c"],
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
      transitEncryptionEnabled: true,
      atRestEncryptionEnabled: true,
      authToken: { secret: "mock-p-redis-auth-password" },
      nodeType: "cache.r7g.large",
    });
    for (const key of ["numNodeGroups", "replicasPerNodeGroup", "parameterGroupName"]) {
      expect(rg.inputs[key]).toBeUndefined();
    }
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
      numCacheClusters: 3,
      multiAzEnabled: true,
    });
    // The provider refuses these beside globalReplicationGroupId ("conflicting configuration arguments").
    expect(SECONDARY_CONFLICTING_FIELDS.filter((f) => rg.inputs[f] !== undefined)).toEqual([]);
    expect(rg.inputs.clusterMode).toBeUndefined();
    expect(
      ofType(secondary, "aws:elasticache/globalReplicationGroup:GlobalReplicationGroup"),
    ).toEqual([]);
    expect(ofType(secondary, "random:index/randomPassword:RandomPassword")).toEqual([]);
  });

  it("sends a secondary's writes to the primary (secondaries are read-only) and reads locally", () => {
    expect(writeUrl).toBe("rediss://:primary-token@master.primary.cache:6379/0");
    expect(readUrl).toBe("rediss://:primary-token@master.s-redis.cache.mock:6379/0");
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

  it("creates OpenSearch's service-linked role before the VPC domain, unless the stack says it exists", () => {
    const role = find(primary, "aws:iam/serviceLinkedRole:ServiceLinkedRole", "p-search-role");
    expect(role.inputs.awsServiceName).toBe("opensearchservice.amazonaws.com");
    expect(ofType(secondary, "aws:iam/serviceLinkedRole:ServiceLinkedRole")).toEqual([]);
    expect(find(primary, "aws:opensearch/domain:Domain", "p-events").dependsOn).toContain(
      "aws:iam/serviceLinkedRole:ServiceLinkedRole::p-search-role",
    );
    expect(
      find(secondary, "aws:opensearch/domain:Domain", "s-events").dependsOn.filter((d) =>
        d.startsWith("aws:iam/serviceLinkedRole:"),
      ),
    ).toEqual([]);
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
