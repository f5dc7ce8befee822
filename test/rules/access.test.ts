/** Who reaches the EKS API server and from where (item 1 of issue 9). */
import { describe, expect, it } from "vitest";
import {
  contextOf,
  expectPasses,
  expectRejects,
  setPath,
  withConfig,
  withResource,
} from "./support.js";
import type { RuleContext } from "../../cli/rules/rule.js";

const CLUSTER = "aws:eks/cluster:Cluster::taskfleet-compute-eks";
const PROVIDER = "pulumi:providers:kubernetes::taskfleet-compute-k8s";
const DEPLOY_ASSOC =
  "aws:eks/accessPolicyAssociation:AccessPolicyAssociation::taskfleet-compute-admin-0";
const ADMIN_ENTRY = "aws:eks/accessEntry:AccessEntry::taskfleet-compute-admin-1";
const ADMIN_ASSOC =
  "aws:eks/accessPolicyAssociation:AccessPolicyAssociation::taskfleet-compute-admin-1";

const prod = () => contextOf("prod-us-east-1");

describe("eks-endpoint-reachable", () => {
  it("passes: the prod endpoint is public and limited to the deployers' network", async () => {
    const ctx = await prod();
    expectPasses("eks-endpoint-reachable", ctx);
    const cluster = ctx.resources.find((r) => `${r.type}::${r.name}` === CLUSTER)!;
    expect(cluster.inputs.vpcConfig).toMatchObject({
      endpointPublicAccess: true,
      endpointPrivateAccess: true,
      publicAccessCidrs: ["203.0.113.0/24"],
    });
  });

  it("rejects a public endpoint without a CIDR list (EKS opens it to 0.0.0.0/0)", async () => {
    const ctx = withResource(await prod(), CLUSTER, (r) =>
      setPath(r, "inputs.vpcConfig.publicAccessCidrs", undefined),
    );
    expectRejects("eks-endpoint-reachable", ctx, {
      resource: CLUSTER,
      field: "vpcConfig.publicAccessCidrs",
      problem: "the public endpoint has no CIDR list, so EKS opens it to 0.0.0.0/0",
      fix: "list the deployers' networks in taskfleet:cluster.publicAccessCidrs",
    });
  });

  it("rejects 0.0.0.0/0 on a prod cluster", async () => {
    const ctx = withResource(await prod(), CLUSTER, (r) =>
      setPath(r, "inputs.vpcConfig.publicAccessCidrs", ["0.0.0.0/0"]),
    );
    expectRejects("eks-endpoint-reachable", ctx, {
      problem: "0.0.0.0/0 opens a prod API server to the internet",
    });
  });

  it("rejects a private endpoint no deployer network is admitted to", async () => {
    const ctx = withResource(await prod(), CLUSTER, (r) =>
      setPath(r, "inputs.vpcConfig.endpointPublicAccess", false),
    );
    expectRejects("eks-endpoint-reachable", ctx, {
      field: "vpcConfig.endpointPublicAccess",
      fix: /taskfleet:cluster\.privateAccessCidrs/,
    });
  });

  it("rejects a private endpoint whose provider does not wait for the admitted networks", async () => {
    let ctx: RuleContext = withResource(await prod(), CLUSTER, (r) =>
      setPath(r, "inputs.vpcConfig.endpointPublicAccess", false),
    );
    const rule = {
      type: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
      name: "vpn",
      custom: true,
      inputs: { fromPort: 443, toPort: 443, ipProtocol: "tcp", cidrIpv4: "10.100.0.0/16" },
      dependsOn: [CLUSTER],
      protect: false,
      ignoreChanges: [],
    };
    ctx = { ...ctx, resources: [...ctx.resources, rule] };
    expectRejects("eks-endpoint-reachable", ctx, {
      resource: PROVIDER,
      field: "dependsOn",
      problem: /^does not wait for aws:vpc\/securityGroupIngressRule:SecurityGroupIngressRule::vpn/,
    });
  });
});

describe("eks-access-entries", () => {
  it("passes: API mode, no implicit creator entry, deploy and admin roles are cluster admins the provider waits for", async () => {
    const ctx = await prod();
    expectPasses("eks-access-entries", ctx);
    const provider = ctx.resources.find((r) => `${r.type}::${r.name}` === PROVIDER)!;
    expect(provider.dependsOn).toEqual(expect.arrayContaining([DEPLOY_ASSOC, ADMIN_ASSOC]));
  });

  it("rejects the aws-auth ConfigMap mode", async () => {
    const ctx = withResource(await prod(), CLUSTER, (r) =>
      setPath(r, "inputs.accessConfig.authenticationMode", "CONFIG_MAP"),
    );
    expectRejects("eks-access-entries", ctx, {
      resource: CLUSTER,
      field: "accessConfig.authenticationMode",
      problem: '"CONFIG_MAP" ignores access entries',
    });
  });

  it("rejects the implicit creator entry next to explicit ones (409 ResourceInUseException)", async () => {
    const ctx = withResource(await prod(), CLUSTER, (r) =>
      setPath(r, "inputs.accessConfig.bootstrapClusterCreatorAdminPermissions", true),
    );
    expectRejects("eks-access-entries", ctx, {
      field: "accessConfig.bootstrapClusterCreatorAdminPermissions",
      problem: /409 ResourceInUseException/,
      fix: "set it to false and give every principal an explicit entry",
    });
  });

  it("rejects a plan where the deploy role is not a cluster admin", async () => {
    const ctx = withConfig(await prod(), (c) => ({
      ...c,
      cluster: { ...c.cluster, deployRoleArn: "arn:aws:iam::111122223333:role/someone-else" },
    }));
    expectRejects("eks-access-entries", ctx, {
      resource: CLUSTER,
      field: "accessConfig",
      problem:
        "the deploy role arn:aws:iam::111122223333:role/someone-else has no cluster-admin access policy association, so pulumi up gets 401 Unauthorized at the first Kubernetes object",
    });
  });

  it("rejects an access entry that grants nothing", async () => {
    const ctx = withResource(await prod(), ADMIN_ASSOC, () => undefined);
    expectRejects("eks-access-entries", ctx, {
      resource: ADMIN_ENTRY,
      field: "principalArn",
      problem:
        /^arn:aws:iam::111122223333:role\/taskfleet-admin has an access entry with no policy association/,
    });
  });

  it("rejects a Kubernetes provider that does not wait for the associations", async () => {
    const ctx = withResource(await prod(), PROVIDER, (r) => ({
      ...r,
      dependsOn: r.dependsOn.filter((d) => !d.includes("accessPolicyAssociation")),
    }));
    expectRejects("eks-access-entries", ctx, {
      resource: PROVIDER,
      field: "dependsOn",
      fix: "add the access policy associations to the provider's dependsOn",
    });
  });
});
