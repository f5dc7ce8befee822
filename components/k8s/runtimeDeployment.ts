/**
 * The Deployment shape every pod of the taskfleet runtime image shares (the worker pools and the
 * task API): non-root with the restricted security context, connection settings from one
 * Secret, HTTP health probes on the runtime's `/healthz` and `/readyz`, a small writable `/tmp`,
 * zone spread. Pure: no Pulumi import.
 */
import {
  containerSecurityContext,
  fixedResources,
  labels,
  objectMeta,
  onePodAtATime,
  podSecurityContext,
  selector,
  zoneSpread,
  type K8sObject,
  type ObjectMeta,
} from "./objects.js";

/** User id the runtime image runs as (non-root). */
export const RUNTIME_UID = 1000;

export interface RuntimeContainer {
  readonly name: string;
  readonly image: string;
  readonly args: readonly string[];
  /** Secret holding `brokerUrl` and `resultBackend`. */
  readonly secretName: string;
  /** Variables after the broker URL and the result backend. */
  readonly env: readonly { name: string; value: string }[];
  /** The named port the health endpoints listen on. */
  readonly port: { readonly name: string; readonly containerPort: number };
  readonly cpu: string;
  readonly memory: string;
  /** `timeoutSeconds` of the liveness and readiness probes. @default - Kubernetes' default */
  readonly probeTimeoutSeconds?: number;
  /** A startup probe on `/healthz`. @default - none */
  readonly startupProbe?: { readonly periodSeconds: number; readonly failureThreshold: number };
}

export interface RuntimeDeployment {
  readonly metadata: ObjectMeta;
  /** Labels of the pod template. */
  readonly podLabels: Record<string, string>;
  readonly match: Record<string, string>;
  /** @default - left to the autoscaler */
  readonly replicas?: number;
  readonly maxSurge: number | string;
  readonly terminationGracePeriodSeconds: number;
  /** @default - none */
  readonly nodeSelector?: Record<string, string>;
  readonly container: RuntimeContainer;
  /** Size limit of the `/tmp` emptyDir, e.g. `64Mi`. */
  readonly tmpSizeLimit: string;
}

/** Broker URL and result backend from the connection Secret. */
export function connectionEnv(secretName: string): Record<string, unknown>[] {
  return [
    {
      name: "TASKFLEET_BROKER_URL",
      valueFrom: { secretKeyRef: { name: secretName, key: "brokerUrl" } },
    },
    {
      name: "TASKFLEET_RESULT_BACKEND",
      valueFrom: { secretKeyRef: { name: secretName, key: "resultBackend" } },
    },
  ];
}

export function runtimeContainer(c: RuntimeContainer): Record<string, unknown> {
  const timeout =
    c.probeTimeoutSeconds === undefined ? {} : { timeoutSeconds: c.probeTimeoutSeconds };
  const port = c.port.name;
  return {
    name: c.name,
    image: c.image,
    args: [...c.args],
    env: [...connectionEnv(c.secretName), ...c.env.map((e) => ({ ...e }))],
    ports: [{ name: port, containerPort: c.port.containerPort, protocol: "TCP" }],
    resources: fixedResources(c.cpu, c.memory),
    livenessProbe: {
      httpGet: { path: "/healthz", port },
      periodSeconds: 10,
      failureThreshold: 3,
      ...timeout,
    },
    readinessProbe: {
      httpGet: { path: "/readyz", port },
      periodSeconds: 5,
      failureThreshold: 2,
      ...timeout,
    },
    ...(c.startupProbe
      ? { startupProbe: { httpGet: { path: "/healthz", port }, ...c.startupProbe } }
      : {}),
    securityContext: containerSecurityContext(true),
    volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
  };
}

export function runtimeDeployment(d: RuntimeDeployment): K8sObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: d.metadata,
    spec: {
      ...(d.replicas === undefined ? {} : { replicas: d.replicas }),
      selector: { matchLabels: d.match },
      strategy: {
        type: "RollingUpdate",
        rollingUpdate: { maxUnavailable: 0, maxSurge: d.maxSurge },
      },
      template: {
        metadata: { labels: d.podLabels },
        spec: {
          automountServiceAccountToken: false,
          securityContext: podSecurityContext(RUNTIME_UID),
          terminationGracePeriodSeconds: d.terminationGracePeriodSeconds,
          ...(d.nodeSelector ? { nodeSelector: d.nodeSelector } : {}),
          topologySpreadConstraints: zoneSpread(d.match, "ScheduleAnyway"),
          containers: [runtimeContainer(d.container)],
          volumes: [{ name: "tmp", emptyDir: { sizeLimit: d.tmpSizeLimit } }],
        },
      },
    },
  };
}

/** A runtime Deployment with its names and labels derived, and its disruption budget. */
export interface RuntimeWorkload extends Omit<
  RuntimeDeployment,
  "metadata" | "podLabels" | "match"
> {
  /** `app.kubernetes.io/name`, e.g. `taskfleet-worker`. */
  readonly appName: string;
  /** `app.kubernetes.io/component`, e.g. `worker`. */
  readonly component: string;
  /** Name of the Deployment and its budget, and the `app.kubernetes.io/instance` label. */
  readonly name: string;
  readonly namespace: string;
  /** Labels after the recommended ones. @default {} */
  readonly extraLabels?: Record<string, string>;
}

export interface RuntimeWorkloadObjects {
  /** Metadata with the workload's labels, for it and its companion objects. */
  readonly meta: (name?: string) => ObjectMeta;
  readonly match: Record<string, string>;
  readonly deployment: K8sObject;
  readonly podDisruptionBudget: K8sObject;
}

export function runtimeWorkload(w: RuntimeWorkload): RuntimeWorkloadObjects {
  const { appName, component, name, namespace, extraLabels, ...rest } = w;
  const podLabels = () => ({ ...labels(appName, component, name), ...extraLabels });
  const meta = (n = name) => objectMeta(n, namespace, podLabels());
  const match = selector(appName, name);
  return {
    meta,
    match,
    deployment: runtimeDeployment({ ...rest, metadata: meta(), podLabels: podLabels(), match }),
    podDisruptionBudget: onePodAtATime(meta(), match),
  };
}
