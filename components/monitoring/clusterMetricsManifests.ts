/**
 * Kubernetes objects of the cluster exporters the node, disk and volume rules read:
 *  - kube-state-metrics (one Deployment in the monitoring namespace), limited to the two
 *    resources the rules use (nodes, persistent volume claims) and allowed to list and watch
 *    exactly those;
 *  - node-exporter (a DaemonSet on every node, every taint tolerated) in a namespace of its own:
 *    it reads the host's /proc, /sys and root filesystem through read-only hostPath mounts, which
 *    Pod Security's `restricted` and `baseline` levels forbid, so its namespace enforces
 *    `privileged` while the task system's keeps `restricted`. It stays in the pod network (no
 *    hostNetwork, no hostPID): the rules read memory and filesystems only, and so nothing listens
 *    on the nodes' addresses.
 * Plain manifests rather than a Helm chart so that every request, toleration and permission is
 * visible to `taskfleet plan`'s rules (DaemonSet capacity on every pool) and to exact tests. Pure.
 */
import {
  containerSecurityContext,
  labels,
  objectMeta,
  podSecurityContext,
  selector,
  type K8sObject,
} from "../k8s/objects.js";
import { KUBE_STATE_METRICS_PORT, NODE_EXPORTER_PORT } from "./metrics.js";

export const CLUSTER_METRICS_DEFAULTS = Object.freeze({
  // v2.16 is built with client-go 1.33, the clusters' default Kubernetes version
  // (kube-state-metrics' compatibility matrix in its README).
  kubeStateMetricsImage: "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.16.0",
  nodeExporterImage: "quay.io/prometheus/node-exporter:v1.9.1",
});

/** The resources kube-state-metrics watches: what the cluster rules read, nothing more. */
export const KSM_RESOURCES = Object.freeze([
  { resource: "nodes", apiGroup: "", flag: "nodes" },
  { resource: "persistentvolumeclaims", apiGroup: "", flag: "persistentvolumeclaims" },
]);

export interface ClusterMetricsInput {
  /** Prefix of the object names (cluster-scoped ones too). */
  readonly name: string;
  /** Namespace of kube-state-metrics (the monitoring namespace). */
  readonly namespace: string;
  /** Namespace created for node-exporter (Pod Security `privileged`). */
  readonly nodeExporterNamespace: string;
  /** Node labels kube-state-metrics must run on. @default {} */
  readonly nodeSelector?: Readonly<Record<string, string>>;
  readonly kubeStateMetricsImage?: string;
  readonly nodeExporterImage?: string;
}

export interface ClusterMetricsObjects {
  readonly kubeStateMetrics: {
    readonly serviceAccount: K8sObject;
    readonly clusterRole: K8sObject;
    readonly clusterRoleBinding: K8sObject;
    readonly deployment: K8sObject;
    readonly service: K8sObject;
    /** `host:port` of its Service, for the scrape job. */
    readonly address: string;
  };
  readonly nodeExporter: {
    readonly namespace: K8sObject;
    readonly daemonSet: K8sObject;
    /** The labels that select its pods (for the scrape job). */
    readonly podSelector: Readonly<Record<string, string>>;
  };
}

const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function clusterMetricsObjects(input: ClusterMetricsInput): ClusterMetricsObjects {
  if (!NAMESPACE.test(input.nodeExporterNamespace)) {
    throw new Error(
      `nodeExporterNamespace: ${JSON.stringify(input.nodeExporterNamespace)} is not a Kubernetes namespace name; use lowercase letters, digits and "-"`,
    );
  }
  if (input.nodeExporterNamespace === input.namespace) {
    throw new Error(
      `nodeExporterNamespace: ${JSON.stringify(input.nodeExporterNamespace)} is the monitoring namespace; node-exporter needs its own (Pod Security "privileged" for its hostPath mounts)`,
    );
  }
  const d = CLUSTER_METRICS_DEFAULTS;
  const ksmName = `${input.name}-kube-state-metrics`;
  const ksmLabels = labels("kube-state-metrics", "monitoring", input.name);
  const ksmMatch = selector("kube-state-metrics", input.name);
  const ns = input.namespace;
  const serviceAccount: K8sObject = {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: objectMeta(ksmName, ns, ksmLabels),
  };
  const clusterRole: K8sObject = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name: ksmName, labels: ksmLabels },
    rules: KSM_RESOURCES.map((r) => ({
      apiGroups: [r.apiGroup],
      resources: [r.resource],
      verbs: ["list", "watch"],
    })),
  };
  const clusterRoleBinding: K8sObject = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: ksmName, labels: ksmLabels },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: ksmName },
    subjects: [{ kind: "ServiceAccount", name: ksmName, namespace: ns }],
  };
  const deployment: K8sObject = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: objectMeta(ksmName, ns, ksmLabels),
    spec: {
      replicas: 1,
      selector: { matchLabels: ksmMatch },
      template: {
        metadata: { labels: ksmLabels },
        spec: {
          serviceAccountName: ksmName,
          nodeSelector: { ...(input.nodeSelector ?? {}) },
          securityContext: podSecurityContext(65534),
          containers: [
            {
              name: "kube-state-metrics",
              image: input.kubeStateMetricsImage ?? d.kubeStateMetricsImage,
              args: [
                `--resources=${KSM_RESOURCES.map((r) => r.flag).join(",")}`,
                `--port=${KUBE_STATE_METRICS_PORT}`,
                "--telemetry-port=8081",
              ],
              ports: [
                { name: "http-metrics", containerPort: KUBE_STATE_METRICS_PORT },
                { name: "telemetry", containerPort: 8081 },
              ],
              livenessProbe: { httpGet: { path: "/livez", port: "http-metrics" } },
              readinessProbe: { httpGet: { path: "/readyz", port: "telemetry" } },
              resources: {
                requests: { cpu: "20m", memory: "64Mi" },
                limits: { memory: "256Mi" },
              },
              securityContext: containerSecurityContext(true),
            },
          ],
        },
      },
    },
  };
  const service: K8sObject = {
    apiVersion: "v1",
    kind: "Service",
    metadata: objectMeta(ksmName, ns, ksmLabels),
    spec: {
      type: "ClusterIP",
      selector: ksmMatch,
      ports: [{ name: "http-metrics", port: KUBE_STATE_METRICS_PORT, targetPort: "http-metrics" }],
    },
  };

  const neName = `${input.name}-node-exporter`;
  const nens = input.nodeExporterNamespace;
  const neLabels = labels("node-exporter", "monitoring", input.name);
  const namespace: K8sObject = {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: nens,
      labels: {
        "app.kubernetes.io/part-of": "taskfleet",
        // hostPath volumes are allowed only at the privileged level; warn and audit at
        // baseline so anything else placed here shows up.
        "pod-security.kubernetes.io/enforce": "privileged",
        "pod-security.kubernetes.io/warn": "baseline",
        "pod-security.kubernetes.io/audit": "baseline",
      },
    },
  };
  const host = (name: string, path: string) => ({ name, hostPath: { path } });
  const daemonSet: K8sObject = {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: objectMeta(neName, nens, neLabels),
    spec: {
      selector: { matchLabels: selector("node-exporter", input.name) },
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "10%" } },
      template: {
        metadata: { labels: neLabels },
        spec: {
          automountServiceAccountToken: false,
          // Every node, whatever its taints (broker and worker pools are tainted).
          tolerations: [{ operator: "Exists" }],
          securityContext: podSecurityContext(65534),
          containers: [
            {
              name: "node-exporter",
              image: input.nodeExporterImage ?? d.nodeExporterImage,
              args: [
                "--path.procfs=/host/proc",
                "--path.sysfs=/host/sys",
                "--path.rootfs=/host/root",
                `--web.listen-address=:${NODE_EXPORTER_PORT}`,
              ],
              ports: [{ name: "metrics", containerPort: NODE_EXPORTER_PORT }],
              readinessProbe: { httpGet: { path: "/", port: "metrics" } },
              resources: {
                requests: { cpu: "10m", memory: "24Mi" },
                limits: { memory: "64Mi" },
              },
              securityContext: containerSecurityContext(true),
              volumeMounts: [
                { name: "proc", mountPath: "/host/proc", readOnly: true },
                { name: "sys", mountPath: "/host/sys", readOnly: true },
                {
                  name: "root",
                  mountPath: "/host/root",
                  readOnly: true,
                  // Volumes mounted on the node after the pod started (new PVCs) show up too.
                  mountPropagation: "HostToContainer",
                },
              ],
            },
          ],
          volumes: [host("proc", "/proc"), host("sys", "/sys"), host("root", "/")],
        },
      },
    },
  };
  return {
    kubeStateMetrics: {
      serviceAccount,
      clusterRole,
      clusterRoleBinding,
      deployment,
      service,
      address: `${ksmName}.${ns}.svc:${KUBE_STATE_METRICS_PORT}`,
    },
    nodeExporter: { namespace, daemonSet, podSelector: selector("node-exporter", input.name) },
  };
}
