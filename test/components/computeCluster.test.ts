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

describe("ComputeCluster", () => {
  let eks: RecordedResource[];
  let existing: RecordedResource[];
  beforeAll(async () => {
    const engine = await mocked();
    const { ComputeCluster } = await import("../../components/compute/computeCluster.js");
    new ComputeCluster("c", {
      region: "us-east-1",
      subnetIds: ["subnet-a", "subnet-b", "subnet-c"],
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
    new ComputeCluster("d", {
      mode: "existing",
      kubeconfig: "~/.kube/config",
      context: "kind-taskfleet",
    });
    await engine.settle();
    eks = engine.resources.filter((r) => r.name === "c" || r.name.startsWith("c-"));
    existing = engine.resources.filter((r) => r.name === "d" || r.name.startsWith("d-"));
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

  it("builds EKS in the private subnets with encrypted secrets and a private endpoint", () => {
    expect(find(eks, "aws:eks/cluster:Cluster", "c-eks").inputs).toMatchObject({
      version: "1.33",
      vpcConfig: {
        subnetIds: ["subnet-a", "subnet-b", "subnet-c"],
        endpointPrivateAccess: true,
        endpointPublicAccess: false,
      },
      encryptionConfig: { resources: ["secrets"] },
    });
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
