/**
 * Pure parts of the storage layer: names AWS restricts, the archive's lifecycle rules, the
 * result-backend URL in the format the runtime and Celery read (S29). No Pulumi import.
 */

/**
 * Fields the AWS provider refuses on a replication group that joins a Global Datastore: its
 * schema declares `ConflictsWith: global_replication_group_id` for exactly these, and a plan that
 * sets one fails with "conflicting configuration arguments" before AWS is called. A secondary
 * inherits them from the Global Datastore. Source: hashicorp/terraform-provider-aws,
 * internal/service/elasticache/replication_group.go (schema of `global_replication_group_id`),
 * which @pulumi/aws wraps; names here are the Pulumi (camelCase) spellings.
 */
export const SECONDARY_CONFLICTING_FIELDS = Object.freeze([
  "numNodeGroups",
  "parameterGroupName",
  "engine",
  "engineVersion",
  "nodeType",
  "securityGroupNames",
  "transitEncryptionEnabled",
  "transitEncryptionMode",
  "atRestEncryptionEnabled",
  "snapshotArns",
  "snapshotName",
] as const);

/**
 * ElastiCache (Redis OSS) allows at most 5 read replicas in a cluster-mode-disabled replication
 * group (AWS ElastiCache user guide, "Replication: cluster mode disabled vs enabled"); Multi-AZ
 * with automatic failover needs at least one.
 */
export const MAX_RESULT_STORE_REPLICAS = 5;

/**
 * The zones of a cluster-mode-disabled replication group's nodes, in node order (the first is the
 * primary's): one node per zone, round robin, so each replica sits in another zone than the
 * primary while there are zones left. `preferredCacheClusterAzs` takes this list.
 */
export function resultStoreZones(zones: readonly string[], replicas: number): string[] {
  if (zones.length === 0) return [];
  return Array.from({ length: replicas + 1 }, (_, i) => zones[i % zones.length]!);
}

/** Plain settings of the result store's replication group (no Outputs; the component adds those). */
export interface ResultStoreSettings {
  readonly role: "primary" | "secondary" | "none";
  readonly nodeType: string;
  readonly engineVersion: string;
  readonly replicas: number;
  /** Zones of the region's private subnets; empty leaves placement to ElastiCache. */
  readonly zones: readonly string[];
}

/**
 * The inputs of the result store's replication group that are plain values. Cluster mode is
 * disabled: one shard (a primary and `replicas` replicas in other zones), because taskfleet's
 * ioredis client and Python Celery's Redis result backend are standalone clients that do not
 * follow MOVED redirects. A Global Datastore secondary sets only what a member may set (see
 * SECONDARY_CONFLICTING_FIELDS); it also leaves snapshots to the primary.
 */
export function resultStoreSettings(s: ResultStoreSettings): Record<string, unknown> {
  const zones = resultStoreZones(s.zones, s.replicas);
  const common = {
    numCacheClusters: s.replicas + 1,
    automaticFailoverEnabled: true,
    multiAzEnabled: true,
    ...(zones.length > 0 ? { preferredCacheClusterAzs: zones } : {}),
  };
  if (s.role === "secondary") return common;
  return {
    ...common,
    engine: "redis",
    engineVersion: s.engineVersion,
    nodeType: s.nodeType,
    clusterMode: "disabled",
    port: 6379,
    transitEncryptionEnabled: true,
    atRestEncryptionEnabled: true,
    snapshotRetentionLimit: 7,
  };
}

/**
 * The service whose service-linked role (`AWSServiceRoleForAmazonOpenSearchService`) must exist
 * before OpenSearch creates a domain inside a VPC (OpenSearch Service developer guide, "Using
 * service-linked roles to create VPC domains"). The role is account-wide: one per account.
 */
export const OPENSEARCH_SERVICE = "opensearchservice.amazonaws.com";

/** Stack outputs the primary region publishes for the secondaries of its Global Datastore. */
export const PRIMARY_OUTPUTS = Object.freeze({
  globalDatastoreId: "resultBackendGlobalDatastoreId",
  authToken: "resultBackendAuthToken",
  /** Every region publishes its own primary endpoint; writers use the primary region's. */
  host: "resultBackendHost",
});

/** OpenSearch domain names: 3–28 characters, lowercase letters, digits and hyphens, starting with a letter. */
export function openSearchDomainName(name: string): string {
  const clean = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^[^a-z]+/, "");
  const cut = clean.slice(0, 28).replace(/-+$/, "");
  if (cut.length < 3)
    throw new Error(
      `openSearchDomainName: ${JSON.stringify(name)} gives ${JSON.stringify(cut)}, under 3 characters`,
    );
  return cut;
}

/** ElastiCache ids: 1–40 characters, lowercase letters, digits and hyphens, no double hyphen. */
export function replicationGroupId(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^[^a-z]+/, "")
    .slice(0, 40)
    .replace(/-+$/, "");
}

/** Archive lifecycle (S33): to Glacier after `glacierAfterDays`, deleted after `expireAfterDays`. */
export interface LifecycleRule {
  id: string;
  status: "Enabled";
  filter: { prefix: string };
  transitions: { days: number; storageClass: "GLACIER" }[];
  expiration: { days: number };
  noncurrentVersionExpiration: { noncurrentDays: number };
  abortIncompleteMultipartUpload: { daysAfterInitiation: number };
}

export function archiveLifecycleRules(
  glacierAfterDays: number,
  expireAfterDays: number,
): LifecycleRule[] {
  return [
    {
      id: "archive-then-expire",
      status: "Enabled",
      filter: { prefix: "" },
      transitions: [{ days: glacierAfterDays, storageClass: "GLACIER" }],
      expiration: { days: expireAfterDays },
      noncurrentVersionExpiration: { noncurrentDays: 30 },
      abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
    },
  ];
}

/**
 * The result-backend URL: TLS (`rediss`), the AUTH token as password, the replication group's
 * primary endpoint. The token is URL-encoded.
 */
export function resultBackendUrl(host: string, authToken: string, port = 6379): string {
  return `rediss://:${encodeURIComponent(authToken)}@${host}:${port}/0`;
}
