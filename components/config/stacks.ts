/**
 * Checks that only make sense across the stacks of one deployment: the Global Datastore has one
 * primary and at most two secondaries that all point at it and match its shape, at most one stack
 * creates OpenSearch's account-wide service-linked role, federation peers name stacks that exist,
 * and VPC blocks do not overlap (federation links cross VPC peering).
 * Pure: takes the parsed configs, so `taskfleet plan` and the tests run it without a cloud.
 */
import { ConfigError, show } from "./errors.js";
import type { RegionConfig } from "./regionConfig.js";

export interface NamedStack {
  /** Fully qualified name, `<org>/<project>/<stack>`. */
  readonly fullName: string;
  readonly config: RegionConfig;
}

const GD = "taskfleet:storage.redis.globalDatastore";

function cidrRange(cidr: string): [number, number] {
  const [ip, bits] = cidr.split("/") as [string, string];
  const base = ip.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(bits));
  const start = base - (base % size);
  return [start, start + size - 1];
}

/** Stack references are matched on their last segment, so the organization may differ per backend. */
function shortName(fullName: string): string {
  return fullName.split("/").pop() ?? fullName;
}

export function validateStacks(stacks: readonly NamedStack[]): void {
  const byName = new Map(stacks.map((s) => [shortName(s.fullName), s]));
  const primaries = stacks.filter((s) => s.config.storage.redis.globalDatastore.role === "primary");
  const secondaries = stacks.filter(
    (s) => s.config.storage.redis.globalDatastore.role === "secondary",
  );
  if (primaries.length > 1) {
    throw new ConfigError(
      `${GD}.role: "primary" is set in ${primaries.length} stacks (${primaries.map((s) => s.fullName).join(", ")}); exactly one stack may be the primary`,
    );
  }
  if (secondaries.length > 2) {
    throw new ConfigError(
      `${GD}.role: "secondary" is set in ${secondaries.length} stacks (${secondaries.map((s) => s.fullName).join(", ")}); a Global Datastore has at most 2 secondaries`,
    );
  }
  for (const s of secondaries) {
    const gd = s.config.storage.redis.globalDatastore;
    const primary = byName.get(shortName(gd.primaryStack ?? ""));
    if (primary === undefined || primary.config.storage.redis.globalDatastore.role !== "primary") {
      throw new ConfigError(
        `${GD}.primaryStack: ${show(gd.primaryStack)} in ${s.fullName} is not a stack with role "primary"; use ${primaries.length === 1 ? show(primaries[0]!.fullName) : "the primary's stack name"}`,
      );
    }
    const allowed = primary.config.storage.redis.globalDatastore.secondaryRegions;
    if (!allowed.includes(s.config.region)) {
      throw new ConfigError(
        `${GD}.secondaryRegions: ${show(allowed)} in ${primary.fullName} does not list ${show(s.config.region)}, which ${s.fullName} joins as a secondary; add it`,
      );
    }
    const a = primary.config.storage.redis;
    const b = s.config.storage.redis;
    // Members inherit node type and engine version from the Global Datastore; replica counts may differ.
    for (const key of ["nodeType", "engineVersion"] as const) {
      if (a[key] !== b[key]) {
        throw new ConfigError(
          `taskfleet:storage.redis.${key}: ${show(b[key])} in ${s.fullName} differs from the primary's ${show(a[key])} in ${primary.fullName}; members of a Global Datastore must match`,
        );
      }
    }
  }
  // OpenSearch's service-linked role is account-wide: a second stack creating it fails with
  // "Service role name AWSServiceRoleForAmazonOpenSearchService has been taken in this account"
  // (IAM CreateServiceLinkedRole). The stacks of one folder deploy to one account.
  const creators = stacks.filter((s) => s.config.storage.opensearch.serviceLinkedRole === "create");
  if (creators.length > 1) {
    throw new ConfigError(
      `taskfleet:storage.opensearch.serviceLinkedRole: "create" is set in ${creators.length} stacks (${creators.map((s) => s.fullName).join(", ")}); OpenSearch's service-linked role is one per AWS account, so exactly one stack (the first deployed) may create it; set "exists" in the others`,
    );
  }
  for (const s of stacks) {
    s.config.federation.peers.forEach((peer, i) => {
      const other = byName.get(shortName(peer.stack));
      if (other === undefined) return; // a peer outside this folder (another deployment) is allowed
      if (other.config.region !== peer.region) {
        throw new ConfigError(
          `taskfleet:federation.peers[${i}].region: ${show(peer.region)} in ${s.fullName} does not match ${peer.stack}, which deploys ${show(other.config.region)}`,
        );
      }
    });
  }
  const created = stacks.filter(
    (s) => s.config.network.existingVpcId === undefined && s.config.environment === "prod",
  );
  for (let i = 0; i < created.length; i++) {
    for (let j = i + 1; j < created.length; j++) {
      const x = created[i]!;
      const y = created[j]!;
      const [a0, a1] = cidrRange(x.config.network.cidr);
      const [b0, b1] = cidrRange(y.config.network.cidr);
      if (a0 <= b1 && b0 <= a1) {
        throw new ConfigError(
          `taskfleet:network.cidr: ${show(y.config.network.cidr)} in ${y.fullName} overlaps ${show(x.config.network.cidr)} in ${x.fullName}; federated regions need non-overlapping VPC blocks`,
        );
      }
    }
  }
}
