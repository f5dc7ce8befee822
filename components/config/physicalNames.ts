/**
 * Physical names AWS requires unique (per region, per account, or across AWS) carry the stack, so
 * two stacks in one account never collide ("already exists"), and fit the service's length and
 * character rules. Pure: no Pulumi import; the components name resources with `physicalName`,
 * and the plan rules (cli/rules/names.ts) check every explicit name against `NAME_LIMITS`.
 */
import { createHash } from "node:crypto";

/** Where a name must be unique. */
export type NameScope = "region" | "account" | "global";

export interface NameLimit {
  readonly type: string;
  /** The input holding the full name. */
  readonly field: string;
  /** The input holding a prefix the provider completes with a unique suffix, if any. */
  readonly prefixField?: string;
  readonly min: number;
  readonly max: number;
  /** Longest prefix the provider accepts (max minus its suffix). */
  readonly prefixMax?: number;
  readonly pattern: RegExp;
  /** In words, for messages. */
  readonly allowed: string;
  readonly scope: NameScope;
  readonly source: string;
}

const LOWER_HYPHEN = "lowercase letters, digits and hyphens";

/** Length and character rules of the names the kit sets or may set. */
export const NAME_LIMITS: readonly NameLimit[] = [
  {
    type: "aws:elasticache/replicationGroup:ReplicationGroup",
    field: "replicationGroupId",
    min: 1,
    max: 40,
    pattern: /^[a-z](?:[a-z0-9]|-(?!-))*[a-z0-9]$|^[a-z]$/,
    allowed: `${LOWER_HYPHEN}, starting with a letter, no "--", not ending with "-"`,
    scope: "region",
    source:
      "https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateReplicationGroup.html",
  },
  {
    type: "aws:elasticache/globalReplicationGroup:GlobalReplicationGroup",
    field: "globalReplicationGroupIdSuffix",
    min: 1,
    max: 40,
    pattern: /^[a-z](?:[a-z0-9]|-(?!-))*[a-z0-9]$|^[a-z]$/,
    allowed: `${LOWER_HYPHEN}, starting with a letter, no "--", not ending with "-"`,
    scope: "account",
    source:
      "https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateGlobalReplicationGroup.html",
  },
  {
    type: "aws:opensearch/domain:Domain",
    field: "domainName",
    min: 3,
    max: 28,
    pattern: /^[a-z][a-z0-9-]*$/,
    allowed: `${LOWER_HYPHEN}, starting with a letter`,
    scope: "region",
    source:
      "https://docs.aws.amazon.com/opensearch-service/latest/developerguide/createupdatedomains.html",
  },
  {
    type: "aws:s3/bucket:Bucket",
    field: "bucket",
    prefixField: "bucketPrefix",
    min: 3,
    max: 63,
    prefixMax: 37,
    pattern: /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/,
    allowed:
      "lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit",
    scope: "global",
    source: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
  },
  {
    type: "aws:s3/bucketV2:BucketV2",
    field: "bucket",
    prefixField: "bucketPrefix",
    min: 3,
    max: 63,
    prefixMax: 37,
    pattern: /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/,
    allowed:
      "lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit",
    scope: "global",
    source: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
  },
  {
    type: "aws:iam/role:Role",
    field: "name",
    prefixField: "namePrefix",
    min: 1,
    max: 64,
    prefixMax: 38,
    pattern: /^[\w+=,.@-]+$/,
    allowed: "letters, digits and +=,.@_-",
    scope: "account",
    source: "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html",
  },
  {
    type: "aws:lb/loadBalancer:LoadBalancer",
    field: "name",
    prefixField: "namePrefix",
    min: 1,
    max: 32,
    prefixMax: 6,
    pattern: /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/,
    allowed: "letters, digits and hyphens, not starting or ending with a hyphen",
    scope: "region",
    source:
      "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html",
  },
  {
    type: "aws:lb/targetGroup:TargetGroup",
    field: "name",
    prefixField: "namePrefix",
    min: 1,
    max: 32,
    prefixMax: 6,
    pattern: /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/,
    allowed: "letters, digits and hyphens, not starting or ending with a hyphen",
    scope: "region",
    source:
      "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html",
  },
  {
    type: "aws:cloudwatch/logGroup:LogGroup",
    field: "name",
    prefixField: "namePrefix",
    min: 1,
    max: 512,
    pattern: /^[\w.\-/#]+$/,
    allowed: "letters, digits and _-./#",
    scope: "region",
    source:
      "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html",
  },
  {
    type: "aws:eks/cluster:Cluster",
    field: "name",
    min: 1,
    max: 100,
    pattern: /^[0-9A-Za-z][A-Za-z0-9_-]*$/,
    allowed: "letters, digits, hyphens and underscores, starting with a letter or digit",
    scope: "region",
    source: "https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html",
  },
  {
    type: "aws:ecr/repository:Repository",
    field: "name",
    min: 2,
    max: 256,
    pattern: /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/,
    allowed: "lowercase letters, digits and ._-/ separators",
    scope: "region",
    source: "https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html",
  },
];

/** The stack name as it appears in physical names: lowercase letters, digits, single hyphens. */
export function stackToken(stack: string): string {
  return stack
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
}

/** Six hex digits of the stack name, for names too short to hold it. */
export function stackHash(stack: string): string {
  return createHash("sha256").update(stack).digest("hex").slice(0, 6);
}

/**
 * `<stack>-<purpose>`, or when that is longer than `max`, the stack cut short with its hash:
 * `<start of stack>-<hash>-<purpose>` (the hash keeps two long stack names apart). Starts with a
 * letter (an `s` is put first when the stack starts with a digit).
 */
export function physicalName(stack: string, purpose: string, max: number): string {
  const token = stackToken(stack);
  const lead = /^[a-z]/.test(token) ? token : `s${token}`;
  const full = `${lead}-${purpose}`;
  if (full.length <= max) return full;
  const tail = `-${stackHash(stack)}-${purpose}`;
  const room = max - tail.length;
  if (room < 1) {
    throw new Error(
      `physicalName: purpose ${JSON.stringify(purpose)} leaves no room for the stack in ${max} characters`,
    );
  }
  return `${lead.slice(0, room).replace(/-+$/, "")}${tail}`;
}

/** Whether `name` (or a prefix) was made by {@link physicalName} for `stack`. */
export function carriesStack(name: string, stack: string): boolean {
  const token = stackToken(stack);
  const lead = /^[a-z]/.test(token) ? token : `s${token}`;
  return name.startsWith(`${lead}-`) || name.includes(`-${stackHash(stack)}-`);
}
