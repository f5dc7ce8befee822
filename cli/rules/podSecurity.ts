/**
 * Pod Security admission: a namespace labelled `pod-security.kubernetes.io/enforce: <level>`
 * refuses every pod that breaks that level. Pulumi's mocks (and even a real `pulumi up`, for a
 * Deployment, StatefulSet or DaemonSet) accept the workload object; only its pods are refused, so
 * the rollout never finishes. This rule checks each workload's pod template against the level of
 * its namespace when the plan creates that namespace.
 *
 * The controls (Kubernetes' Pod Security Standards, v1.33):
 * https://kubernetes.io/docs/concepts/security/pod-security-standards/
 *  - baseline: no hostNetwork, hostPID, hostIPC; no privileged container; no hostPath volume; no
 *    host port; added capabilities only from the baseline list; seccomp not Unconfined.
 *  - restricted, besides: only configMap, csi, downwardAPI, emptyDir, ephemeral,
 *    persistentVolumeClaim, projected and secret volumes; allowPrivilegeEscalation false,
 *    runAsNonRoot true, seccomp RuntimeDefault or Localhost, capabilities drop ALL (add only
 *    NET_BIND_SERVICE), for every container (init containers included).
 */
import { arr, keyOf, obj, ofType, str, type Props, type Rule, type Violation } from "./rule.js";

export const POD_SECURITY_LABEL = "pod-security.kubernetes.io/enforce";

const WORKLOADS = ["Deployment", "StatefulSet", "DaemonSet"];
const BASELINE_CAPABILITIES = [
  "AUDIT_WRITE",
  "CHOWN",
  "DAC_OVERRIDE",
  "FOWNER",
  "FSETID",
  "KILL",
  "MKNOD",
  "NET_BIND_SERVICE",
  "SETFCAP",
  "SETGID",
  "SETPCAP",
  "SETUID",
  "SYS_CHROOT",
];
const RESTRICTED_VOLUMES = [
  "configMap",
  "csi",
  "downwardAPI",
  "emptyDir",
  "ephemeral",
  "persistentVolumeClaim",
  "projected",
  "secret",
];

/** What a pod template breaks at `level` ("baseline" or "restricted"), one line per control. */
export function podSecurityProblems(pod: Props, level: "baseline" | "restricted"): string[] {
  const out: string[] = [];
  for (const f of ["hostNetwork", "hostPID", "hostIPC"]) {
    if (pod[f] === true) out.push(`${f}: true`);
  }
  const volumes = arr(pod.volumes).map(obj);
  for (const v of volumes) {
    if (v.hostPath !== undefined) out.push(`hostPath volume "${str(v.name) ?? "?"}"`);
  }
  const podSc = obj(pod.securityContext);
  const containers = [...arr(pod.initContainers), ...arr(pod.containers)].map(obj);
  for (const c of containers) {
    const name = str(c.name) ?? "?";
    const sc = obj(c.securityContext);
    const caps = obj(sc.capabilities);
    if (sc.privileged === true) out.push(`container "${name}" privileged`);
    for (const p of arr(c.ports).map(obj)) {
      if (typeof p.hostPort === "number" && p.hostPort !== 0) {
        out.push(`container "${name}" hostPort ${p.hostPort}`);
      }
    }
    const seccomp = str(obj(sc.seccompProfile).type) ?? str(obj(podSc.seccompProfile).type);
    if (seccomp === "Unconfined") out.push(`container "${name}" seccomp Unconfined`);
    const added = arr(caps.add).map((x) => String(x));
    const allowedAdd = level === "restricted" ? ["NET_BIND_SERVICE"] : BASELINE_CAPABILITIES;
    for (const a of added) {
      if (!allowedAdd.includes(a)) out.push(`container "${name}" adds capability ${a}`);
    }
    if (level !== "restricted") continue;
    if (sc.allowPrivilegeEscalation !== false) {
      out.push(`container "${name}" allowPrivilegeEscalation is not false`);
    }
    const nonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot;
    if (nonRoot !== true) out.push(`container "${name}" runAsNonRoot is not true`);
    if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") {
      out.push(`container "${name}" seccompProfile is not RuntimeDefault or Localhost`);
    }
    if (!arr(caps.drop).includes("ALL"))
      out.push(`container "${name}" does not drop ALL capabilities`);
  }
  if (level === "restricted") {
    for (const v of volumes) {
      const kind = Object.keys(v).find((k) => k !== "name");
      if (kind !== undefined && kind !== "hostPath" && !RESTRICTED_VOLUMES.includes(kind)) {
        out.push(`volume "${str(v.name) ?? "?"}" of type ${kind}`);
      }
    }
  }
  return out;
}

export const podsMeetPodSecurity: Rule = {
  id: "pods-meet-pod-security",
  description:
    "Every pod template meets the Pod Security level its namespace enforces (pod-security.kubernetes.io/enforce), or the namespace refuses its pods",
  source: "https://kubernetes.io/docs/concepts/security/pod-security-standards/",
  check(ctx) {
    const levels = new Map<string, string>();
    for (const ns of ofType(ctx, "kubernetes:core/v1:Namespace")) {
      const meta = obj(ns.inputs.metadata);
      const level = str(obj(meta.labels)[POD_SECURITY_LABEL]);
      if (str(meta.name) !== undefined && level !== undefined) levels.set(str(meta.name)!, level);
    }
    const out: Violation[] = [];
    for (const r of ctx.resources) {
      const kind = r.type.split(":").pop() ?? "";
      if (!r.type.startsWith("kubernetes:apps/") || !WORKLOADS.includes(kind)) continue;
      const namespace = str(obj(r.inputs.metadata).namespace);
      const level = namespace === undefined ? undefined : levels.get(namespace);
      if (level !== "baseline" && level !== "restricted") continue;
      const pod = obj(obj(obj(r.inputs.spec).template).spec);
      const problems = podSecurityProblems(pod, level);
      if (problems.length > 0) {
        out.push({
          resource: keyOf(r),
          field: "spec.template.spec",
          problem: `namespace ${namespace} enforces Pod Security "${level}" and refuses these pods: ${problems.join("; ")}`,
          fix: `meet the "${level}" controls, or place the workload in a namespace whose level allows it`,
        });
      }
    }
    return out;
  },
};
