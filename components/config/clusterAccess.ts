/**
 * How the deployer reaches an EKS cluster's API server and who may use it
 * (`taskfleet:cluster.endpointPublicAccess`, `publicAccessCidrs`, `privateAccessCidrs`,
 * `deployRoleArn`, `adminRoleArns`). Pure: no Pulumi import.
 *
 * The default is a public endpoint restricted to the deployers' networks: `pulumi up` runs on CI
 * runners or laptops outside the VPC, and the first `pulumi up` of an empty account creates the
 * VPC and the cluster in the same run as the Kubernetes objects, so a runner inside the VPC could
 * not exist yet. IAM still authenticates every request (access entries); the CIDR list narrows
 * who may try. A private endpoint is for deployers already inside a network routed to the VPC
 * (VPN, Direct Connect, a peered VPC): list those networks in `privateAccessCidrs`.
 */
import { ConfigError, show } from "./errors.js";
import { boolean, optionalString, stringArray, type Raw } from "./read.js";

export interface ClusterAccessConfig {
  /** Whether the API server has a public endpoint (it always has a private one). */
  readonly endpointPublicAccess: boolean;
  /** Networks allowed to the public endpoint (required when it is public). */
  readonly publicAccessCidrs: readonly string[];
  /** Networks inside or routed to the VPC allowed to the private endpoint (port 443). */
  readonly privateAccessCidrs: readonly string[];
  /** The IAM role `pulumi up` runs as (CI): a cluster-admin access entry. */
  readonly deployRoleArn?: string;
  /** People's IAM roles: cluster-admin access entries. */
  readonly adminRoleArns: readonly string[];
}

export const ACCESS_KEYS = [
  "endpointPublicAccess",
  "publicAccessCidrs",
  "privateAccessCidrs",
  "deployRoleArn",
  "adminRoleArns",
] as const;

export const ACCESS_DEFAULTS = Object.freeze({ endpointPublicAccess: true });

/**
 * EKS accepts at most 40 public access CIDR blocks per cluster ("Public endpoint access CIDR
 * ranges per cluster", https://docs.aws.amazon.com/eks/latest/userguide/service-quotas.html).
 */
export const MAX_PUBLIC_ACCESS_CIDRS = 40;

const CIDR_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
/** An IAM role ARN (with an optional path); an assumed-role (STS) ARN is not a principal EKS accepts. */
const ROLE_ARN_RE = /^arn:aws(-cn|-us-gov)?:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;

function cidrs(value: unknown, path: string): string[] {
  return stringArray(value, path).map((c, i) => {
    const m = CIDR_RE.exec(c);
    if (m === null || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) > 32) {
      throw new ConfigError(
        `${path}[${i}]: ${show(c)} is not an IPv4 CIDR; use a block like "203.0.113.0/24"`,
      );
    }
    return c;
  });
}

function roleArn(value: string, path: string): string {
  if (!ROLE_ARN_RE.test(value)) {
    const hint = value.includes(":assumed-role/")
      ? "that is a session (assumed-role) ARN; give the role's ARN, "
      : "";
    throw new ConfigError(
      `${path}: ${show(value)} is not an IAM role ARN; ${hint}use one like "arn:aws:iam::111122223333:role/taskfleet-deploy"`,
    );
  }
  return value;
}

export function parseClusterAccess(o: Raw, p: string, environment: string): ClusterAccessConfig {
  const endpointPublicAccess = boolean(
    o.endpointPublicAccess,
    `${p}.endpointPublicAccess`,
    ACCESS_DEFAULTS.endpointPublicAccess,
  );
  const publicAccessCidrs = cidrs(o.publicAccessCidrs, `${p}.publicAccessCidrs`);
  const privateAccessCidrs = cidrs(o.privateAccessCidrs, `${p}.privateAccessCidrs`);
  if (!endpointPublicAccess && publicAccessCidrs.length > 0) {
    throw new ConfigError(
      `${p}.publicAccessCidrs: set while endpointPublicAccess is false; remove it or make the endpoint public`,
    );
  }
  if (publicAccessCidrs.length > MAX_PUBLIC_ACCESS_CIDRS) {
    throw new ConfigError(
      `${p}.publicAccessCidrs: ${publicAccessCidrs.length} blocks; EKS accepts at most ${MAX_PUBLIC_ACCESS_CIDRS}`,
    );
  }
  const open = publicAccessCidrs.findIndex((c) => c.endsWith("/0"));
  if (open >= 0 && environment === "prod") {
    throw new ConfigError(
      `${p}.publicAccessCidrs[${open}]: ${show(publicAccessCidrs[open])} opens the prod API server to the internet; list the networks pulumi up runs from (CI runners' egress, VPN)`,
    );
  }
  const deploy = optionalString(o.deployRoleArn, `${p}.deployRoleArn`);
  const adminRoleArns = stringArray(o.adminRoleArns, `${p}.adminRoleArns`).map((a, i) =>
    roleArn(a, `${p}.adminRoleArns[${i}]`),
  );
  return {
    endpointPublicAccess,
    publicAccessCidrs,
    privateAccessCidrs,
    deployRoleArn: deploy === undefined ? undefined : roleArn(deploy, `${p}.deployRoleArn`),
    adminRoleArns,
  };
}

/**
 * What an EKS stack must say before anything is created: how `pulumi up` reaches the API server
 * and as whom. Called by planRegion for mode "eks".
 */
export function requireClusterAccess(a: ClusterAccessConfig, p: string): void {
  if (a.endpointPublicAccess && a.publicAccessCidrs.length === 0) {
    throw new ConfigError(
      `${p}.publicAccessCidrs: missing; the public endpoint would be open to 0.0.0.0/0 (the EKS default). List the networks pulumi up runs from (CI runners' egress, VPN), or set endpointPublicAccess: false and privateAccessCidrs to deploy from inside the VPC`,
    );
  }
  if (!a.endpointPublicAccess && a.privateAccessCidrs.length === 0) {
    throw new ConfigError(
      `${p}.privateAccessCidrs: missing with endpointPublicAccess: false; nothing outside the VPC reaches a private endpoint, so list the networks inside or routed to the VPC (VPN, peered VPC) pulumi up runs from, or make the endpoint public with publicAccessCidrs`,
    );
  }
  if (a.deployRoleArn === undefined) {
    throw new ConfigError(
      `${p}.deployRoleArn: missing; set the IAM role pulumi up runs as (it gets a cluster-admin access entry; no other principal is admitted implicitly), like "arn:aws:iam::111122223333:role/taskfleet-deploy"`,
    );
  }
}
