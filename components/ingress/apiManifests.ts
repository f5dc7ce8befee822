/**
 * Kubernetes objects of the task API (ingress layer, S5, S7): a Deployment of `taskfleet api`
 * from the worker image (clients' token hashes mounted from a Secret, `/metrics` on its own
 * container port), a PodDisruptionBudget and a network load balancer Service — internal unless the
 * stack exposes the API publicly, which takes a TLS listener on 443 only (an ACM certificate).
 * The Service never carries the metrics port. (The Route 53 latency record is placed by the
 * Ingress component, S11.) Pure: no Pulumi import.
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
  /** Container port of `/metrics` (scraped by Monitoring, never on the Service). */
  readonly metricsPort: number;
  /** Secret holding the tokens file (key `tokens`: `<client> <sha256> <globs>` lines). */
  readonly tokensSecretName: string;
  /** `internal`: a load balancer inside the VPC; `public`: internet-facing (needs `certificateArn`). */
  readonly exposure: ApiExposure;
  /** ACM certificate of the TLS listener (443 only). @default - none: plain HTTP on 80 (internal only) */
  readonly certificateArn?: string;
}

export type ApiExposure = "internal" | "public";

/** Where the tokens file is mounted in the API's container. */
export const TOKENS_DIR = "/etc/taskfleet/api";
const LB = "service.beta.kubernetes.io/aws-load-balancer-";
/** AWS's TLS 1.3/1.2 policy for NLB TLS listeners (no TLS 1.0/1.1). */
export const TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06";

export interface ApiObjects {
  readonly deployment: K8sObject;
  readonly podDisruptionBudget: K8sObject;
  readonly service: K8sObject;
}

export function apiObjects(ctx: ApiContext): ApiObjects {
  if (ctx.exposure === "public" && ctx.certificateArn === undefined) {
    throw new Error(
      "ingress.exposure: public needs ingress.certificateArn (an ACM certificate for the TLS listener on 443)",
    );
  }
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
      // Listen on every interface: the load balancer, probes and Prometheus reach the pod IP.
      args: [
        "api",
        "--host",
        "0.0.0.0",
        "--port",
        String(ctx.port),
        "--metrics-port",
        String(ctx.metricsPort),
        "--tokens-file",
        `${TOKENS_DIR}/tokens`,
        ...(ctx.routingArgs ?? []),
      ],
      secretName: ctx.secretName,
      env: [{ name: "TASKFLEET_REGION", value: ctx.region }],
      port: { name: "http", containerPort: ctx.port },
      cpu: ctx.cpu,
      memory: `${ctx.memoryMiB}Mi`,
    },
    tmpSizeLimit: "64Mi",
  });
  withTokensAndMetrics(deployment, ctx);
  const tls = ctx.certificateArn !== undefined;
  const service: K8sObject = {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      ...meta(),
      annotations: {
        [`${LB}type`]: "nlb",
        [`${LB}cross-zone-load-balancing-enabled`]: "true",
        [`${LB}scheme`]: ctx.exposure === "public" ? "internet-facing" : "internal",
        ...(ctx.exposure === "internal" ? { [`${LB}internal`]: "true" } : {}),
        ...(tls
          ? {
              [`${LB}ssl-cert`]: ctx.certificateArn!,
              [`${LB}ssl-ports`]: "443",
              [`${LB}ssl-negotiation-policy`]: TLS_POLICY,
              [`${LB}backend-protocol`]: "tcp",
            }
          : {}),
      },
    },
    spec: {
      type: "LoadBalancer",
      selector: match,
      externalTrafficPolicy: "Local",
      ports: tls
        ? [{ name: "https", port: 443, targetPort: "http", protocol: "TCP" }]
        : [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }],
    },
  };
  return { deployment, podDisruptionBudget, service };
}

/** Adds the metrics container port and the read-only tokens volume to the API's Deployment. */
function withTokensAndMetrics(deployment: K8sObject, ctx: ApiContext): void {
  const pod = (deployment.spec as { template: { spec: Record<string, unknown> } }).template.spec;
  const container = (pod.containers as Record<string, unknown>[])[0]!;
  (container.ports as unknown[]).push({
    name: "metrics",
    containerPort: ctx.metricsPort,
    protocol: "TCP",
  });
  (container.volumeMounts as unknown[]).push({
    name: "api-tokens",
    mountPath: TOKENS_DIR,
    readOnly: true,
  });
  (pod.volumes as unknown[]).push({
    name: "api-tokens",
    secret: { secretName: ctx.tokensSecretName, defaultMode: 0o440 },
  });
}
