import { beforeAll, describe, expect, it } from "vitest";
import { eksKubeconfig, planNodePools } from "../../components/compute/nodePools.js";
import { find, mocked, ofType, type RecordedResource } from "./support.js";

describe("node pools (pure)", () => {
  it("plans a system pool, a tainted broker pool and one labelled pool per worker pool", () => {
    const pool = { instanceTypes: ["m6i.large"], minNodes: 1, maxNodes: 3, volumeSizeGiB: 50 };
    const plans = planNodePools({
      system: pool,
      broker: pool,
      workers: [{ ...pool, name: "high_priority" }],
    });
    expect(plans.map((p) => [p.key, p.labels["taskfleet.io/pool"], p.taints.length])).toEqual([
      ["system", "system", 0],
      ["broker", "broker", 1],
      ["worker-high-priority", "worker-high-priority", 0],
    ]);
  });
  it("writes a kubeconfig that gets tokens from `aws eks get-token`", () => {
    const kc = JSON.parse(
      eksKubeconfig({
        clusterName: "c",
        endpoint: "https://e",
        certificateAuthorityData: "Q0E=",
        region: "eu-west-1",
      }),
    );
    expect(kc.users[0].user.exec).toMatchObject({
      command: "aws",
      args: ["eks", "get-token", "--cluster-name", "c", "--region", "eu-west-1"],
    });
  });
});

const DEPLOY = "arn:aws:iam::111122223333:role/taskfleet-deploy";
const ADMIN = "arn:aws:iam::111122223333:role/ops/taskfleet-admin";

describe("ComputeCluster", () => {
  let eks: RecordedResource[];
  let existing: RecordedResource[];
  let privateOnly: RecordedResource[];
  beforeAll(async () => {
    const engine = await mocked();
    const { ComputeCluster } = await import("../../components/compute/computeCluster.js");
    new ComputeCluster("c", {
      region: "us-east-1",
      subnetIds: ["subnet-a", "subnet-b", "subnet-c"],
      publicAccessCidrs: ["203.0.113.0/24"],
      adminRoleArns: [DEPLOY, ADMIN, DEPLOY],
      brokerPool: { instanceTypes: ["r6i.xlarge"], minNodes: 5, maxNodes: 5, volumeSizeGiB: 100 },
      workerPools: [
        {
          name: "high_priority",
          instanceTypes: ["c6i.2xlarge"],
          minNodes: 2,
          maxNodes: 10,
          volumeSizeGiB: 50,
        },
        {
          name: "default",
          instanceTypes: ["c6i.xlarge"],
          minNodes: 1,
          maxNodes: 20,
          volumeSizeGiB: 50,
        },
      ],
    });
    new ComputeCluster("p", {
      region: "us-east-1",
      subnetIds: ["subnet-a", "subnet-b", "subnet-c"],
      endpointPublicAccess: false,
      privateAccessCidrs: ["10.100.0.0/16"],
      adminRoleArns: [DEPLOY],
      installKeda: false,
    });
    new ComputeCluster("d", {
      mode: "existing",
      kubeconfig: "~/.kube/config",
      context: "kind-taskfleet",
    });
    await engine.settle();
    eks = engine.resources.filter((r) => r.name === "c" || r.name.startsWith("c-"));
    existing = engine.resources.filter((r) => r.name === "d" || r.name.startsWith("d-"));
    privateOnly = engine.resources.filter((r) => r.name === "p" || r.name.startsWith("p-"));
  });

  it("parents every child to the component", () => {
    for (const r of eks.filter((x) => x.name !== "c")) {
      expect([r.name, r.parent, r.parentType]).toEqual([
        r.name,
        "c",
        "taskfleet:compute:ComputeCluster",
      ]);
    }
  });

  it("builds EKS in the private subnets with encrypted secrets, its public endpoint limited to the given networks", () => {
    expect(find(eks, "aws:eks/cluster:Cluster", "c-eks").inputs).toMatchObject({
      version: "1.33",
      vpcConfig: {
        subnetIds: ["subnet-a", "subnet-b", "subnet-c"],
        endpointPrivateAccess: true,
        endpointPublicAccess: true,
        publicAccessCidrs: ["203.0.113.0/24"],
      },
      accessConfig: { authenticationMode: "API", bootstrapClusterCreatorAdminPermissions: false },
      encryptionConfig: { resources: ["secrets"] },
    });
  });

  it("gives each admin role (deduplicated) an access entry and cluster-admin policy, which the Kubernetes provider waits for", () => {
    expect(ofType(eks, "aws:eks/accessEntry:AccessEntry").map((e) => e.inputs)).toEqual([
      { clusterName: "c-eks", principalArn: DEPLOY, type: "STANDARD" },
      { clusterName: "c-eks", principalArn: ADMIN, type: "STANDARD" },
    ]);
    const assoc = find(eks, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "c-admin-1");
    expect(assoc.inputs).toEqual({
      clusterName: "c-eks",
      principalArn: ADMIN,
      policyArn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
      accessScope: { type: "cluster" },
    });
    expect(assoc.dependsOn).toContain("aws:eks/accessEntry:AccessEntry::c-admin-1");
    expect(find(eks, "pulumi:providers:kubernetes", "c-k8s").dependsOn).toEqual(
      expect.arrayContaining([
        "aws:eks/accessPolicyAssociation:AccessPolicyAssociation::c-admin-0",
        "aws:eks/accessPolicyAssociation:AccessPolicyAssociation::c-admin-1",
      ]),
    );
  });

  it("creates one managed node group per pool, each on a launch template with IMDSv2 required and an encrypted gp3 root", () => {
    const groups = ofType(eks, "aws:eks/nodeGroup:NodeGroup")
      .map((g) => g.name)
      .sort();
    expect(groups).toEqual(["c-broker", "c-system", "c-worker-default", "c-worker-high-priority"]);
    for (const key of ["system", "broker", "worker-high-priority", "worker-default"]) {
      const lt = find(eks, "aws:ec2/launchTemplate:LaunchTemplate", `c-${key}`);
      expect(lt.inputs.metadataOptions).toMatchObject({
        httpTokens: "required",
        httpEndpoint: "enabled",
      });
      expect(lt.inputs.blockDeviceMappings).toEqual([
        expect.objectContaining({
          ebs: expect.objectContaining({ encrypted: "true", volumeType: "gp3" }),
        }),
      ]);
      expect(find(eks, "aws:eks/nodeGroup:NodeGroup", `c-${key}`).inputs.launchTemplate).toEqual({
        id: `c-${key}-id`,
        version: "1",
      });
    }
    const broker = find(eks, "aws:eks/nodeGroup:NodeGroup", "c-broker");
    expect(broker.inputs).toMatchObject({
      instanceTypes: ["r6i.xlarge"],
      scalingConfig: { minSize: 5, maxSize: 5, desiredSize: 5 },
      labels: { "taskfleet.io/pool": "broker" },
      taints: [{ key: "taskfleet.io/pool", value: "broker", effect: "NO_SCHEDULE" }],
    });
  });

  it("with a private endpoint, admits the deployer networks on 443 to the cluster security group before any Kubernetes call", () => {
    const cluster = find(privateOnly, "aws:eks/cluster:Cluster", "p-eks");
    expect(cluster.inputs.vpcConfig).toEqual({
      subnetIds: ["subnet-a", "subnet-b", "subnet-c"],
      endpointPrivateAccess: true,
      endpointPublicAccess: false,
    });
    expect(
      find(privateOnly, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "p-api-0")
        .inputs,
    ).toMatchObject({
      securityGroupId: "sg-p-eks-cluster",
      ipProtocol: "tcp",
      fromPort: 443,
      toPort: 443,
      cidrIpv4: "10.100.0.0/16",
    });
    expect(find(privateOnly, "pulumi:providers:kubernetes", "p-k8s").dependsOn).toContain(
      "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule::p-api-0",
    );
  });

  it("refuses an EKS cluster nobody is admitted to, or a public endpoint open to all", async () => {
    const { ComputeCluster } = await import("../../components/compute/computeCluster.js");
    const args = { region: "us-east-1", subnetIds: ["subnet-a"] };
    expect(
      () => new ComputeCluster("x", { ...args, publicAccessCidrs: ["203.0.113.0/24"] }),
    ).toThrow(
      "adminRoleArns: [] is empty; give at least the role pulumi up runs as (no principal is admitted implicitly)",
    );
    expect(() => new ComputeCluster("y", { ...args, adminRoleArns: [DEPLOY] })).toThrow(
      "publicAccessCidrs: [] is empty with a public endpoint; list the networks allowed to reach it",
    );
  });

  it("installs the EBS CSI driver and KEDA", () => {
    expect(find(eks, "aws:eks/addon:Addon", "c-aws-ebs-csi-driver").inputs).toMatchObject({
      addonName: "aws-ebs-csi-driver",
    });
    expect(find(eks, "kubernetes:helm.sh/v3:Release", "c-keda").inputs).toMatchObject({
      chart: "keda",
      namespace: "keda",
    });
    expect(find(eks, "pulumi:providers:kubernetes", "c-k8s").parent).toBe("c");
  });

  it("creates no AWS compute for an existing cluster: only its provider (and KEDA)", () => {
    expect(existing.map((r) => r.type).sort()).toEqual([
      "kubernetes:helm.sh/v3:Release",
      "pulumi:providers:kubernetes",
      "taskfleet:compute:ComputeCluster",
    ]);
    expect(find(existing, "pulumi:providers:kubernetes", "d-k8s").inputs).toMatchObject({
      kubeconfig: "~/.kube/config",
      context: "kind-taskfleet",
    });
  });
});
