/**
 * Kubernetes objects of the task API (ingress layer, S5, S7): a Deployment of `taskfleet api`
 * from the worker image, a PodDisruptionBudget and an internet-facing network load balancer
 * Service (the Route 53 latency record is placed by the Ingress component, S11).
 * Pure: no Pulumi import.
 */
import { POOL_LABEL } from "../compute/nodePools.js";
import { k8sName, type K8sObject } from "../k8s/objects.js";
import { runtimeWorkload } from "../k8s/runtimeDeployment.js";

/** A queue class as the API routes to it. */
export interface ApiQueueClass {
  readonly name: string;
  readonly queue: string;
  readonly exchange: string;
  /** Routing-key pattern, e.g. `high.#`. */
  readonly routingKey: string;
}

/**
 * `taskfleet api` routing flags for a region: every queue class (`--queue q=exchange:prefix`),
 * the priority names the pools use (`--priority name=queue`), the default queue and, when a class
 * is sharded on the routing key, `--shard-queue`.
 */
export function apiRoutingArgs(args: {
  classes: readonly ApiQueueClass[];
  priorities: readonly { priority: string; queueClass: string }[];
  shardedClass?: string;
}): string[] {
  const out: string[] = [];
  for (const c of args.classes) {
    const prefix = c.routingKey.replace(/\.[#*]$/, "");
    out.push("--queue", `${c.queue}=${c.exchange}:${prefix}`);
  }
  const seen = new Set<string>();
  for (const p of args.priorities) {
    const c = args.classes.find((x) => x.name === p.queueClass);
    if (c === undefined || seen.has(p.priority)) continue;
    seen.add(p.priority);
    out.push("--priority", `${p.priority}=${c.queue}`);
  }
  const def = args.classes.find((c) => c.name === "default") ?? args.classes[0];
  if (def) out.push("--default-queue", def.queue);
  const sharded = args.classes.find((c) => c.name === args.shardedClass);
  if (sharded) out.push("--shard-queue", sharded.queue);
  return out;
}

export interface ApiContext {
  readonly instance: string;
  readonly namespace: string;
  readonly image: string;
  readonly region: string;
  readonly replicas: number;
  readonly port: number;
  readonly cpu: string;
  readonly memoryMiB: number;
  /** Secret holding `brokerUrl` (producer credentials) and `resultBackend`. */
  readonly secretName: string;
  readonly selectNodePool: boolean;
  /** Routing flags from {@link apiRoutingArgs}. */
  readonly routingArgs?: readonly string[];
}

export interface ApiObjects {
  readonly deployment: K8sObject;
  readonly podDisruptionBudget: K8sObject;
  readonly service: K8sObject;
}

export function apiObjects(ctx: ApiContext): ApiObjects {
  const name = k8sName(ctx.instance, "api");
  const { meta, match, deployment, podDisruptionBudget } = runtimeWorkload({
    appName: "taskfleet-api",
    component: "api",
    name,
    namespace: ctx.namespace,
    replicas: ctx.replicas,
    maxSurge: 1,
    terminationGracePeriodSeconds: 30,
    ...(ctx.selectNodePool ? { nodeSelector: { [POOL_LABEL]: "system" } } : {}),
    container: {
      name: "api",
      image: ctx.image,
      // Listen on every interface: the load balancer and probes reach the pod IP.
      args: ["api", "--host", "0.0.0.0", "--port", String(ctx.port), ...(ctx.routingArgs ?? [])],
      secretName: ctx.secretName,
      env: [{ name: "TASKFLEET_REGION", value: ctx.region }],
      port: { name: "http", containerPort: ctx.port },
      cpu: ctx.cpu,
      memory: `${ctx.memoryMiB}Mi`,
    },
    tmpSizeLimit: "64Mi",
  });
  const service: K8sObject = {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      ...meta(),
      annotations: {
        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
        "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true",
      },
    },
    spec: {
      type: "LoadBalancer",
      selector: match,
      externalTrafficPolicy: "Local",
      ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }],
    },
  };
  return { deployment, podDisruptionBudget, service };
}
