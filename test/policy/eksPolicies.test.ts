/** The EKS endpoint policy, called as the engine calls it. */
import { describe, expect, it } from "vitest";
import { eksPublicEndpointRestricted } from "../../policy/eksPolicies.js";
import { checkResource, type Fixture } from "./harness.js";

const cluster = (vpcConfig: Record<string, unknown>, environment = "prod"): Fixture => ({
  type: "aws:eks/cluster:Cluster",
  name: "eks",
  props: { vpcConfig, tags: { "taskfleet:environment": environment } },
});

describe("eks-public-endpoint-restricted", () => {
  it("accepts a public endpoint limited to listed networks, and a private endpoint", async () => {
    for (const vpc of [
      { endpointPublicAccess: true, publicAccessCidrs: ["203.0.113.0/24"] },
      { endpointPublicAccess: false, endpointPrivateAccess: true },
    ]) {
      expect(await checkResource(eksPublicEndpointRestricted, cluster(vpc))).toEqual([]);
    }
  });

  it("rejects a public endpoint without networks (EKS's default is 0.0.0.0/0), also when public by default", async () => {
    for (const vpc of [{ endpointPublicAccess: true }, {}]) {
      expect(await checkResource(eksPublicEndpointRestricted, cluster(vpc))).toEqual([
        "EKS cluster eks: vpcConfig.publicAccessCidrs is empty with a public endpoint, so EKS opens it to 0.0.0.0/0; list the deployers' networks in taskfleet:cluster.publicAccessCidrs",
      ]);
    }
  });

  it("rejects 0.0.0.0/0 in prod and allows it in dev", async () => {
    const open = { endpointPublicAccess: true, publicAccessCidrs: ["0.0.0.0/0"] };
    expect(await checkResource(eksPublicEndpointRestricted, cluster(open))).toEqual([
      "EKS cluster eks: vpcConfig.publicAccessCidrs allows 0.0.0.0/0 on a prod cluster; list the deployers' networks instead",
    ]);
    expect(await checkResource(eksPublicEndpointRestricted, cluster(open, "dev"))).toEqual([]);
  });
});
