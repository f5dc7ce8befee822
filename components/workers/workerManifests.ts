/**
 * Kubernetes objects of one worker pool (S22, S24, S27, S39): the Deployment running
 * `taskfleet worker` with its queue, concurrency, node name and autoscale, its disruption budget,
 * and the KEDA objects that scale it on queue backlog. Pure: no Pulumi import.
 */
import { POOL_LABEL, workerPoolKey } from "../compute/nodePools.js";
import {
  containerSecurityContext,
  k8sName,
  labels,
  podSecurityContext,
  selector,
  zoneSpread,
  type K8sObject,
} from "../k8s/objects.js";

/** User id the worker image runs as (non-root). */
export const WORKER_UID = 1000;
/** Seconds added to the task time limit for the grace period, so a running task can finish. */
export const GRACE_MARGIN_SECONDS = 30;

export interface WorkerPoolSpec {
  readonly name: string;
  /** AMQP queues the pool consumes (the shard queues when the class is sharded). */
  readonly queues: readonly string[];
  readonly priority: "high" | "default" | "low";
  readonly concurrency: number;
  readonly minConcurrency: number;
  readonly maxConcurrency: number;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly backlogPerReplica: number;
  readonly cpu: string;
  readonly memoryMiB: number;
  readonly taskTimeLimitSeconds: number;
}

export interface WorkerPoolContext {
  /** Component instance name (label value and name prefix). */
  readonly instance: string;
  readonly namespace: string;
  readonly image: string;
  /** Task module for `-A`; omitted when undefined. */
  readonly app?: string;
  readonly healthPort: number;
  /** Secret holding `brokerUrl` and `resultBackend`. */
  readonly secretName: string;
  /** Select the pool's own node group (clusters built by taskfleet). */
  readonly selectNodePool: boolean;
}

export interface WorkerPoolObjects {
  readonly deployment: K8sObject;
  readonly podDisruptionBudget: K8sObject;
  readonly triggerAuthentication: K8sObject;
  readonly scaledObject: K8sObject;
}

/** The worker's command line, as Celery users write it (S22, S24). */
export function workerArgs(
  pool: WorkerPoolSpec,
  ctx: Pick<WorkerPoolContext, "app" | "healthPort">,
): string[] {
  return [
    "worker",
    ...(ctx.app ? ["-A", ctx.app] : []),
    "-Q",
    pool.queues.join(","),
    "-c",
    String(pool.concurrency),
    "-n",
    `${pool.name}_worker@%h`,
    `--autoscale=${pool.maxConcurrency},${pool.minConcurrency}`,
    "--prefetch-multiplier=1",
    // Finish running tasks on SIGTERM within the task time limit (the grace period adds a margin).
    "--shutdown-timeout",
    String(pool.taskTimeLimitSeconds),
    // Probes come from the kubelet through the pod IP, so listen on every interface.
    "--health-host",
    "0.0.0.0",
    "--health-port",
    String(ctx.healthPort),
  ];
}

export function workerPoolObjects(pool: WorkerPoolSpec, ctx: WorkerPoolContext): WorkerPoolObjects {
  const name = k8sName(ctx.instance, pool.name);
  const appName = "taskfleet-worker";
  const meta = (n: string) => ({
    name: n,
    namespace: ctx.namespace,
    labels: { ...labels(appName, "worker", name), "taskfleet.io/priority": pool.priority },
  });
  const match = selector(appName, name);
  const memory = `${pool.memoryMiB}Mi`;
  const deployment: K8sObject = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: meta(name),
    spec: {
      selector: { matchLabels: match },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: "25%" } },
      template: {
        metadata: {
          labels: { ...labels(appName, "worker", name), "taskfleet.io/priority": pool.priority },
        },
        spec: {
          automountServiceAccountToken: false,
          securityContext: podSecurityContext(WORKER_UID),
          terminationGracePeriodSeconds: pool.taskTimeLimitSeconds + GRACE_MARGIN_SECONDS,
          ...(ctx.selectNodePool
            ? { nodeSelector: { [POOL_LABEL]: workerPoolKey(pool.name) } }
            : {}),
          topologySpreadConstraints: zoneSpread(match, "ScheduleAnyway"),
          containers: [
            {
              name: "worker",
              image: ctx.image,
              args: workerArgs(pool, ctx),
              env: [
                {
                  name: "TASKFLEET_BROKER_URL",
                  valueFrom: { secretKeyRef: { name: ctx.secretName, key: "brokerUrl" } },
                },
                {
                  name: "TASKFLEET_RESULT_BACKEND",
                  valueFrom: { secretKeyRef: { name: ctx.secretName, key: "resultBackend" } },
                },
                { name: "TASKFLEET_TASK_TIME_LIMIT", value: String(pool.taskTimeLimitSeconds) },
              ],
              ports: [{ name: "health", containerPort: ctx.healthPort, protocol: "TCP" }],
              resources: {
                requests: { cpu: pool.cpu, memory },
                limits: { cpu: pool.cpu, memory },
              },
              livenessProbe: {
                httpGet: { path: "/healthz", port: "health" },
                periodSeconds: 10,
                failureThreshold: 3,
                timeoutSeconds: 2,
              },
              readinessProbe: {
                httpGet: { path: "/readyz", port: "health" },
                periodSeconds: 5,
                failureThreshold: 2,
                timeoutSeconds: 2,
              },
              startupProbe: {
                httpGet: { path: "/healthz", port: "health" },
                periodSeconds: 2,
                failureThreshold: 30,
              },
              securityContext: containerSecurityContext(true),
              volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
            },
          ],
          volumes: [{ name: "tmp", emptyDir: { sizeLimit: "256Mi" } }],
        },
      },
    },
  };
  const podDisruptionBudget: K8sObject = {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: meta(name),
    spec: { maxUnavailable: 1, selector: { matchLabels: match } },
  };
  const triggerAuthentication: K8sObject = {
    apiVersion: "keda.sh/v1alpha1",
    kind: "TriggerAuthentication",
    metadata: meta(name),
    spec: { secretTargetRef: [{ parameter: "host", name: ctx.secretName, key: "brokerUrl" }] },
  };
  const scaledObject: K8sObject = {
    apiVersion: "keda.sh/v1alpha1",
    kind: "ScaledObject",
    metadata: meta(name),
    spec: {
      scaleTargetRef: { name },
      minReplicaCount: pool.minReplicas,
      maxReplicaCount: pool.maxReplicas,
      pollingInterval: 15,
      cooldownPeriod: 300,
      advanced: {
        horizontalPodAutoscalerConfig: {
          behavior: {
            scaleDown: {
              stabilizationWindowSeconds: 300,
              policies: [{ type: "Pods", value: 1, periodSeconds: 60 }],
            },
          },
        },
      },
      triggers: pool.queues.map((queueName) => ({
        type: "rabbitmq",
        metadata: {
          protocol: "amqp",
          queueName,
          mode: "QueueLength",
          value: String(pool.backlogPerReplica),
        },
        authenticationRef: { name },
      })),
    },
  };
  return { deployment, podDisruptionBudget, triggerAuthentication, scaledObject };
}
