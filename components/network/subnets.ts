/**
 * Subnet layout of a region's VPC, as plain data. Private subnets (everything but load
 * balancers) take three quarters of the block, one quarter each; the public subnets (internet
 * load balancers and NAT gateways only) take a sixteenth each from the last quarter.
 * Pure: no Pulumi import.
 */

export interface SubnetPlan {
  readonly zone: string;
  readonly privateCidr: string;
  readonly publicCidr: string;
}

function toInt(ip: string): number {
  return ip.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
}

function toIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

/** Splits `cidr` (a /16 to /20, as the config allows) over the given zones (three). */
export function planSubnets(cidr: string, zones: readonly string[]): SubnetPlan[] {
  const [ip, bitsText] = cidr.split("/") as [string, string];
  const bits = Number(bitsText);
  const size = 2 ** (32 - bits);
  const base = toInt(ip) - (toInt(ip) % size);
  const quarter = size / 4;
  const sixteenth = size / 16;
  if (zones.length > 3) throw new Error(`planSubnets: ${zones.length} zones; the layout holds 3`);
  return zones.map((zone, i) => ({
    zone,
    privateCidr: `${toIp(base + i * quarter)}/${bits + 2}`,
    publicCidr: `${toIp(base + 3 * quarter + i * sixteenth)}/${bits + 4}`,
  }));
}

/** Tags that let Kubernetes put internal / internet-facing load balancers in the right subnets. */
export const PRIVATE_SUBNET_TAGS = Object.freeze({ "kubernetes.io/role/internal-elb": "1" });
export const PUBLIC_SUBNET_TAGS = Object.freeze({ "kubernetes.io/role/elb": "1" });
