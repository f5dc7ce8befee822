/**
 * CrossGuard policies for the EKS control plane: how far its API server is exposed. The same
 * facts are plan rules too (cli/rules/access.ts); the pack enforces them on every real
 * `pulumi preview`/`up`, where values come from the engine rather than from mocks.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";

const EKS_CLUSTER = "aws:eks/cluster:Cluster";

type Props = Record<string, unknown>;
const obj = (v: unknown): Props =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Props) : {};

// An EKS public endpoint without publicAccessCidrs is open to 0.0.0.0/0, EKS's default
// (https://docs.aws.amazon.com/eks/latest/APIReference/API_VpcConfigRequest.html, publicAccessCidrs).
// The environment comes from the `taskfleet:environment` tag every taskfleet resource carries.
export const eksPublicEndpointRestricted: ResourceValidationPolicy = {
  name: "eks-public-endpoint-restricted",
  description:
    "An EKS cluster's public API endpoint lists the networks allowed to it; a prod cluster never allows 0.0.0.0/0.",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== EKS_CLUSTER) return;
    const vpc = obj(args.props.vpcConfig);
    if (vpc.endpointPublicAccess === false) return;
    const raw = vpc.publicAccessCidrs;
    // Unknown during a preview (computed): nothing to judge yet.
    if (raw !== undefined && !Array.isArray(raw)) return;
    const cidrs = (raw ?? []).filter((c): c is string => typeof c === "string");
    if (cidrs.length === 0) {
      report(
        `EKS cluster ${args.name}: vpcConfig.publicAccessCidrs is empty with a public endpoint, so EKS opens it to 0.0.0.0/0; list the deployers' networks in taskfleet:cluster.publicAccessCidrs`,
      );
      return;
    }
    const prod = obj(args.props.tags)["taskfleet:environment"] === "prod";
    const open = cidrs.filter((c) => c.endsWith("/0"));
    if (prod && open.length > 0) {
      report(
        `EKS cluster ${args.name}: vpcConfig.publicAccessCidrs allows ${open.join(", ")} on a prod cluster; list the deployers' networks instead`,
      );
    }
  },
};
