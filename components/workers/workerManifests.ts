/**
 * Kubernetes objects of one worker pool (S22, S24, S27, S39): the Deployment running
 * `taskfleet worker` with its queue, concurrency, node name and autoscale, its disruption budget,
 * and the KEDA objects that scale it on queue backlog. Pure: no Pulumi import.
 */
import { POOL_LABEL, workerPoolKey } from "../compute/nodePools.js";
import { k8sName, type K8sObject } from "../k8s/objects.js";
import { runtimeWorkload } from "../k8s/runtimeDeployment.js";

/** Pod label carrying the pool's name (Prometheus copies it to `pool`; WorkerPoolDown uses it). */
export const WORKER_POOL_LABEL = "taskfleet.io/worker-pool";

/** Seconds added to the task time limit for the grace period, so a running task can finish. */
export const GRACE_MARGIN_SECONDS = 30;

/** A worker pool's size, autoscale bounds and limits: the same in its config and its manifests. */
export interface WorkerPoolSizing {
  /** Pool name; the worker node name is `<name>_worker@%h`. */
  readonly name: string;
  readonly priority: "high" | "default" | "low";
  readonly concurrency: number;
  readonly minConcurrency: number;
  readonly maxConcurrency: number;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** KEDA target: ready messages per replica. */
  readonly backlogPerReplica: number;
  readonly cpu: string;
  readonly memoryMiB: number;
  readonly taskTimeLimitSeconds: number;
}

export interface WorkerPoolSpec extends WorkerPoolSizing {
  /** AMQP queues the pool consumes (the shard queues when the class is sharded). */
  readonly queues: readonly string[];
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
  const { meta, deployment, podDisruptionBudget } = runtimeWorkload({
    appName: "taskfleet-worker",
    component: "worker",
    name,
    namespace: ctx.namespace,
    // The pool's name on its pods: Prometheus copies it to the `pool` label (WorkerPoolDown).
    extraLabels: { "taskfleet.io/priority": pool.priority, [WORKER_POOL_LABEL]: pool.name },
    maxSurge: "25%",
    terminationGracePeriodSeconds: pool.taskTimeLimitSeconds + GRACE_MARGIN_SECONDS,
    ...(ctx.selectNodePool ? { nodeSelector: { [POOL_LABEL]: workerPoolKey(pool.name) } } : {}),
    container: {
      name: "worker",
      image: ctx.image,
      args: workerArgs(pool, ctx),
      secretName: ctx.secretName,
      env: [{ name: "TASKFLEET_TASK_TIME_LIMIT", value: String(pool.taskTimeLimitSeconds) }],
      port: { name: "health", containerPort: ctx.healthPort },
      cpu: pool.cpu,
      memory: `${pool.memoryMiB}Mi`,
      probeTimeoutSeconds: 2,
      startupProbe: { periodSeconds: 2, failureThreshold: 30 },
    },
    tmpSizeLimit: "256Mi",
  });
  const triggerAuthentication: K8sObject = {
    apiVersion: "keda.sh/v1alpha1",
    kind: "TriggerAuthentication",
    metadata: meta(),
    spec: { secretTargetRef: [{ parameter: "host", name: ctx.secretName, key: "brokerUrl" }] },
  };
  const scaledObject: K8sObject = {
    apiVersion: "keda.sh/v1alpha1",
    kind: "ScaledObject",
    metadata: meta(),
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
