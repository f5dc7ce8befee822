/**
 * Plain Kubernetes object shapes and the pieces every taskfleet workload shares (labels, the
 * restricted security context). Pure: no Pulumi import; components hand these objects to the
 * Kubernetes provider unchanged, and `taskfleet plan` writes them out as YAML.
 */

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A Kubernetes object as plain data. `spec` and other fields stay loosely typed on purpose. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** Kubernetes names: DNS-1123 labels, at most 63 characters. */
export function k8sName(...parts: string[]): string {
  const joined = parts
    .join("-")
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-|-$/g, "");
  if (joined.length === 0) throw new Error(`k8sName: ${JSON.stringify(parts)} gives an empty name`);
  return joined.length <= 63 ? joined : joined.slice(0, 63).replace(/-$/, "");
}

/** The recommended `app.kubernetes.io/*` labels. */
export function labels(name: string, component: string, instance: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": name,
    "app.kubernetes.io/component": component,
    "app.kubernetes.io/instance": instance,
    "app.kubernetes.io/part-of": "taskfleet",
    "app.kubernetes.io/managed-by": "pulumi",
  };
}

/** The selector subset of {@link labels} (stable across upgrades). */
export function selector(name: string, instance: string): Record<string, string> {
  return { "app.kubernetes.io/name": name, "app.kubernetes.io/instance": instance };
}

/** Pod-level security: non-root with a fixed uid/gid, RuntimeDefault seccomp. */
export function podSecurityContext(uid: number): Record<string, unknown> {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    fsGroup: uid,
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/** Container-level security: no privilege escalation, every capability dropped, read-only root. */
export function containerSecurityContext(readOnlyRootFilesystem = true): Record<string, unknown> {
  return {
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem,
    capabilities: { drop: ["ALL"] },
  };
}

/** Spread pods over zones (hard) and prefer different nodes. */
export function zoneSpread(
  match: Record<string, string>,
  whenUnsatisfiable: "DoNotSchedule" | "ScheduleAnyway",
): unknown[] {
  return [
    {
      maxSkew: 1,
      topologyKey: "topology.kubernetes.io/zone",
      whenUnsatisfiable,
      labelSelector: { matchLabels: match },
    },
  ];
}

export function namespace(name: string): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name,
      labels: {
        "app.kubernetes.io/part-of": "taskfleet",
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
      },
    },
  };
}

/** `metadata` of a namespaced object. */
export function objectMeta(
  name: string,
  namespace: string,
  objectLabels: Record<string, string>,
): ObjectMeta {
  return { name, namespace, labels: objectLabels };
}

/** Requests equal to limits (the Guaranteed QoS class). */
export function fixedResources(
  cpu: string,
  memory: string,
): { requests: { cpu: string; memory: string }; limits: { cpu: string; memory: string } } {
  return { requests: { cpu, memory }, limits: { cpu, memory } };
}

/** A PodDisruptionBudget that lets one pod of `match` go at a time. */
export function onePodAtATime(metadata: ObjectMeta, match: Record<string, string>): K8sObject {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata,
    spec: { maxUnavailable: 1, selector: { matchLabels: match } },
  };
}
