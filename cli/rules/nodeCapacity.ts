/**
 * What a node of an EC2 instance type offers pods on EKS: the instance-type table (the types the
 * stacks may name), the kubelet's reservations on EKS-optimized AMIs, the DaemonSets of the
 * add-ons the kit installs, and Kubernetes' rule for a pod's effective request. Pure data and
 * arithmetic, used by the capacity rules (capacity.ts).
 */

export interface InstanceType {
  readonly vcpu: number;
  /** Nominal memory (EC2's figure). */
  readonly memoryGiB: number;
  /** ENIs and IPv4 addresses per ENI (the VPC CNI's pod IPs without prefix delegation). */
  readonly enis: number;
  readonly ipv4PerEni: number;
  readonly arch: "x86_64" | "arm64";
  /** Instance store: EBS-only, or local NVMe SSD (GB). */
  readonly storage: "ebs-only" | { readonly nvmeGB: number };
}

const X86 = "x86_64";
const ARM = "arm64";
const it = (
  vcpu: number,
  memoryGiB: number,
  enis: number,
  ipv4PerEni: number,
  arch: InstanceType["arch"],
  storage: "ebs-only" | number,
): InstanceType => ({
  vcpu,
  memoryGiB,
  enis,
  ipv4PerEni,
  arch,
  storage: storage === "ebs-only" ? storage : { nvmeGB: storage },
});

/**
 * it(vCPU, memory GiB, ENIs, IPv4 per ENI, architecture, instance store: "ebs-only" or local
 * NVMe GB). vCPU, memory and instance store: https://aws.amazon.com/ec2/instance-types/
 * (general purpose m, compute optimized c, memory optimized r, burstable t). ENIs and IPv4 per
 * ENI: awslabs/amazon-eks-ami nodeadm/internal/kubelet/instance-info.jsonl (commit 81fec2e8,
 * 2026-07).
 */
export const INSTANCE_TYPES: Readonly<Record<string, InstanceType>> = {
  "t3.medium": it(2, 4, 3, 6, X86, "ebs-only"),
  "t3.large": it(2, 8, 3, 12, X86, "ebs-only"),
  "m5.large": it(2, 8, 3, 10, X86, "ebs-only"),
  "m5.xlarge": it(4, 16, 4, 15, X86, "ebs-only"),
  "m6i.large": it(2, 8, 3, 10, X86, "ebs-only"),
  "m6i.xlarge": it(4, 16, 4, 15, X86, "ebs-only"),
  "m6i.2xlarge": it(8, 32, 4, 15, X86, "ebs-only"),
  "m6id.xlarge": it(4, 16, 4, 15, X86, 237),
  "m7i.large": it(2, 8, 3, 10, X86, "ebs-only"),
  "m7i.xlarge": it(4, 16, 4, 15, X86, "ebs-only"),
  "m7i.2xlarge": it(8, 32, 4, 15, X86, "ebs-only"),
  "c6i.large": it(2, 4, 3, 10, X86, "ebs-only"),
  "c6i.xlarge": it(4, 8, 4, 15, X86, "ebs-only"),
  "c6i.2xlarge": it(8, 16, 4, 15, X86, "ebs-only"),
  "c6i.4xlarge": it(16, 32, 8, 30, X86, "ebs-only"),
  "c6id.xlarge": it(4, 8, 4, 15, X86, 237),
  "c7i.xlarge": it(4, 8, 4, 15, X86, "ebs-only"),
  "c7i.2xlarge": it(8, 16, 4, 15, X86, "ebs-only"),
  "r6i.large": it(2, 16, 3, 10, X86, "ebs-only"),
  "r6i.xlarge": it(4, 32, 4, 15, X86, "ebs-only"),
  "r6i.2xlarge": it(8, 64, 4, 15, X86, "ebs-only"),
  "r6i.4xlarge": it(16, 128, 8, 30, X86, "ebs-only"),
  "r6id.xlarge": it(4, 32, 4, 15, X86, 237),
  "r6id.2xlarge": it(8, 64, 4, 15, X86, 474),
  "r7i.xlarge": it(4, 32, 4, 15, X86, "ebs-only"),
  "r7i.2xlarge": it(8, 64, 4, 15, X86, "ebs-only"),
  "m6g.large": it(2, 8, 3, 10, ARM, "ebs-only"),
  "m7g.large": it(2, 8, 3, 10, ARM, "ebs-only"),
  "c7g.xlarge": it(4, 8, 4, 15, ARM, "ebs-only"),
  "r7g.xlarge": it(4, 32, 4, 15, ARM, "ebs-only"),
};

/**
 * Pods per node with the VPC CNI and no prefix delegation: ENIs × (IPv4 per ENI − 1) + 2
 * (amazon-eks-ami nodeadm/internal/kubelet/eni_max_pods.go, calculateStandardMaxPods), capped
 * as EKS recommends at 110 below 30 vCPUs and 250 above
 * (https://docs.aws.amazon.com/eks/latest/userguide/choosing-instance-type.html#determine-max-pods).
 */
export function maxPods(t: InstanceType): number {
  return Math.min(t.enis * (t.ipv4PerEni - 1) + 2, t.vcpu < 30 ? 110 : 250);
}

/**
 * Kubelet CPU reservation on EKS AMIs, millicores: 6 % of the first core, 1 % of the second,
 * 0.5 % of cores 3-4, 0.25 % of every further core (amazon-eks-ami
 * nodeadm/internal/kubelet/config.go, getCPUMillicoresToReserve).
 */
export function reservedCpuMilli(vcpu: number): number {
  const total = vcpu * 1000;
  const bands: [number, number, number][] = [
    [0, 1000, 600],
    [1000, 2000, 100],
    [2000, 4000, 50],
    [4000, total, 25],
  ];
  let reserved = 0;
  for (const [lo, hi, basisPoints] of bands) {
    if (total > lo) reserved += Math.floor(((Math.min(total, hi) - lo) * basisPoints) / 10000);
  }
  return reserved;
}

/** Kubelet memory reservation, MiB: 11 × max pods + 255 (same file, getMemoryMebibytesToReserve). */
export function reservedMemoryMiB(pods: number): number {
  return 11 * pods + 255;
}

/** Hard eviction threshold `memory.available` on EKS AMIs (same file, evictionHard). */
export const EVICTION_HARD_MIB = 100;

/**
 * The OS and hypervisor keep part of the nominal memory from the kubelet's capacity; Karpenter
 * estimates it as 7.5 % (its `vmMemoryOverheadPercent` default,
 * https://karpenter.sh/docs/reference/settings/). We use the same estimate.
 */
export const VM_MEMORY_OVERHEAD = 0.075;

/** Requests of the DaemonSets an EKS add-on the kit installs runs on every node. */
export interface DaemonSetRequest {
  readonly name: string;
  readonly cpuMilli: number;
  readonly memoryMiB: number;
  readonly source: string;
}

/**
 * The add-ons' DaemonSets (components/compute COMPUTE_DEFAULTS.addons): every one tolerates every
 * taint, so it runs on every node, broker pool included.
 */
export const ADDON_DAEMONSETS: readonly DaemonSetRequest[] = [
  {
    name: "aws-node (vpc-cni)",
    cpuMilli: 25,
    memoryMiB: 0,
    source: "aws/amazon-vpc-cni-k8s charts/aws-vpc-cni/values.yaml resources.requests",
  },
  {
    name: "kube-proxy",
    cpuMilli: 100,
    memoryMiB: 0,
    source: "EKS kube-proxy add-on DaemonSet (requests cpu 100m)",
  },
  {
    name: "ebs-csi-node",
    cpuMilli: 30,
    memoryMiB: 104,
    source:
      "kubernetes-sigs/aws-ebs-csi-driver chart: node 10m/40Mi, node-driver-registrar 10m/32Mi, liveness-probe 10m/32Mi",
  },
];

/** What one node of `type` offers pods, after the kubelet's reservations and the DaemonSets. */
export interface Allocatable {
  readonly cpuMilli: number;
  readonly memoryMiB: number;
  readonly pods: number;
  /** What was taken off, for messages. */
  readonly reserved: { cpuMilli: number; memoryMiB: number };
  readonly daemonSets: { cpuMilli: number; memoryMiB: number; count: number };
}

export function allocatable(t: InstanceType, daemonSets: readonly DaemonSetRequest[]): Allocatable {
  const pods = maxPods(t);
  const capacityMiB = Math.floor(t.memoryGiB * 1024 * (1 - VM_MEMORY_OVERHEAD));
  const reservedCpu = reservedCpuMilli(t.vcpu);
  const reservedMem = reservedMemoryMiB(pods) + EVICTION_HARD_MIB;
  const dsCpu = daemonSets.reduce((a, d) => a + d.cpuMilli, 0);
  const dsMem = daemonSets.reduce((a, d) => a + d.memoryMiB, 0);
  return {
    cpuMilli: t.vcpu * 1000 - reservedCpu - dsCpu,
    memoryMiB: capacityMiB - reservedMem - dsMem,
    pods: pods - daemonSets.length,
    reserved: { cpuMilli: reservedCpu, memoryMiB: reservedMem },
    daemonSets: { cpuMilli: dsCpu, memoryMiB: dsMem, count: daemonSets.length },
  };
}

// ---------------------------------------------------------------- quantities and pod requests

/** CPU quantity → millicores (`"4"`, `"500m"`, `"0.5"`, 2). */
export function cpuMilli(q: unknown): number {
  if (typeof q === "number") return Math.round(q * 1000);
  if (typeof q !== "string" || q === "") return 0;
  return q.endsWith("m") ? Number(q.slice(0, -1)) : Math.round(Number(q) * 1000);
}

const MEMORY_UNITS: Readonly<Record<string, number>> = {
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

/** Memory quantity → MiB, rounded up (`"16Gi"`, `"512Mi"`, `"1G"`). */
export function memoryMiB(q: unknown): number {
  if (typeof q === "number") return Math.ceil(q / 1024 ** 2);
  if (typeof q !== "string") return 0;
  const m = /^([0-9.]+)(k|Ki|Mi?|Gi?|Ti?)?$/.exec(q);
  if (!m) return 0;
  return Math.ceil((Number(m[1]) * (MEMORY_UNITS[m[2] ?? ""] ?? 1)) / 1024 ** 2);
}

export interface Request {
  readonly cpuMilli: number;
  readonly memoryMiB: number;
}

interface ContainerLike {
  readonly name?: unknown;
  readonly resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
  readonly restartPolicy?: unknown;
}

/** A container's request (a limit without a request is the request, as the API server defaults it). */
export function containerRequest(c: ContainerLike): Request {
  const req = c.resources?.requests ?? {};
  const lim = c.resources?.limits ?? {};
  return {
    cpuMilli: cpuMilli(req.cpu ?? lim.cpu),
    memoryMiB: memoryMiB(req.memory ?? lim.memory),
  };
}

const add = (a: Request, b: Request): Request => ({
  cpuMilli: a.cpuMilli + b.cpuMilli,
  memoryMiB: a.memoryMiB + b.memoryMiB,
});
const max = (a: Request, b: Request): Request => ({
  cpuMilli: Math.max(a.cpuMilli, b.cpuMilli),
  memoryMiB: Math.max(a.memoryMiB, b.memoryMiB),
});
const ZERO: Request = { cpuMilli: 0, memoryMiB: 0 };

/**
 * A pod's effective request as the scheduler computes it: the larger of (a) the containers plus
 * the sidecars (init containers with `restartPolicy: Always`) and (b) each init container plus
 * the sidecars started before it; per resource.
 * Source: https://kubernetes.io/docs/concepts/workloads/pods/sidecar-containers/#resource-sharing-within-containers
 */
export function podRequest(spec: {
  containers?: readonly ContainerLike[];
  initContainers?: readonly ContainerLike[];
}): Request {
  let sidecars = ZERO;
  let initPeak = ZERO;
  for (const c of spec.initContainers ?? []) {
    const r = containerRequest(c);
    if (c.restartPolicy === "Always") sidecars = add(sidecars, r);
    else initPeak = max(initPeak, add(r, sidecars));
  }
  const main = (spec.containers ?? []).map(containerRequest).reduce(add, ZERO);
  return max(add(main, sidecars), initPeak);
}

/** `4200m CPU, 16640Mi` */
export function showRequest(r: Request): string {
  return `${r.cpuMilli}m CPU, ${r.memoryMiB}Mi memory`;
}
