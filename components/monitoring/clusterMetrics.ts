/**
 * kube-state-metrics and node-exporter for one cluster (clusterMetricsManifests.ts), so the node,
 * disk and persistent volume rules have their series.
 */
import * as pulumi from "@pulumi/pulumi";
import { createObject } from "../k8s/place.js";
import { clusterMetricsObjects, type ClusterMetricsInput } from "./clusterMetricsManifests.js";

/** Arguments of {@link ClusterMetrics}. */
export interface ClusterMetricsArgs {
  /** Namespace (existing) of kube-state-metrics. @default - required */
  readonly namespace: string;
  /** Namespace created for node-exporter (Pod Security `privileged`). @default - required */
  readonly nodeExporterNamespace: string;
  /** Node labels kube-state-metrics must run on. @default {} */
  readonly nodeSelector?: Record<string, string>;
  /** @default "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.16.0" */
  readonly kubeStateMetricsImage?: string;
  /** @default "quay.io/prometheus/node-exporter:v1.9.1" */
  readonly nodeExporterImage?: string;
}

export class ClusterMetrics extends pulumi.ComponentResource {
  public static readonly TOKEN = "taskfleet:monitoring:ClusterMetrics";
  /** `host:port` of kube-state-metrics' Service. */
  public readonly kubeStateMetricsAddress: string;
  /** Labels selecting node-exporter's pods (in `nodeExporterNamespace`). */
  public readonly nodeExporterPodSelector: Readonly<Record<string, string>>;

  constructor(name: string, args: ClusterMetricsArgs, opts: pulumi.ComponentResourceOptions = {}) {
    const input: ClusterMetricsInput = { name, ...args };
    const o = clusterMetricsObjects(input);
    super(ClusterMetrics.TOKEN, name, {}, opts);
    const parent = { parent: this };
    const ksm = o.kubeStateMetrics;
    const ksmName = `${name}-kube-state-metrics`;
    const sa = createObject(ksmName, ksm.serviceAccount, parent);
    const role = createObject(ksmName, ksm.clusterRole, parent);
    const binding = createObject(ksmName, ksm.clusterRoleBinding, {
      ...parent,
      dependsOn: [sa, role],
    });
    createObject(ksmName, ksm.deployment, { ...parent, dependsOn: [binding] });
    createObject(ksmName, ksm.service, parent);
    const ns = createObject(`${name}-node-exporter`, o.nodeExporter.namespace, parent);
    createObject(`${name}-node-exporter`, o.nodeExporter.daemonSet, { ...parent, dependsOn: [ns] });
    this.kubeStateMetricsAddress = ksm.address;
    this.nodeExporterPodSelector = o.nodeExporter.podSelector;
    this.registerOutputs({ kubeStateMetricsAddress: this.kubeStateMetricsAddress });
  }
}
