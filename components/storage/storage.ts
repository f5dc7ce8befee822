import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { physicalName } from "../config/physicalNames.js";
import {
  archiveLifecycleRules,
  MAX_RESULT_STORE_REPLICAS,
  OPENSEARCH_SERVICE,
  PRIMARY_OUTPUTS,
  resultBackendUrl,
  resultStoreSettings,
} from "./storagePlan.js";

/** Arguments of {@link Storage}. */
export interface StorageArgs {
  /** VPC of the region. @default - required */
  readonly vpcId: pulumi.Input<string>;
  /** The VPC's block; only it may reach Redis and OpenSearch. @default - required */
  readonly vpcCidr: pulumi.Input<string>;
  /** Private subnets (three zones) for Redis and OpenSearch. @default - required */
  readonly privateSubnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Zones of `privateSubnetIds`, in order: the result store's primary goes to the first, each
   * replica to the next. Empty leaves placement to ElastiCache (e.g. an existing VPC).
   * @default []
   */
  readonly availabilityZones?: readonly string[];
  /** ElastiCache node type; Global Datastore members need large or above of m5/m6g/m7g/r5/r6g/r6gd/r7g/c7gn. @default "cache.r7g.large" */
  readonly redisNodeType?: string;
  /** Redis engine version (5.0.6 or later for a Global Datastore). @default "7.1" */
  readonly redisEngineVersion?: string;
  /**
   * Read replicas of the result store (1–5), each in another zone than the primary when zones
   * allow (S30). The store has one shard: cluster mode is disabled (see resultStoreSettings).
   * @default 2
   */
  readonly redisReplicas?: number;
  /**
   * This region's part in the Global Datastore (S10): `primary` creates it, `secondary` joins the
   * one published by `primaryStack`, `none` stays regional.
   * @default "none"
   */
  readonly globalDatastoreRole?: "primary" | "secondary" | "none";
  /** Secondary only: the primary's stack, read through a StackReference. @default - required for "secondary" */
  readonly primaryStack?: string;
  /**
   * Secondary only: the stack whose result backend takes writes (its `resultBackendHost` output),
   * because Global Datastore secondaries are read-only. After a promotion, name the promoted
   * region's stack, or `"self"` in the promoted region itself (see docs/deploy.md).
   * @default - primaryStack
   */
  readonly writeStack?: string;
  /** Primary only: the regions allowed to join, at most two (AWS limit). @default [] */
  readonly secondaryRegions?: readonly string[];
  /**
   * Whether this stack creates the account-wide service-linked role that OpenSearch needs to put
   * a domain in a VPC (`opensearchservice.amazonaws.com`). Exactly one stack per account creates
   * it; the others, and accounts that already have it, say `false`. @default true
   */
  readonly createOpenSearchServiceLinkedRole?: boolean;
  /**
   * The stack, carried by every physical name AWS requires unique (replication group, Global
   * Datastore suffix, OpenSearch domain, archive bucket prefix), so two stacks in one account
   * never collide (components/config/physicalNames.ts).
   * @default name
   */
  readonly stack?: string;
  /** OpenSearch engine version. @default "OpenSearch_2.19" */
  readonly openSearchEngineVersion?: string;
  /** OpenSearch data node type. @default "r6g.large.search" */
  readonly openSearchInstanceType?: string;
  /** OpenSearch data nodes. @default 3 */
  readonly openSearchInstanceCount?: number;
  /** EBS (gp3) per OpenSearch data node, GiB. @default 100 */
  readonly openSearchVolumeSizeGiB?: number;
  /** Days before archived objects move to Glacier (S33). @default 30 */
  readonly archiveGlacierAfterDays?: number;
  /** Days before archived objects are deleted. @default 365 */
  readonly archiveExpireAfterDays?: number;
  /** Tags added to every resource. @default {} */
  readonly tags?: Record<string, string>;
}

export const STORAGE_DEFAULTS = Object.freeze({
  redisNodeType: "cache.r7g.large",
  redisEngineVersion: "7.1",
  redisReplicas: 2,
  createOpenSearchServiceLinkedRole: true,
  globalDatastoreRole: "none" as const,
  openSearchEngineVersion: "OpenSearch_2.19",
  openSearchInstanceType: "r6g.large.search",
  openSearchInstanceCount: 3,
  openSearchVolumeSizeGiB: 100,
  archiveGlacierAfterDays: 30,
  archiveExpireAfterDays: 365,
  redisPort: 6379,
});

/**
 * The storage layer of a region: the result backend as an ElastiCache (Redis OSS) replication
 * group with cluster mode disabled — one primary and its replicas in other zones, Multi-AZ, TLS
 * in transit, AUTH token, encrypted at rest — that creates or joins a Global Datastore; the event
 * and log store as an OpenSearch domain inside the VPC (with the service-linked role OpenSearch
 * needs for that, unless the account has it), encrypted at rest and between nodes, HTTPS only; an
 * S3 archive bucket, encrypted and private, with lifecycle rules to Glacier and expiry.
 */
export class Storage extends pulumi.ComponentResource {
  public static readonly TOKEN = "taskfleet:storage:Storage";
  /** Primary endpoint of the Redis replication group (read-only in a secondary). */
  public readonly resultBackendHost: pulumi.Output<string>;
  /** AUTH token (secret). */
  public readonly resultBackendAuthToken: pulumi.Output<string>;
  /** `rediss://:<token>@<host>:6379/0` of this region's cluster (secret; read-only in a secondary). */
  public readonly resultBackendUrl: pulumi.Output<string>;
  /** URL that takes writes: this region's, or the primary's for a secondary (secret). */
  public readonly resultBackendWriteUrl: pulumi.Output<string>;
  /** The Global Datastore id (primary and secondaries), empty when the role is `none`. */
  public readonly globalDatastoreId: pulumi.Output<string>;
  public readonly openSearchEndpoint: pulumi.Output<string>;
  public readonly archiveBucket: pulumi.Output<string>;

  constructor(name: string, args: StorageArgs, opts: pulumi.ComponentResourceOptions = {}) {
    const d = STORAGE_DEFAULTS;
    const role = args.globalDatastoreRole ?? d.globalDatastoreRole;
    const replicas = args.redisReplicas ?? d.redisReplicas;
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_RESULT_STORE_REPLICAS) {
      throw new Error(
        `redisReplicas: ${replicas} is not allowed; use 1 to ${MAX_RESULT_STORE_REPLICAS} (Multi-AZ failover needs a replica; ElastiCache allows at most ${MAX_RESULT_STORE_REPLICAS})`,
      );
    }
    const secondaries = args.secondaryRegions ?? [];
    if (secondaries.length > 2) {
      throw new Error(
        `secondaryRegions: ${JSON.stringify(secondaries)} lists ${secondaries.length} regions; a Global Datastore has one primary and at most 2 secondaries`,
      );
    }
    if (role === "secondary" && args.primaryStack === undefined) {
      throw new Error(
        `primaryStack: missing for globalDatastoreRole "secondary"; name the primary region's stack`,
      );
    }
    super(Storage.TOKEN, name, {}, opts);
    const stack = args.stack ?? name;
    const tags = args.tags ?? {};
    const parent = { parent: this };

    // ---- result backend (Redis) ----
    const redisSg = new aws.ec2.SecurityGroup(
      `${name}-redis`,
      {
        vpcId: args.vpcId,
        description: "taskfleet result backend: Redis TLS from inside the VPC only",
        ingress: [
          {
            protocol: "tcp",
            fromPort: d.redisPort,
            toPort: d.redisPort,
            cidrBlocks: [args.vpcCidr],
            description: "Redis from the VPC",
          },
        ],
        egress: [
          {
            protocol: "-1",
            fromPort: 0,
            toPort: 0,
            cidrBlocks: [args.vpcCidr],
            description: "replies inside the VPC",
          },
        ],
        tags,
      },
      parent,
    );
    const subnetGroup = new aws.elasticache.SubnetGroup(
      `${name}-redis`,
      { subnetIds: args.privateSubnetIds, description: "taskfleet result backend", tags },
      parent,
    );
    let authToken: pulumi.Output<string>;
    let globalId: pulumi.Output<string> | undefined;
    let writeHost: pulumi.Output<string> | undefined;
    if (role === "secondary") {
      const primary = new pulumi.StackReference(
        `${name}-primary`,
        { name: args.primaryStack! },
        parent,
      );
      globalId = primary.requireOutput(PRIMARY_OUTPUTS.globalDatastoreId) as pulumi.Output<string>;
      authToken = pulumi.secret(
        primary.requireOutput(PRIMARY_OUTPUTS.authToken) as pulumi.Output<string>,
      );
      const writeStack = args.writeStack ?? args.primaryStack!;
      if (writeStack !== "self") {
        const writer =
          writeStack === args.primaryStack
            ? primary
            : new pulumi.StackReference(`${name}-writer`, { name: writeStack }, parent);
        writeHost = writer.requireOutput(PRIMARY_OUTPUTS.host) as pulumi.Output<string>;
      }
    } else {
      const token = new random.RandomPassword(
        `${name}-redis-auth`,
        // ElastiCache AUTH tokens: 16–128 printable characters without @, ", / or spaces.
        { length: 64, special: true, overrideSpecial: "!&#$^<>-" },
        parent,
      );
      authToken = token.result;
    }
    // Only the plain settings differ by role; a secondary sets none of the fields that conflict
    // with globalReplicationGroupId (storagePlan.ts, SECONDARY_CONFLICTING_FIELDS).
    const group = new aws.elasticache.ReplicationGroup(
      `${name}-redis`,
      {
        ...resultStoreSettings({
          role,
          nodeType: args.redisNodeType ?? d.redisNodeType,
          engineVersion: args.redisEngineVersion ?? d.redisEngineVersion,
          replicas,
          zones: args.availabilityZones ?? [],
        }),
        replicationGroupId: physicalName(stack, "results", 40),
        description: `taskfleet result backend (${name})`,
        subnetGroupName: subnetGroup.name,
        securityGroupIds: [redisSg.id],
        authToken,
        ...(role === "secondary" ? { globalReplicationGroupId: globalId! } : {}),
        tags,
      },
      parent,
    );
    if (role === "primary") {
      const global = new aws.elasticache.GlobalReplicationGroup(
        `${name}-global`,
        {
          globalReplicationGroupIdSuffix: physicalName(stack, "results", 40),
          primaryReplicationGroupId: group.id,
          globalReplicationGroupDescription: `taskfleet result backend; secondaries: ${secondaries.join(", ") || "none yet"}`,
        },
        // After a manual promotion AWS moves the primary elsewhere; do not fight it (docs/deploy.md).
        { parent: this, ignoreChanges: ["primaryReplicationGroupId"] },
      );
      globalId = global.globalReplicationGroupId;
    }
    // Cluster mode disabled: clients use the primary endpoint (there is no configuration endpoint).
    this.resultBackendHost = group.primaryEndpointAddress;
    this.resultBackendAuthToken = pulumi.secret(authToken);
    this.resultBackendUrl = pulumi.secret(
      pulumi
        .all([group.primaryEndpointAddress, authToken])
        .apply(([host, token]) => resultBackendUrl(host, token, d.redisPort)),
    );
    this.resultBackendWriteUrl = pulumi.secret(
      pulumi
        .all([writeHost ?? group.primaryEndpointAddress, authToken])
        .apply(([host, token]) => resultBackendUrl(host, token, d.redisPort)),
    );
    this.globalDatastoreId = globalId ?? pulumi.output("");

    // ---- event and log store (OpenSearch) ----
    const count = args.openSearchInstanceCount ?? d.openSearchInstanceCount;
    const zones = count >= 3 ? 3 : count === 2 ? 2 : 1;
    const osSg = new aws.ec2.SecurityGroup(
      `${name}-search`,
      {
        vpcId: args.vpcId,
        description: "taskfleet event store: HTTPS from inside the VPC only",
        ingress: [
          {
            protocol: "tcp",
            fromPort: 443,
            toPort: 443,
            cidrBlocks: [args.vpcCidr],
            description: "HTTPS from the VPC",
          },
        ],
        tags,
      },
      parent,
    );
    // A VPC domain needs OpenSearch's service-linked role in the account; AWS refuses the domain
    // until it exists. The role is account-wide (one per account), so one stack creates it.
    const serviceLinkedRole =
      (args.createOpenSearchServiceLinkedRole ?? d.createOpenSearchServiceLinkedRole)
        ? new aws.iam.ServiceLinkedRole(
            `${name}-search-role`,
            {
              awsServiceName: OPENSEARCH_SERVICE,
              description: "OpenSearch Service: place taskfleet's domains in a VPC",
              tags,
            },
            // Account-wide: other stacks' domains may use it, so destroying this stack leaves it.
            { parent: this, retainOnDelete: true },
          )
        : undefined;
    const identity = aws.getCallerIdentityOutput({}, parent);
    const partition = aws.getPartitionOutput({}, parent);
    const domainName = physicalName(stack, "events", 28);
    const domain = new aws.opensearch.Domain(
      `${name}-events`,
      {
        domainName,
        engineVersion: args.openSearchEngineVersion ?? d.openSearchEngineVersion,
        clusterConfig: {
          instanceType: args.openSearchInstanceType ?? d.openSearchInstanceType,
          instanceCount: count,
          zoneAwarenessEnabled: zones > 1,
          zoneAwarenessConfig: zones > 1 ? { availabilityZoneCount: zones } : undefined,
        },
        ebsOptions: {
          ebsEnabled: true,
          volumeType: "gp3",
          volumeSize: args.openSearchVolumeSizeGiB ?? d.openSearchVolumeSizeGiB,
        },
        vpcOptions: {
          subnetIds: pulumi.output(args.privateSubnetIds).apply((ids) => ids.slice(0, zones)),
          securityGroupIds: [osSg.id],
        },
        encryptAtRest: { enabled: true },
        nodeToNodeEncryption: { enabled: true },
        domainEndpointOptions: {
          enforceHttps: true,
          tlsSecurityPolicy: "Policy-Min-TLS-1-2-2019-07",
        },
        accessPolicies: pulumi
          .all([identity.accountId, partition.partition])
          .apply(([account, part]) =>
            JSON.stringify({
              Version: "2012-10-17",
              Statement: [
                {
                  Effect: "Allow",
                  Principal: { AWS: `arn:${part}:iam::${account}:root` },
                  Action: "es:ESHttp*",
                  Resource: `arn:${part}:es:*:${account}:domain/${domainName}/*`,
                },
              ],
            }),
          ),
        tags,
      },
      serviceLinkedRole ? { parent: this, dependsOn: [serviceLinkedRole] } : parent,
    );
    this.openSearchEndpoint = domain.endpoint;

    // ---- archive (S3) ----
    const bucket = new aws.s3.Bucket(
      `${name}-archive`,
      // S3 completes the prefix with a unique suffix (bucket names are global across AWS).
      { bucketPrefix: `${physicalName(stack, "archive", 36)}-`, forceDestroy: false, tags },
      parent,
    );
    new aws.s3.BucketPublicAccessBlock(
      `${name}-archive`,
      {
        bucket: bucket.id,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
      parent,
    );
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-archive`,
      {
        bucket: bucket.id,
        rules: [
          {
            applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" },
            bucketKeyEnabled: true,
          },
        ],
      },
      parent,
    );
    new aws.s3.BucketVersioning(
      `${name}-archive`,
      { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } },
      parent,
    );
    new aws.s3.BucketLifecycleConfiguration(
      `${name}-archive`,
      {
        bucket: bucket.id,
        rules: archiveLifecycleRules(
          args.archiveGlacierAfterDays ?? d.archiveGlacierAfterDays,
          args.archiveExpireAfterDays ?? d.archiveExpireAfterDays,
        ),
      },
      parent,
    );
    this.archiveBucket = bucket.bucket;

    this.registerOutputs({
      resultBackendHost: this.resultBackendHost,
      resultBackendAuthToken: this.resultBackendAuthToken,
      resultBackendUrl: this.resultBackendUrl,
      resultBackendWriteUrl: this.resultBackendWriteUrl,
      globalDatastoreId: this.globalDatastoreId,
      openSearchEndpoint: this.openSearchEndpoint,
      archiveBucket: this.archiveBucket,
    });
  }
}
