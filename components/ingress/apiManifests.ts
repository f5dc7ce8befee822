/**
 * Kubernetes objects of the task API (ingress layer, S5, S7): a Deployment of `taskfleet api`
 * from the worker image, a PodDisruptionBudget and an internet-facing network load balancer
 * Service (the Route 53 latency record is placed by the Ingress component, S11).
 * Pure: no Pulumi import.
 */
import { POOL_LABEL } from "../compute/nodePools.js";
import {
  containerSecurityContext,
  k8sName,
  labels,
  podSecurityContext,
  selector,
  zoneSpread,
  type K8sObject,
} from "../k8s/objects.js";
import { WORKER_UID } from "../workers/workerManifests.js";

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
  const appName = "taskfleet-api";
  const meta = { name, namespace: ctx.namespace, labels: labels(appName, "api", name) };
  const match = selector(appName, name);
  const memory = `${ctx.memoryMiB}Mi`;
  const deployment: K8sObject = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: meta,
    spec: {
      replicas: ctx.replicas,
      selector: { matchLabels: match },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels: labels(appName, "api", name) },
        spec: {
          automountServiceAccountToken: false,
          securityContext: podSecurityContext(WORKER_UID),
          terminationGracePeriodSeconds: 30,
          ...(ctx.selectNodePool ? { nodeSelector: { [POOL_LABEL]: "system" } } : {}),
          topologySpreadConstraints: zoneSpread(match, "ScheduleAnyway"),
          containers: [
            {
              name: "api",
              image: ctx.image,
              // Listen on every interface: the load balancer and probes reach the pod IP.
              args: [
                "api",
                "--host",
                "0.0.0.0",
                "--port",
                String(ctx.port),
                ...(ctx.routingArgs ?? []),
              ],
              env: [
                {
                  name: "TASKFLEET_BROKER_URL",
                  valueFrom: { secretKeyRef: { name: ctx.secretName, key: "brokerUrl" } },
                },
                {
                  name: "TASKFLEET_RESULT_BACKEND",
                  valueFrom: { secretKeyRef: { name: ctx.secretName, key: "resultBackend" } },
                },
                { name: "TASKFLEET_REGION", value: ctx.region },
              ],
              ports: [{ name: "http", containerPort: ctx.port, protocol: "TCP" }],
              resources: { requests: { cpu: ctx.cpu, memory }, limits: { cpu: ctx.cpu, memory } },
              livenessProbe: {
                httpGet: { path: "/healthz", port: "http" },
                periodSeconds: 10,
                failureThreshold: 3,
              },
              readinessProbe: {
                httpGet: { path: "/readyz", port: "http" },
                periodSeconds: 5,
                failureThreshold: 2,
              },
              securityContext: containerSecurityContext(true),
              volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
            },
          ],
          volumes: [{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }],
        },
      },
    },
  };
  const podDisruptionBudget: K8sObject = {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: meta,
    spec: { maxUnavailable: 1, selector: { matchLabels: match } },
  };
  const service: K8sObject = {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      ...meta,
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
