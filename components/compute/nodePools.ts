/**
 * The node pools of a region's EKS cluster and its kubeconfig, as plain data. Pure: no Pulumi
 * import. The broker pool is tainted so only broker pods land there; each worker pool carries a
 * label its Deployment selects (S22, S25, S27).
 */

/** Label every taskfleet node carries; workloads select their pool with it. */
export const POOL_LABEL = "taskfleet.io/pool";

export type PoolRole = "system" | "broker" | "worker";

export interface NodePoolInput {
  readonly instanceTypes: readonly string[];
  readonly minNodes: number;
  readonly maxNodes: number;
  readonly desiredNodes?: number;
  readonly volumeSizeGiB: number;
}

export interface NodePoolPlan {
  readonly role: PoolRole;
  /** Suffix of the Pulumi names (`<cluster>-<key>`) and value of {@link POOL_LABEL}. */
  readonly key: string;
  readonly instanceTypes: readonly string[];
  readonly minNodes: number;
  readonly maxNodes: number;
  readonly desiredNodes: number;
  readonly volumeSizeGiB: number;
  readonly labels: Record<string, string>;
  readonly taints: readonly { key: string; value: string; effect: "NO_SCHEDULE" }[];
}

/** The pool a worker pool's pods run on. */
export function workerPoolKey(poolName: string): string {
  return `worker-${poolName.replace(/_/g, "-")}`;
}

export function planNodePools(args: {
  system: NodePoolInput;
  broker: NodePoolInput;
  workers: readonly (NodePoolInput & { name: string })[];
}): NodePoolPlan[] {
  const make = (role: PoolRole, key: string, p: NodePoolInput, tainted: boolean): NodePoolPlan => ({
    role,
    key,
    instanceTypes: [...p.instanceTypes],
    minNodes: p.minNodes,
    maxNodes: p.maxNodes,
    desiredNodes: p.desiredNodes ?? p.minNodes,
    volumeSizeGiB: p.volumeSizeGiB,
    labels: { [POOL_LABEL]: key, "taskfleet.io/role": role },
    taints: tainted ? [{ key: POOL_LABEL, value: key, effect: "NO_SCHEDULE" }] : [],
  });
  return [
    make("system", "system", args.system, false),
    make("broker", "broker", args.broker, true),
    ...args.workers.map((w) => make("worker", workerPoolKey(w.name), w, false)),
  ];
}

/** Instance metadata: IMDSv2 only (tokens required), hop limit 2 so pods on the host network can reach it. */
export const IMDS_V2_REQUIRED = Object.freeze({
  httpEndpoint: "enabled",
  httpTokens: "required",
  httpPutResponseHopLimit: 2,
  instanceMetadataTags: "disabled",
});

/** Root volume of every node: gp3 (SSD), encrypted, deleted with the instance. */
export function rootVolume(volumeSizeGiB: number): Record<string, unknown> {
  return {
    deviceName: "/dev/xvda",
    ebs: {
      volumeSize: volumeSizeGiB,
      volumeType: "gp3",
      encrypted: "true",
      deleteOnTermination: "true",
    },
  };
}

/** A kubeconfig that authenticates through `aws eks get-token` (no static credentials). */
export function eksKubeconfig(args: {
  clusterName: string;
  endpoint: string;
  certificateAuthorityData: string;
  region: string;
}): string {
  const user = `aws-${args.clusterName}`;
  const doc = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: args.clusterName,
        cluster: {
          server: args.endpoint,
          "certificate-authority-data": args.certificateAuthorityData,
        },
      },
    ],
    contexts: [{ name: args.clusterName, context: { cluster: args.clusterName, user } }],
    "current-context": args.clusterName,
    users: [
      {
        name: user,
        user: {
          exec: {
            apiVersion: "client.authentication.k8s.io/v1beta1",
            command: "aws",
            args: ["eks", "get-token", "--cluster-name", args.clusterName, "--region", args.region],
          },
        },
      },
    ],
  };
  return JSON.stringify(doc);
}
