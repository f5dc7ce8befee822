/** How an EKS stack says the deployer reaches the API server, and as whom (taskfleet:cluster). */
import { describe, expect, it } from "vitest";
import { parseRegionConfig } from "../../../components/config/regionConfig.js";
import { planRegion } from "../../../components/regionPlan.js";

const DEPLOY = "arn:aws:iam::111122223333:role/taskfleet-deploy";
const config = (cluster: Record<string, unknown>, environment = "prod") =>
  parseRegionConfig({ region: "eu-west-1", environment, cluster });
const plan = (cluster: Record<string, unknown>) => () => planRegion(config(cluster), {});

describe("taskfleet:cluster access", () => {
  it("reads the public endpoint's networks and the admin roles", () => {
    const c = config({
      publicAccessCidrs: ["203.0.113.0/24"],
      deployRoleArn: DEPLOY,
      adminRoleArns: ["arn:aws:iam::111122223333:role/ops/admin"],
    }).cluster;
    expect(c).toMatchObject({
      endpointPublicAccess: true,
      publicAccessCidrs: ["203.0.113.0/24"],
      privateAccessCidrs: [],
      deployRoleArn: DEPLOY,
      adminRoleArns: ["arn:aws:iam::111122223333:role/ops/admin"],
    });
    expect(plan({ publicAccessCidrs: ["203.0.113.0/24"], deployRoleArn: DEPLOY })).not.toThrow();
    expect(
      plan({
        endpointPublicAccess: false,
        privateAccessCidrs: ["10.9.0.0/16"],
        deployRoleArn: DEPLOY,
      }),
    ).not.toThrow();
  });

  it("refuses a public endpoint without networks (EKS would open it to 0.0.0.0/0)", () => {
    expect(plan({ deployRoleArn: DEPLOY })).toThrow(
      /^taskfleet:cluster\.publicAccessCidrs: missing; the public endpoint would be open to 0\.0\.0\.0\/0 \(the EKS default\)/,
    );
  });

  it("refuses a private endpoint nobody outside the VPC is said to reach", () => {
    expect(plan({ endpointPublicAccess: false, deployRoleArn: DEPLOY })).toThrow(
      /^taskfleet:cluster\.privateAccessCidrs: missing with endpointPublicAccess: false; nothing outside the VPC reaches a private endpoint/,
    );
  });

  it("refuses an EKS stack without the role pulumi up runs as", () => {
    expect(plan({ publicAccessCidrs: ["203.0.113.0/24"] })).toThrow(
      /^taskfleet:cluster\.deployRoleArn: missing; set the IAM role pulumi up runs as/,
    );
  });

  it("refuses 0.0.0.0/0 in prod, allows it in dev", () => {
    expect(() => config({ publicAccessCidrs: ["198.51.100.0/24", "0.0.0.0/0"] })).toThrow(
      'taskfleet:cluster.publicAccessCidrs[1]: "0.0.0.0/0" opens the prod API server to the internet; list the networks pulumi up runs from (CI runners\' egress, VPN)',
    );
    expect(config({ publicAccessCidrs: ["0.0.0.0/0"] }, "dev").cluster.publicAccessCidrs).toEqual([
      "0.0.0.0/0",
    ]);
  });

  it("refuses malformed CIDRs, public networks on a private endpoint, and session ARNs", () => {
    expect(() => config({ publicAccessCidrs: ["203.0.113.0"] })).toThrow(
      'taskfleet:cluster.publicAccessCidrs[0]: "203.0.113.0" is not an IPv4 CIDR; use a block like "203.0.113.0/24"',
    );
    expect(() =>
      config({ endpointPublicAccess: false, publicAccessCidrs: ["203.0.113.0/24"] }),
    ).toThrow(
      "taskfleet:cluster.publicAccessCidrs: set while endpointPublicAccess is false; remove it or make the endpoint public",
    );
    expect(() =>
      config({ deployRoleArn: "arn:aws:sts::111122223333:assumed-role/taskfleet-deploy/ci" }),
    ).toThrow(
      'taskfleet:cluster.deployRoleArn: "arn:aws:sts::111122223333:assumed-role/taskfleet-deploy/ci" is not an IAM role ARN; that is a session (assumed-role) ARN; give the role\'s ARN, use one like "arn:aws:iam::111122223333:role/taskfleet-deploy"',
    );
  });

  it("asks nothing of a stack on an existing cluster (its kubeconfig says how)", () => {
    const c = parseRegionConfig({
      region: "eu-west-1",
      cluster: { mode: "existing", kubeconfig: "~/.kube/config" },
    });
    expect(() => planRegion(c, {})).not.toThrow();
  });
});
