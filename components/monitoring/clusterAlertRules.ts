/**
 * Alert rules on what the task system runs on, and on the alerting path itself:
 *  - the Kubernetes cluster (kube-state-metrics, node-exporter, kubelet): nodes not ready or under
 *    pressure, node disks and memory, persistent volumes filling up or not bound;
 *  - Alertmanager: replicas down, the cluster of replicas split, notifications failing.
 * Pure: thresholds in, rules out. `generateAlertRules` adds them as their own groups.
 */
import {
  ALERTMANAGER_METRICS as A,
  JOBS,
  KUBE_METRICS as K,
  KUBELET_METRICS as L,
  NODE_METRICS as N,
} from "./metrics.js";
import { minutes, num, rule, sel, type AlertRule } from "./ruleKit.js";
import type { AlertThresholds } from "./thresholds.js";

/** Filesystems that are not disks (memory-backed, container layers, namespaces). */
export const NON_DISK_FSTYPES = "tmpfs|ramfs|overlay|squashfs|nsfs|autofs";

export function clusterRules(t: AlertThresholds): AlertRule[] {
  const ksm = (extra: string): string => sel(JOBS.kubeStateMetrics, extra);
  const disk = sel(JOBS.nodeExporter, `fstype!~"${NON_DISK_FSTYPES}"`);
  const ne = sel(JOBS.nodeExporter);
  const kl = sel(JOBS.kubelet);
  const pvcFree = `max by (namespace, persistentvolumeclaim) (${L.volumeAvailableBytes}${kl} / ${L.volumeCapacityBytes}${kl})`;
  return [
    rule(
      "KubeNodeNotReady",
      "cluster",
      "warning",
      minutes(t.nodeConditionMinutes),
      `max by (node) (${K.nodeCondition}${ksm('condition="Ready", status="true"')}) == 0`,
      "A Kubernetes node is not ready",
      "Node {{ $labels.node }} is not Ready: its pods are unreachable or being evicted, and nothing new is scheduled there.",
    ),
    rule(
      "KubeNodePressure",
      "cluster",
      "warning",
      minutes(t.nodeConditionMinutes),
      `max by (node, condition) (${K.nodeCondition}${ksm('condition=~"MemoryPressure|DiskPressure|PIDPressure", status="true"')}) == 1`,
      "A Kubernetes node is under resource pressure",
      "Node {{ $labels.node }} reports {{ $labels.condition }}: the kubelet evicts pods and admits no new ones.",
    ),
    rule(
      "NodeFilesystemAlmostFull",
      "cluster",
      "warning",
      "10m",
      `max by (instance, node, mountpoint) (${N.filesystemAvailBytes}${disk} / ${N.filesystemSizeBytes}${disk} < ${num(t.nodeFilesystemFreeRatio)} and ${N.filesystemReadonly}${disk} == 0)`,
      "A node's filesystem is almost full",
      "Filesystem {{ $labels.mountpoint }} on {{ with $labels.node }}node {{ . }}{{ else }}{{ $labels.instance }}{{ end }} has {{ $value | humanizePercentage }} free; at the kubelet's eviction threshold pods are evicted.",
    ),
    rule(
      "NodeMemoryHigh",
      "cluster",
      "warning",
      "15m",
      `max by (instance, node) (1 - ${N.memAvailableBytes}${ne} / ${N.memTotalBytes}${ne}) > ${num(t.nodeMemoryRatio)}`,
      "A node's memory is almost used up",
      "{{ with $labels.node }}Node {{ . }}{{ else }}{{ $labels.instance }}{{ end }} uses {{ $value | humanizePercentage }} of its memory; the kernel's OOM killer or the kubelet's evictions come next.",
    ),
    rule(
      "PersistentVolumeAlmostFull",
      "cluster",
      "warning",
      "5m",
      `${pvcFree} < ${num(t.pvcFreeWarningRatio)}`,
      "A persistent volume is filling up",
      "Volume {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} has {{ $value | humanizePercentage }} free.",
    ),
    rule(
      "PersistentVolumeFull",
      "cluster",
      "critical",
      "1m",
      `${pvcFree} < ${num(t.pvcFreeCriticalRatio)}`,
      "A persistent volume is full",
      "Volume {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} has {{ $value | humanizePercentage }} free: its broker node or Prometheus stops writing soon.",
    ),
    rule(
      "PersistentVolumeClaimPending",
      "cluster",
      "warning",
      minutes(t.pvcPendingMinutes),
      `max by (namespace, persistentvolumeclaim, phase) (${K.pvcPhase}${ksm('phase=~"Pending|Lost"')}) == 1`,
      "A persistent volume claim is not bound",
      "Claim {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} is {{ $labels.phase }}: the pod that needs it cannot start.",
    ),
    rule(
      "KubeStateMetricsDown",
      "cluster",
      "warning",
      "5m",
      `absent(up${sel(JOBS.kubeStateMetrics)} == 1)`,
      "Cluster state is not watched",
      "kube-state-metrics does not answer: node and persistent volume claim alerts cannot fire.",
    ),
    rule(
      "NodeExporterDown",
      "cluster",
      "warning",
      "5m",
      `up${ne} == 0`,
      "A node's exporter does not answer",
      "node-exporter {{ $labels.instance }} does not answer: that node's disk and memory alerts cannot fire.",
    ),
    rule(
      "KubeletScrapeFailing",
      "cluster",
      "warning",
      "5m",
      `up${kl} == 0`,
      "A kubelet's metrics cannot be read",
      "The kubelet of {{ with $labels.node }}node {{ . }}{{ else }}{{ $labels.instance }}{{ end }} does not answer Prometheus: volume alerts for its pods cannot fire.",
    ),
  ];
}

/** Rules on Alertmanager itself; the cluster rule only when there is more than one replica. */
export function alertingRules(replicas: number): AlertRule[] {
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) {
    throw new Error(
      `alertmanagerReplicas: ${JSON.stringify(replicas)} is not allowed; use a whole number from 1 to 5`,
    );
  }
  const am = sel(JOBS.alertmanager);
  return [
    rule(
      "AlertmanagerDown",
      "alerting",
      "warning",
      "5m",
      `up${am} == 0`,
      "An Alertmanager replica does not answer",
      "Alertmanager {{ $labels.instance }} does not answer; the other replicas still notify, but one more loss and no alert reaches anyone.",
    ),
    ...(replicas > 1
      ? [
          rule(
            "AlertmanagerClusterDegraded",
            "alerting",
            "warning",
            "10m",
            `max by (instance) (${A.clusterMembers}${am}) < ${replicas}`,
            "Alertmanager replicas do not see each other",
            `Alertmanager {{ $labels.instance }} sees {{ $value }} of ${replicas} replicas: notifications may be sent twice and silences may not reach every replica.`,
          ),
        ]
      : []),
    rule(
      "AlertmanagerNotificationsFailing",
      "alerting",
      "critical",
      "5m",
      `sum by (instance, integration) (rate(${A.notificationsFailed}${am}[5m])) > 0`,
      "Alert notifications fail",
      "Alertmanager {{ $labels.instance }} fails to deliver to {{ $labels.integration }}: check the receiver's credentials and reachability.",
    ),
  ];
}
