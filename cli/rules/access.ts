/**
 * Who reaches the EKS API server, from where: a plan where `pulumi up` cannot talk to the cluster
 * it just created (endpoint unreachable from the deployer, or the deployer not admitted) fails
 * at the first Kubernetes object, after the cluster exists.
 */
import {
  arr,
  keyOf,
  obj,
  ofType,
  str,
  transitiveDependencies,
  type PlannedResource,
  type Rule,
  type RuleContext,
  type Violation,
} from "./rule.js";

const CLUSTER = "aws:eks/cluster:Cluster";
const ACCESS_ENTRY = "aws:eks/accessEntry:AccessEntry";
const ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation";
const INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";
const K8S_PROVIDER = "pulumi:providers:kubernetes";
export const CLUSTER_ADMIN_POLICY = "cluster-access-policy/AmazonEKSClusterAdminPolicy";

/** The Kubernetes providers whose kubeconfig comes from `cluster`. */
function providersOf(ctx: RuleContext, cluster: PlannedResource): PlannedResource[] {
  return ofType(ctx, K8S_PROVIDER).filter((p) =>
    transitiveDependencies(ctx.resources, p).has(keyOf(cluster)),
  );
}

function environmentOf(ctx: RuleContext, cluster: PlannedResource): string {
  return str(obj(cluster.inputs.tags)["taskfleet:environment"]) ?? ctx.config.environment;
}

// A public endpoint without publicAccessCidrs is open to 0.0.0.0/0 (the EKS default); a private
// endpoint answers only inside the VPC or networks routed to it, through the cluster security
// group. Source: https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html
export const eksEndpointReachable: Rule = {
  id: "eks-endpoint-reachable",
  description:
    "The deployer reaches the EKS API server: a public endpoint limited to listed networks (never 0.0.0.0/0 in prod), or a private one with the deployer's networks admitted on 443 before any Kubernetes call",
  source: "https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html",
  check(ctx) {
    const out: Violation[] = [];
    for (const c of ofType(ctx, CLUSTER)) {
      const vpc = obj(c.inputs.vpcConfig);
      const isPublic = vpc.endpointPublicAccess !== false; // AWS's default is public
      const cidrs = arr(vpc.publicAccessCidrs).filter((x): x is string => typeof x === "string");
      if (isPublic && cidrs.length === 0) {
        out.push({
          resource: keyOf(c),
          field: "vpcConfig.publicAccessCidrs",
          problem: "the public endpoint has no CIDR list, so EKS opens it to 0.0.0.0/0",
          fix: "list the deployers' networks in taskfleet:cluster.publicAccessCidrs",
        });
      }
      const open = cidrs.find((x) => x.endsWith("/0"));
      if (isPublic && open !== undefined && environmentOf(ctx, c) === "prod") {
        out.push({
          resource: keyOf(c),
          field: "vpcConfig.publicAccessCidrs",
          problem: `${open} opens a prod API server to the internet`,
          fix: "list the deployers' networks in taskfleet:cluster.publicAccessCidrs",
        });
      }
      if (!isPublic) {
        if (vpc.endpointPrivateAccess !== true) {
          out.push({
            resource: keyOf(c),
            field: "vpcConfig.endpointPrivateAccess",
            problem: "neither a public nor a private endpoint: nothing reaches the API server",
            fix: "set endpointPrivateAccess: true",
          });
        }
        const admitted = ofType(ctx, INGRESS_RULE).filter(
          (r) =>
            r.dependsOn.includes(keyOf(c)) &&
            Number(r.inputs.fromPort) <= 443 &&
            Number(r.inputs.toPort) >= 443,
        );
        if (admitted.length === 0) {
          out.push({
            resource: keyOf(c),
            field: "vpcConfig.endpointPublicAccess",
            problem:
              "the endpoint is private and no network is admitted to the cluster security group on 443, so a deployer outside the nodes cannot reach it",
            fix: "list the deployers' networks (routed to the VPC) in taskfleet:cluster.privateAccessCidrs, or make the endpoint public with publicAccessCidrs",
          });
        }
        for (const p of providersOf(ctx, c)) {
          const deps = transitiveDependencies(ctx.resources, p);
          const missing = admitted.filter((r) => !deps.has(keyOf(r)));
          if (missing.length > 0) {
            out.push({
              resource: keyOf(p),
              field: "dependsOn",
              problem: `does not wait for ${missing.map(keyOf).join(", ")}, so the first Kubernetes calls may time out`,
              fix: "add the ingress rules to the provider's dependsOn",
            });
          }
        }
      }
    }
    return out;
  },
};

// With authenticationMode API (or API_AND_CONFIG_MAP) a principal needs an access entry and an
// access policy association; with bootstrapClusterCreatorAdminPermissions the creator gets an
// implicit entry, and an explicit entry for the same principal fails with 409
// ResourceInUseException ("already in use on this cluster").
// Sources: https://docs.aws.amazon.com/eks/latest/userguide/access-entries.html and
// https://github.com/terraform-aws-modules/terraform-aws-eks/issues/2968
export const eksAccessEntries: Rule = {
  id: "eks-access-entries",
  description:
    "The EKS cluster uses access entries, the deploy role has a cluster-admin access entry and policy association, no implicit creator entry collides with them, and the Kubernetes provider waits for them",
  source: "https://docs.aws.amazon.com/eks/latest/userguide/access-entries.html",
  check(ctx) {
    const out: Violation[] = [];
    const entries = ofType(ctx, ACCESS_ENTRY);
    const associations = ofType(ctx, ASSOCIATION);
    for (const c of ofType(ctx, CLUSTER)) {
      const access = obj(c.inputs.accessConfig);
      const mode = str(access.authenticationMode) ?? "CONFIG_MAP";
      if (mode !== "API" && mode !== "API_AND_CONFIG_MAP") {
        out.push({
          resource: keyOf(c),
          field: "accessConfig.authenticationMode",
          problem: `${JSON.stringify(mode)} ignores access entries`,
          fix: 'use "API" (or "API_AND_CONFIG_MAP")',
        });
      }
      const mine = entries.filter((e) => e.dependsOn.includes(keyOf(c)));
      if (access.bootstrapClusterCreatorAdminPermissions !== false && mine.length > 0) {
        out.push({
          resource: keyOf(c),
          field: "accessConfig.bootstrapClusterCreatorAdminPermissions",
          problem:
            "the creator gets an implicit access entry, and the explicit entry for the same role (the deploy role creates the cluster) fails with 409 ResourceInUseException",
          fix: "set it to false and give every principal an explicit entry",
        });
      }
      const admins = associations.filter(
        (a) =>
          a.dependsOn.includes(keyOf(c)) &&
          (str(a.inputs.policyArn) ?? "").endsWith(CLUSTER_ADMIN_POLICY) &&
          obj(a.inputs.accessScope).type === "cluster",
      );
      const adminPrincipals = new Set(admins.map((a) => str(a.inputs.principalArn)));
      const deploy = ctx.config.cluster.deployRoleArn;
      if (deploy === undefined || !adminPrincipals.has(deploy)) {
        out.push({
          resource: keyOf(c),
          field: "accessConfig",
          problem: `the deploy role ${deploy ?? "(none)"} has no cluster-admin access policy association, so pulumi up gets 401 Unauthorized at the first Kubernetes object`,
          fix: "set taskfleet:cluster.deployRoleArn (it gets an AccessEntry and an AmazonEKSClusterAdminPolicy association)",
        });
      }
      for (const e of mine) {
        const principal = str(e.inputs.principalArn);
        const granted = associations.some((a) => str(a.inputs.principalArn) === principal);
        if (!granted && arr(e.inputs.kubernetesGroups).length === 0) {
          out.push({
            resource: keyOf(e),
            field: "principalArn",
            problem: `${principal} has an access entry with no policy association and no Kubernetes group: it is admitted and may do nothing`,
            fix: "associate an access policy (AmazonEKSClusterAdminPolicy for admins)",
          });
        }
      }
      for (const p of providersOf(ctx, c)) {
        const deps = transitiveDependencies(ctx.resources, p);
        const missing = admins.filter((a) => !deps.has(keyOf(a)));
        if (missing.length > 0) {
          out.push({
            resource: keyOf(p),
            field: "dependsOn",
            problem: `does not wait for ${missing.map(keyOf).join(", ")}, so Kubernetes objects may be sent before the deployer is admitted (401)`,
            fix: "add the access policy associations to the provider's dependsOn",
          });
        }
      }
    }
    return out;
  },
};
