/**
 * Capacity: pods fit their node pool's instance types after EKS's reservations and the
 * DaemonSets, and pools hold their pods at maximum replicas. The numbers are checked against the
 * formulas' sources (cli/rules/nodeCapacity.ts).
 */
import { describe, expect, it } from "vitest";
import {
  allocatable,
  ADDON_DAEMONSETS,
  cpuMilli,
  INSTANCE_TYPES,
  maxPods,
  memoryMiB,
  podRequest,
  reservedCpuMilli,
  reservedMemoryMiB,
} from "../../cli/rules/nodeCapacity.js";
import { nodesNeeded } from "../../cli/rules/capacity.js";
import { contextOf, expectPasses, expectRejects, setPath, withResource } from "./support.js";

const BROKER = "kubernetes:apps/v1:StatefulSet::taskfleet-broker";
const BROKER_POOL = "aws:eks/nodeGroup:NodeGroup::taskfleet-compute-broker";
const SYSTEM_POOL = "aws:eks/nodeGroup:NodeGroup::taskfleet-compute-system";
const DEFAULT_POOL = "aws:eks/nodeGroup:NodeGroup::taskfleet-compute-worker-default";
const DEFAULT_SCALER = "kubernetes:keda.sh/v1alpha1:ScaledObject::taskfleet-workers-default-scaler";
const GRAFANA = "kubernetes:apps/v1:Deployment::taskfleet-monitoring-grafana";

describe("node capacity arithmetic", () => {
  it("reserves kubelet CPU as the EKS AMI does: 6 %, 1 %, 0.5 % × 2, then 0.25 % per core", () => {
    expect(reservedCpuMilli(1)).toBe(60);
    expect(reservedCpuMilli(2)).toBe(70);
    expect(reservedCpuMilli(4)).toBe(80);
    expect(reservedCpuMilli(8)).toBe(90);
    expect(reservedCpuMilli(16)).toBe(110);
  });

  it("reserves 255 MiB + 11 MiB per pod, and counts pods from ENIs (capped at 110 below 30 vCPUs)", () => {
    expect(reservedMemoryMiB(58)).toBe(893);
    expect(maxPods(INSTANCE_TYPES["m6i.large"]!)).toBe(29);
    expect(maxPods(INSTANCE_TYPES["r6i.xlarge"]!)).toBe(58);
    expect(maxPods(INSTANCE_TYPES["t3.medium"]!)).toBe(17);
    expect(maxPods(INSTANCE_TYPES["c6i.4xlarge"]!)).toBe(110); // 8 × 29 + 2 = 234, capped
  });

  it("leaves a 4-vCPU r6i.xlarge 3765m CPU after the kubelet and the add-ons' DaemonSets", () => {
    const a = allocatable(INSTANCE_TYPES["r6i.xlarge"]!, ADDON_DAEMONSETS);
    expect(a.cpuMilli).toBe(4000 - 80 - 155);
    // 32 GiB less 7.5 % VM overhead, 893 MiB kubelet, 100 MiB eviction, 104 MiB DaemonSets.
    expect(a.memoryMiB).toBe(Math.floor(32768 * 0.925) - 893 - 100 - 104);
    expect(a.pods).toBe(58 - 3);
  });

  it("parses CPU and memory quantities", () => {
    expect([cpuMilli("4"), cpuMilli("500m"), cpuMilli("0.5"), cpuMilli(2)]).toEqual([
      4000, 500, 500, 2000,
    ]);
    expect([memoryMiB("16Gi"), memoryMiB("512Mi"), memoryMiB("1G"), memoryMiB("64Ki")]).toEqual([
      16384, 512, 954, 1,
    ]);
  });

  it("counts a pod as the scheduler does: containers plus sidecars, or the largest init step", () => {
    const c = (cpu: string, memory: string, restartPolicy?: string) => ({
      resources: { requests: { cpu, memory } },
      ...(restartPolicy ? { restartPolicy } : {}),
    });
    // Containers plus a sidecar (an init container that keeps running).
    expect(
      podRequest({
        containers: [c("1", "1Gi")],
        initContainers: [c("200m", "128Mi", "Always"), c("100m", "64Mi")],
      }),
    ).toEqual({ cpuMilli: 1200, memoryMiB: 1152 });
    // An init container larger than the containers decides.
    expect(podRequest({ containers: [c("1", "1Gi")], initContainers: [c("2", "512Mi")] })).toEqual({
      cpuMilli: 2000,
      memoryMiB: 1024,
    });
    // A limit without a request is the request.
    expect(
      podRequest({ containers: [{ resources: { limits: { cpu: "3", memory: "1Gi" } } }] }),
    ).toEqual({ cpuMilli: 3000, memoryMiB: 1024 });
  });

  it("packs at most one pod per node when the pods must not share a node", () => {
    const a = allocatable(INSTANCE_TYPES["r6i.2xlarge"]!, []);
    const pod = { name: "b", request: { cpuMilli: 1000, memoryMiB: 1024 }, onePerNode: true };
    expect(nodesNeeded([pod, pod, pod], a)).toBe(3);
    expect(
      nodesNeeded(
        [pod, pod, pod].map((p) => ({ ...p, onePerNode: false })),
        a,
      ),
    ).toBe(1);
  });
});

describe("pod-fits-node", () => {
  it("passes: the shipped brokers (3 CPU + 200m sidecar) fit r6i.xlarge", async () => {
    expectPasses("pod-fits-node", await contextOf("prod-us-east-1"));
  });

  it("rejects the 4-CPU broker on r6i.xlarge (4 vCPU), naming the pod, the request and what is allocatable", async () => {
    const ctx = withResource(await contextOf("prod-us-east-1"), BROKER, (r) =>
      setPath(r, "inputs.spec.template.spec.containers.0.resources", {
        requests: { cpu: "4", memory: "16Gi" },
        limits: { cpu: "4", memory: "16Gi" },
      }),
    );
    expectRejects("pod-fits-node", ctx, {
      resource: BROKER,
      field: "spec.template.spec.containers[].resources.requests",
      problem:
        "pod taskfleet-broker requests 4200m CPU, 16640Mi memory (init and sidecar containers counted) and a node of pool broker: r6i.xlarge offers 3755m CPU, 29189Mi memory, 54 pods (after the kubelet's 80m CPU and 993Mi reserved with eviction, and 4 DaemonSets' 165m CPU, 128Mi)",
      fix: "lower the pod's requests to at most 3755m CPU and 29189Mi, or use a larger instance type in taskfleet:cluster.brokerPool.instanceTypes (r6i.2xlarge, r6i.4xlarge, m6i.2xlarge fit)",
    });
  });
});

describe("pool-holds-max-replicas", () => {
  it("passes: every pool holds its pods at their maximum replicas", async () => {
    expectPasses("pool-holds-max-replicas", await contextOf("prod-us-east-1"));
  });

  it("rejects a worker pool whose KEDA maximum needs more nodes than maxNodes", async () => {
    const ctx = withResource(await contextOf("prod-us-east-1"), DEFAULT_SCALER, (r) =>
      setPath(r, "inputs.spec.maxReplicaCount", 200),
    );
    expectRejects("pool-holds-max-replicas", ctx, {
      resource: DEFAULT_POOL,
      field: "scalingConfig.maxSize",
      // c6i.xlarge: 3755m CPU → 3 pods of 1 CPU per node; 200 pods need 67 nodes.
      problem:
        /^pool worker-default needs 67 nodes of c6i\.xlarge for 200 × taskfleet-workers-default \(1000m CPU, 2048Mi memory\); its maxNodes is 30/,
      fix: "raise taskfleet:workers.pools[1].maxNodes to 67, lower the maximum replicas, or use a larger instance type in taskfleet:workers.pools[1].instanceTypes",
    });
  });
});

describe("instance-type-known", () => {
  it("passes: the stacks name known types", async () => {
    expectPasses("instance-type-known", await contextOf("prod-eu-west-1"));
  });

  it("rejects an unknown type, listing the known ones", async () => {
    const ctx = withResource(await contextOf("prod-eu-west-1"), SYSTEM_POOL, (r) =>
      setPath(r, "inputs.instanceTypes", ["m6i.large", "x9.huge"]),
    );
    expectRejects("instance-type-known", ctx, {
      resource: SYSTEM_POOL,
      field: "instanceTypes[1]",
      problem: '"x9.huge" is not in the instance-type table',
      fix: new RegExp(
        `^use one of ${Object.keys(INSTANCE_TYPES).join(", ").replace(/\./g, "\\.")} in taskfleet:cluster\\.systemPool\\.instanceTypes`,
      ),
    });
  });
});

describe("node-ami-architecture", () => {
  it("passes: x86_64 AMIs with x86_64 instance types", async () => {
    expectPasses("node-ami-architecture", await contextOf("prod-eu-west-1"));
  });

  it("rejects a Graviton type in an x86_64 node group", async () => {
    const ctx = withResource(await contextOf("prod-eu-west-1"), SYSTEM_POOL, (r) =>
      setPath(r, "inputs.instanceTypes", ["m7g.large"]),
    );
    expectRejects("node-ami-architecture", ctx, {
      field: "instanceTypes[0]",
      problem: "m7g.large is arm64 and the node group's amiType AL2023_x86_64_STANDARD is x86_64",
      fix: "use x86_64 instance types in taskfleet:cluster.systemPool.instanceTypes",
    });
  });
});

describe("pod-has-a-node-pool", () => {
  it("passes: every pod selects an existing pool and tolerates its taint", async () => {
    expectPasses("pod-has-a-node-pool", await contextOf("prod-eu-west-1"));
  });

  it("rejects a pod selecting a pool that does not exist", async () => {
    const ctx = withResource(await contextOf("prod-eu-west-1"), GRAFANA, (r) =>
      setPath(r, "inputs.spec.template.spec.nodeSelector", { "taskfleet.io/pool": "gpu" }),
    );
    expectRejects("pod-has-a-node-pool", ctx, {
      resource: GRAFANA,
      field: "nodeSelector",
      problem:
        /^pod taskfleet-monitoring-grafana selects \{"taskfleet\.io\/pool":"gpu"\}, which no node group carries \(pools: broker, system, worker-default, worker-high-priority\)$/,
    });
  });

  it("rejects the broker without the toleration for its tainted pool", async () => {
    const ctx = withResource(await contextOf("prod-eu-west-1"), BROKER, (r) =>
      setPath(r, "inputs.spec.template.spec.tolerations", []),
    );
    expectRejects("pod-has-a-node-pool", ctx, {
      resource: BROKER,
      field: "tolerations",
      fix: "add a toleration for the taint",
    });
    expect(BROKER_POOL).toContain("broker");
  });
});
