/**
 * Capacity: every pod the kit deploys can be scheduled on the node pool it selects, and each
 * pool holds its workloads at their maximum replicas. Mocks accept a pod that asks for more than
 * any node has; the scheduler leaves it Pending and `pulumi up` waits for a rollout that never
 * completes. Applies to plans that create EKS node groups (an existing cluster's nodes are not
 * known).
 */
import { POOL_LABEL } from "../../components/compute/nodePools.js";
import {
  ADDON_DAEMONSETS,
  allocatable,
  INSTANCE_TYPES,
  podRequest,
  showRequest,
  type Allocatable,
  type DaemonSetRequest,
  type Request,
} from "./nodeCapacity.js";
import {
  arr,
  keyOf,
  obj,
  ofType,
  str,
  type PlannedResource,
  type Props,
  type Rule,
  type RuleContext,
  type Violation,
} from "./rule.js";
import { HELM_RELEASE } from "./order.js";

const NODE_GROUP = "aws:eks/nodeGroup:NodeGroup";

interface Taint {
  readonly key: string;
  readonly value?: string;
  readonly effect: string;
}

/** A managed node group as the plan records it. */
export interface Pool {
  readonly resource: PlannedResource;
  /** Value of the pool label (`system`, `broker`, `worker-default`). */
  readonly label: string;
  readonly labels: Record<string, string>;
  readonly instanceTypes: readonly string[];
  readonly maxNodes: number;
  readonly taints: readonly Taint[];
}

/** A pod template and how many of its pods may run at once. */
export interface Workload {
  /** The resource that creates the pods (a Deployment, StatefulSet, DaemonSet or Helm release). */
  readonly resource: PlannedResource;
  /** The pods' name (the object's metadata.name, or the chart's Deployment). */
  readonly name: string;
  readonly request: Request;
  /** Replicas at the most (a KEDA ScaledObject's maxReplicaCount for the Deployments it scales). */
  readonly maxReplicas: number;
  readonly nodeSelector: Record<string, string>;
  readonly tolerations: readonly Props[];
  /** Required pod anti-affinity on the hostname: at most one of its pods per node. */
  readonly onePerNode: boolean;
  readonly daemonSet: boolean;
}

export function pools(ctx: RuleContext): Pool[] {
  return ofType(ctx, NODE_GROUP).map((g) => {
    const labels = obj(g.inputs.labels) as Record<string, string>;
    return {
      resource: g,
      label: labels[POOL_LABEL] ?? g.name,
      labels,
      instanceTypes: arr(g.inputs.instanceTypes).filter((t): t is string => typeof t === "string"),
      maxNodes: Number(obj(g.inputs.scalingConfig).maxSize ?? 0),
      taints: arr(g.inputs.taints).map((t) => {
        const o = obj(t);
        return { key: String(o.key), value: str(o.value), effect: String(o.effect) };
      }),
    };
  });
}

/**
 * Pods of the charts the kit installs, at the chart's defaults (requests per Deployment).
 * KEDA 2.20.2: operator, metrics server, admission webhooks, 1 replica each, 100m/100Mi
 * (kedacore/charts keda/values.yaml `resources`, `*.replicaCount`).
 */
const CHART_PODS: Readonly<Record<string, readonly { name: string; request: Request }[]>> = {
  keda: [
    { name: "keda-operator", request: { cpuMilli: 100, memoryMiB: 100 } },
    { name: "keda-operator-metrics-apiserver", request: { cpuMilli: 100, memoryMiB: 100 } },
    { name: "keda-admission-webhooks", request: { cpuMilli: 100, memoryMiB: 100 } },
  ],
};

const WORKLOAD_KINDS = ["Deployment", "StatefulSet", "DaemonSet"];

function requiredAntiAffinityOnHost(spec: Props, podLabels: Record<string, unknown>): boolean {
  const terms = arr(
    obj(obj(spec.affinity).podAntiAffinity).requiredDuringSchedulingIgnoredDuringExecution,
  );
  return terms.some((t) => {
    const term = obj(t);
    const match = obj(obj(term.labelSelector).matchLabels);
    return (
      term.topologyKey === "kubernetes.io/hostname" &&
      Object.entries(match).every(([k, v]) => podLabels[k] === v)
    );
  });
}

export function workloads(ctx: RuleContext): Workload[] {
  const scaled = new Map<string, number>();
  for (const so of ctx.resources.filter((r) => r.type.endsWith(":ScaledObject"))) {
    const spec = obj(so.inputs.spec);
    const target = str(obj(spec.scaleTargetRef).name);
    if (target !== undefined) scaled.set(target, Number(spec.maxReplicaCount ?? 100));
  }
  const out: Workload[] = [];
  for (const r of ctx.resources) {
    const kind = r.type.split(":").pop() ?? "";
    if (r.type.startsWith("kubernetes:apps/") && WORKLOAD_KINDS.includes(kind)) {
      const spec = obj(r.inputs.spec);
      const template = obj(spec.template);
      const pod = obj(template.spec);
      const name = str(obj(r.inputs.metadata).name) ?? r.name;
      out.push({
        resource: r,
        name,
        request: podRequest(pod as Parameters<typeof podRequest>[0]),
        maxReplicas:
          kind === "Deployment" && scaled.has(name)
            ? scaled.get(name)!
            : Number(spec.replicas ?? 1),
        nodeSelector: obj(pod.nodeSelector) as Record<string, string>,
        tolerations: arr(pod.tolerations).map(obj),
        onePerNode: requiredAntiAffinityOnHost(pod, obj(obj(template.metadata).labels)),
        daemonSet: kind === "DaemonSet",
      });
    }
    if (r.type === HELM_RELEASE) {
      const values = obj(r.inputs.values);
      for (const p of CHART_PODS[str(r.inputs.chart) ?? ""] ?? []) {
        out.push({
          resource: r,
          name: p.name,
          request: p.request,
          maxReplicas: 1,
          nodeSelector: obj(values.nodeSelector) as Record<string, string>,
          tolerations: arr(values.tolerations).map(obj),
          onePerNode: false,
          daemonSet: false,
        });
      }
    }
  }
  return out;
}

const EFFECTS: Readonly<Record<string, string>> = {
  NO_SCHEDULE: "NoSchedule",
  NO_EXECUTE: "NoExecute",
  PREFER_NO_SCHEDULE: "PreferNoSchedule",
};

function tolerates(tolerations: readonly Props[], taint: Taint): boolean {
  const effect = EFFECTS[taint.effect] ?? taint.effect;
  if (effect === "PreferNoSchedule") return true;
  return tolerations.some((t) => {
    if (t.effect !== undefined && t.effect !== effect) return false;
    if (t.operator === "Exists") return t.key === undefined || t.key === taint.key;
    return t.key === taint.key && (t.value ?? "") === (taint.value ?? "");
  });
}

/** The pools a workload's pods may land on (node selector matches, every taint tolerated). */
export function eligiblePools(w: Workload, all: readonly Pool[]): Pool[] {
  return all.filter(
    (p) =>
      Object.entries(w.nodeSelector).every(([k, v]) => p.labels[k] === v) &&
      p.taints.every((t) => tolerates(w.tolerations, t)),
  );
}

/** What a node of `type` in `pool` offers, after the add-ons' and the plan's own DaemonSets. */
function nodeAllocatable(
  type: string,
  pool: Pool,
  all: readonly Pool[],
  wl: readonly Workload[],
): Allocatable | undefined {
  const t = INSTANCE_TYPES[type];
  if (t === undefined) return undefined;
  const own: DaemonSetRequest[] = wl
    .filter((w) => w.daemonSet && eligiblePools(w, all).includes(pool))
    .map((w) => ({ name: w.name, ...w.request, source: keyOf(w.resource) }));
  return allocatable(t, [...ADDON_DAEMONSETS, ...own]);
}

function showAllocatable(type: string, a: Allocatable): string {
  return (
    `${type} offers ${a.cpuMilli}m CPU, ${a.memoryMiB}Mi memory, ${a.pods} pods ` +
    `(after the kubelet's ${a.reserved.cpuMilli}m CPU and ${a.reserved.memoryMiB}Mi reserved with eviction, ` +
    `and ${a.daemonSets.count} DaemonSets' ${a.daemonSets.cpuMilli}m CPU, ${a.daemonSets.memoryMiB}Mi)`
  );
}

const fits = (r: Request, a: Allocatable): boolean =>
  r.cpuMilli <= a.cpuMilli && r.memoryMiB <= a.memoryMiB;

/** The stack keys that size a pool, for the fix. */
export function poolKeys(ctx: RuleContext, label: string): { types: string; maxNodes: string } {
  if (label === "system")
    return {
      types: "taskfleet:cluster.systemPool.instanceTypes",
      maxNodes: "taskfleet:cluster.systemPool.maxNodes",
    };
  if (label === "broker")
    return {
      types: "taskfleet:cluster.brokerPool.instanceTypes",
      maxNodes: "taskfleet:broker.nodes (the broker pool has nodes + 1)",
    };
  const i = ctx.config.workers.pools.findIndex(
    (p) => `worker-${p.name.replace(/_/g, "-")}` === label,
  );
  const base = i < 0 ? `the ${label} pool` : `taskfleet:workers.pools[${i}]`;
  return { types: `${base}.instanceTypes`, maxNodes: `${base}.maxNodes` };
}

/** Known types a pod fits, the pool's own families first, then the smallest. */
function fittingTypes(
  r: Request,
  pool: Pool,
  all: readonly Pool[],
  wl: readonly Workload[],
): string[] {
  const family = (t: string): string => t.split(".")[0] ?? t;
  const own = new Set(pool.instanceTypes.map(family));
  const size = (t: string): number =>
    (INSTANCE_TYPES[t]?.vcpu ?? 0) * 1e6 + (INSTANCE_TYPES[t]?.memoryGiB ?? 0);
  return Object.keys(INSTANCE_TYPES)
    .filter((type) => {
      const a = nodeAllocatable(type, pool, all, wl);
      return a !== undefined && fits(r, a);
    })
    .sort((x, y) => Number(own.has(family(y))) - Number(own.has(family(x))) || size(x) - size(y));
}

// Unknown instance types are refused: the capacity rules cannot vouch for them.
export const instanceTypeKnown: Rule = {
  id: "instance-type-known",
  description:
    "Every node group's instance type is one whose vCPU, memory and pod limit the capacity rules know",
  source: "https://aws.amazon.com/ec2/instance-types/",
  check(ctx) {
    const out: Violation[] = [];
    for (const p of pools(ctx)) {
      p.instanceTypes.forEach((type, i) => {
        if (INSTANCE_TYPES[type] !== undefined) return;
        out.push({
          resource: keyOf(p.resource),
          field: `instanceTypes[${i}]`,
          problem: `${JSON.stringify(type)} is not in the instance-type table`,
          fix: `use one of ${Object.keys(INSTANCE_TYPES).join(", ")} in ${poolKeys(ctx, p.label).types} (or add the type, with its source, to cli/rules/nodeCapacity.ts)`,
        });
      });
    }
    return out;
  },
};

// EKS AMI types are per architecture (AL2023_x86_64_STANDARD, AL2023_ARM_64_STANDARD); an ARM
// (Graviton) instance type in an x86_64 node group fails to launch, and the reverse.
// Source: https://docs.aws.amazon.com/eks/latest/APIReference/API_Nodegroup.html (amiType)
export const nodeAmiArchitecture: Rule = {
  id: "node-ami-architecture",
  description: "A node group's AMI type has the architecture of its instance types",
  source: "https://docs.aws.amazon.com/eks/latest/APIReference/API_Nodegroup.html",
  check(ctx) {
    const out: Violation[] = [];
    for (const p of pools(ctx)) {
      const ami = str(p.resource.inputs.amiType) ?? "";
      const arch = /ARM_64/.test(ami) ? "arm64" : /x86_64/.test(ami) ? "x86_64" : undefined;
      if (arch === undefined) continue;
      p.instanceTypes.forEach((type, i) => {
        const t = INSTANCE_TYPES[type];
        if (t === undefined || t.arch === arch) return;
        out.push({
          resource: keyOf(p.resource),
          field: `instanceTypes[${i}]`,
          problem: `${type} is ${t.arch} and the node group's amiType ${ami} is ${arch}`,
          fix: `use ${arch} instance types in ${poolKeys(ctx, p.label).types}`,
        });
      });
    }
    return out;
  },
};

// A pod whose nodeSelector matches no node group, or that does not tolerate the taint of the
// pool it selects, stays Pending.
// Source: https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/
export const podHasANodePool: Rule = {
  id: "pod-has-a-node-pool",
  description:
    "Every pod template selects a node group that exists and tolerates that group's taints",
  source: "https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/",
  check(ctx) {
    const all = pools(ctx);
    if (all.length === 0) return [];
    const out: Violation[] = [];
    for (const w of workloads(ctx)) {
      if (w.daemonSet || eligiblePools(w, all).length > 0) continue;
      const selected = all.filter((p) =>
        Object.entries(w.nodeSelector).every(([k, v]) => p.labels[k] === v),
      );
      out.push({
        resource: keyOf(w.resource),
        field: selected.length === 0 ? "nodeSelector" : "tolerations",
        problem:
          selected.length === 0
            ? `pod ${w.name} selects ${JSON.stringify(w.nodeSelector)}, which no node group carries (pools: ${all
                .map((p) => p.label)
                .sort()
                .join(", ")})`
            : `pod ${w.name} selects pool ${selected[0]!.label} but does not tolerate its taint ${JSON.stringify(selected[0]!.taints[0])}`,
        fix:
          selected.length === 0
            ? `select one of the pools with ${POOL_LABEL}`
            : `add a toleration for the taint`,
      });
    }
    return out;
  },
};

// The scheduler places a pod only on a node whose allocatable CPU and memory, less what is
// already requested there (every DaemonSet included), covers the pod's effective request.
// Source: https://kubernetes.io/docs/concepts/scheduling-eviction/kube-scheduler/#kube-scheduler-implementation
// and the reservations in nodeCapacity.ts.
export const podFitsNode: Rule = {
  id: "pod-fits-node",
  description:
    "Every pod template (init and sidecar containers included) fits each instance type of its node pool after EKS's reservations and the DaemonSets",
  source: "https://kubernetes.io/docs/concepts/scheduling-eviction/kube-scheduler/",
  check(ctx) {
    const all = pools(ctx);
    const wl = workloads(ctx);
    const out: Violation[] = [];
    for (const w of wl) {
      if (w.daemonSet) continue;
      for (const pool of eligiblePools(w, all)) {
        for (const type of pool.instanceTypes) {
          const a = nodeAllocatable(type, pool, all, wl);
          if (a === undefined || fits(w.request, a)) continue;
          const better = fittingTypes(w.request, pool, all, wl).slice(0, 3);
          out.push({
            resource: keyOf(w.resource),
            field: "spec.template.spec.containers[].resources.requests",
            problem: `pod ${w.name} requests ${showRequest(w.request)} (init and sidecar containers counted) and a node of pool ${pool.label}: ${showAllocatable(type, a)}`,
            fix: `lower the pod's requests to at most ${a.cpuMilli}m CPU and ${a.memoryMiB}Mi, or use a larger instance type in ${poolKeys(ctx, pool.label).types}${better.length > 0 ? ` (${better.join(", ")} fit)` : ""}`,
          });
        }
      }
    }
    return out;
  },
};

interface Bin {
  cpuMilli: number;
  memoryMiB: number;
  pods: number;
  names: Set<string>;
}

/** Nodes needed for `items` by first-fit decreasing (an upper bound the scheduler can meet). */
export function nodesNeeded(
  items: readonly { name: string; request: Request; onePerNode: boolean }[],
  a: Allocatable,
): number {
  const sorted = [...items].sort(
    (x, y) => y.request.cpuMilli - x.request.cpuMilli || y.request.memoryMiB - x.request.memoryMiB,
  );
  const bins: Bin[] = [];
  for (const it of sorted) {
    const bin = bins.find(
      (b) =>
        b.cpuMilli >= it.request.cpuMilli &&
        b.memoryMiB >= it.request.memoryMiB &&
        b.pods >= 1 &&
        !(it.onePerNode && b.names.has(it.name)),
    );
    const target = bin ?? {
      cpuMilli: a.cpuMilli,
      memoryMiB: a.memoryMiB,
      pods: a.pods,
      names: new Set<string>(),
    };
    if (bin === undefined) bins.push(target);
    target.cpuMilli -= it.request.cpuMilli;
    target.memoryMiB -= it.request.memoryMiB;
    target.pods -= 1;
    target.names.add(it.name);
  }
  return bins.length;
}

// A pool must hold every pod pinned to it at the pods' maximum replicas within its maxNodes,
// or the autoscaler asks for pods the node group can never host.
export const poolHoldsMaxReplicas: Rule = {
  id: "pool-holds-max-replicas",
  description:
    "Each node pool holds the pods pinned to it, at their maximum replicas, within its maximum node count",
  source: "https://docs.aws.amazon.com/eks/latest/userguide/managed-node-groups.html",
  check(ctx) {
    const all = pools(ctx);
    const wl = workloads(ctx);
    const out: Violation[] = [];
    for (const pool of all) {
      const pinned = wl.filter((w) => {
        if (w.daemonSet) return false;
        const e = eligiblePools(w, all);
        return e.length === 1 && e[0] === pool;
      });
      if (pinned.length === 0) continue;
      const items = pinned.flatMap((w) =>
        Array.from({ length: w.maxReplicas }, () => ({
          name: w.name,
          request: w.request,
          onePerNode: w.onePerNode,
        })),
      );
      for (const type of pool.instanceTypes) {
        const a = nodeAllocatable(type, pool, all, wl);
        if (a === undefined || pinned.some((w) => !fits(w.request, a))) continue; // pod-fits-node says why
        const needed = nodesNeeded(items, a);
        if (needed <= pool.maxNodes) continue;
        const keys = poolKeys(ctx, pool.label);
        out.push({
          resource: keyOf(pool.resource),
          field: "scalingConfig.maxSize",
          problem: `pool ${pool.label} needs ${needed} nodes of ${type} for ${pinned.map((w) => `${w.maxReplicas} × ${w.name} (${showRequest(w.request)})`).join(", ")}; its maxNodes is ${pool.maxNodes} (${showAllocatable(type, a)})`,
          fix: `raise ${keys.maxNodes} to ${needed}, lower the maximum replicas, or use a larger instance type in ${keys.types}`,
        });
      }
    }
    return out;
  },
};
