/**
 * Everything the Monitoring component places, decided before any resource exists: validated
 * arguments with defaults applied, Kubernetes names, and the generated Prometheus config, rules
 * and dashboards as text. Pure (no Pulumi import), so every decision is testable directly.
 */
import { createHash } from "node:crypto";
import { alertNames, generateAlertRules, renderRuleFile, RULE_FILE_NAME } from "./alertRules.js";
import { generateDashboards, grafanaDashboardProvider, grafanaDatasource } from "./dashboards.js";
import {
  FEDERATION_EXPORTER_PORT,
  NODE_EXPORTER_PORT,
  RABBITMQ_PROMETHEUS_PORT,
  REDIS_EXPORTER_PORT,
} from "./metrics.js";
import {
  DEFAULT_EVALUATION_INTERVAL_SECONDS,
  DEFAULT_RETENTION_DAYS,
  DEFAULT_SCRAPE_INTERVAL_SECONDS,
  DEFAULT_STORAGE_SIZE_GIB,
  generatePrometheusConfig,
  renderPrometheusConfig,
  retentionFlags,
  validateTargetSource,
  type TargetSource,
} from "./scrapeConfig.js";
import type { AlertThresholds } from "./thresholds.js";
import { planAlertmanager, type AlertingChannels } from "./alertmanagerManifests.js";
import { clusterMetricsObjects } from "./clusterMetricsManifests.js";
import { WORKER_POOL_LABEL } from "../workers/workerManifests.js";

/** Pods of one monitored workload. */
export interface MonitoredPods {
  /** Namespace the pods run in. */
  readonly namespace: string;
  /**
   * Labels that select the pods (all must match).
   * @default - `app.kubernetes.io/part-of: taskfleet` and `app.kubernetes.io/component:
   * broker|worker|api`
   */
  readonly podLabels?: Readonly<Record<string, string>>;
  /** Port serving `/metrics`. @default - 15692 for brokers, 8080 (the runtime's health port) for workers, 9464 for the API */
  readonly port?: number;
  /**
   * Scrape over HTTPS (RabbitMQ with TLS on serves metrics only on 15691 over TLS). The CA comes
   * from a Secret in the monitoring namespace.
   * @default - plain HTTP
   */
  readonly tls?: MonitoredTls;
}

export interface MonitoredTls {
  /** Secret (in the monitoring namespace) holding the CA certificate. */
  readonly caSecretName: string;
  /** Key of the CA certificate in that Secret. @default "ca.crt" */
  readonly caKey?: string;
  /** Name the targets' certificates carry (pods are scraped by IP). */
  readonly serverName: string;
}

/** A CA Secret the Prometheus pod mounts, for one scraped workload. */
export interface CaMount {
  readonly volume: string;
  readonly secretName: string;
  readonly key: string;
  readonly mountPath: string;
}

/** Plain (non-Output) settings of the Monitoring component; see MonitoringArgs for the docs. */
export interface MonitoringSettings {
  readonly namespace: string;
  readonly region: string;
  readonly expectedBrokerNodes: number;
  readonly brokers: MonitoredPods;
  readonly workers: MonitoredPods;
  readonly api: MonitoredPods;
  readonly monitorRedis: boolean;
  /** Whether the component runs the federation exporter (it does when given its settings). @default false */
  readonly monitorFederation?: boolean;
  readonly thresholds?: Partial<AlertThresholds>;
  readonly unconsumedQueuesRegex?: string;
  readonly retentionDays?: number;
  readonly storageSizeGiB?: number;
  readonly storageClassName?: string;
  readonly scrapeIntervalSeconds?: number;
  readonly evaluationIntervalSeconds?: number;
  readonly alertmanagers?: readonly string[];
  /** The Alertmanager the component deploys (its secrets are not needed to plan). */
  readonly alerting?: {
    readonly channels: AlertingChannels;
    readonly replicas?: number;
    readonly image?: string;
  };
  readonly clusterMetrics?: { readonly nodeExporterNamespace: string };
  readonly workerPools?: readonly string[];
  readonly prometheusImage?: string;
  readonly grafanaImage?: string;
  readonly redisExporterImage?: string;
  readonly federationExporterImage?: string;
  readonly prometheusMemoryGiB?: number;
}

export const MONITORING_DEFAULTS = Object.freeze({
  storageClassName: "gp3",
  retentionDays: DEFAULT_RETENTION_DAYS,
  storageSizeGiB: DEFAULT_STORAGE_SIZE_GIB,
  scrapeIntervalSeconds: DEFAULT_SCRAPE_INTERVAL_SECONDS,
  evaluationIntervalSeconds: DEFAULT_EVALUATION_INTERVAL_SECONDS,
  // The version the test suite checks the rules and config with (Debian's promtool 2.42).
  prometheusImage: "quay.io/prometheus/prometheus:v2.42.0",
  grafanaImage: "docker.io/grafana/grafana:10.4.2",
  redisExporterImage: "docker.io/oliver006/redis_exporter:v1.58.0",
  // A stock Node image runs the exporter script from a ConfigMap (it has no dependencies).
  federationExporterImage: "docker.io/library/node:22-alpine",
  prometheusMemoryGiB: 4,
  brokerPort: RABBITMQ_PROMETHEUS_PORT,
  workerPort: 8080,
  apiPort: 9464,
});

/** Mount points inside the pods. */
export const PATHS = Object.freeze({
  prometheusConfigDir: "/etc/prometheus",
  prometheusRulesDir: "/etc/prometheus/rules",
  prometheusData: "/prometheus",
  grafanaProvisioning: "/etc/grafana/provisioning",
  grafanaDashboards: "/etc/grafana/dashboards",
  grafanaData: "/var/lib/grafana",
  prometheusTlsDir: "/etc/prometheus/tls",
});

export interface MonitoringPlan {
  readonly namespace: string;
  /** Kubernetes object names (also the Services' DNS names). */
  readonly names: {
    readonly prometheus: string;
    readonly grafana: string;
    readonly redisExporter: string;
    readonly federationExporter: string;
    readonly clusterMetrics: string;
  };
  /** The deployed Alertmanager's name, replica count and addresses. */
  readonly alertmanager?: {
    readonly name: string;
    readonly replicas: number;
    readonly addresses: readonly string[];
  };
  /** Whether Prometheus reads the kubelets (it needs `nodes/metrics`). */
  readonly kubelet: boolean;
  readonly prometheusConfig: string;
  /**
   * SHA-256 of the config and rules, on Prometheus' pod template: Prometheus reads them only at
   * start (or on a reload), so a change rolls the pod instead of leaving stale rules running.
   */
  readonly configChecksum: string;
  readonly ruleFileName: string;
  readonly rules: string;
  readonly alertNames: readonly string[];
  readonly dashboards: Readonly<Record<string, string>>;
  readonly grafanaDatasource: string;
  readonly grafanaDashboardProvider: string;
  readonly prometheusArgs: readonly string[];
  readonly storageClassName: string;
  readonly storageSizeGiB: number;
  readonly prometheusMemoryGiB: number;
  readonly images: {
    readonly prometheus: string;
    readonly grafana: string;
    readonly redisExporter: string;
    readonly federationExporter: string;
  };
  readonly prometheusUrl: string;
  readonly grafanaUrl: string;
  /** CA Secrets to mount into Prometheus for HTTPS scrapes. */
  readonly caMounts: readonly CaMount[];
}

const NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

function caMount(field: string, tls: MonitoredTls): CaMount {
  if (
    typeof tls.caSecretName !== "string" ||
    !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(tls.caSecretName)
  ) {
    throw new Error(
      `${field}.tls.caSecretName: ${JSON.stringify(tls.caSecretName)} is not a Secret name; name the Secret holding the CA certificate`,
    );
  }
  const key = tls.caKey ?? "ca.crt";
  if (!/^[-._a-zA-Z0-9]+$/.test(key)) {
    throw new Error(`${field}.tls.caKey: ${JSON.stringify(key)} is not a Secret key`);
  }
  return {
    volume: `${field}-ca`,
    secretName: tls.caSecretName,
    key,
    mountPath: `${PATHS.prometheusTlsDir}/${field}`,
  };
}

function pods(
  field: string,
  p: MonitoredPods,
  component: string,
  port: number,
  targetLabels: Record<string, string> = {},
): { source: TargetSource; ca?: CaMount } {
  if (p === undefined || p === null || typeof p !== "object") {
    throw new Error(`${field}: missing; give the namespace (and labels) of the ${component} pods`);
  }
  const ca = p.tls ? caMount(field, p.tls) : undefined;
  const source: TargetSource = {
    kind: "kubernetesPods",
    namespace: p.namespace,
    podLabels: p.podLabels ?? {
      "app.kubernetes.io/part-of": "taskfleet",
      "app.kubernetes.io/component": component,
    },
    port: p.port ?? port,
    ...(Object.keys(targetLabels).length > 0 ? { targetLabels } : {}),
    ...(p.tls && ca
      ? { tls: { caFile: `${ca.mountPath}/${ca.key}`, serverName: p.tls.serverName } }
      : {}),
  };
  validateTargetSource(field, source);
  return ca ? { source, ca } : { source };
}

/** Validates the settings and decides everything; throws naming the field as the user wrote it. */
export function planMonitoring(name: string, s: MonitoringSettings): MonitoringPlan {
  if (!NAME.test(name) || name.length > 40) {
    throw new Error(
      `name: ${JSON.stringify(name)} is not allowed; use at most 40 lowercase letters, digits and "-", starting with a letter`,
    );
  }
  if (
    typeof s.namespace !== "string" ||
    !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(s.namespace)
  ) {
    throw new Error(
      `namespace: ${JSON.stringify(s.namespace)} is not a Kubernetes namespace name; use lowercase letters, digits and "-"`,
    );
  }
  const d = MONITORING_DEFAULTS;
  const storageClassName = s.storageClassName ?? d.storageClassName;
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(storageClassName)) {
    throw new Error(
      `storageClassName: ${JSON.stringify(storageClassName)} is not a StorageClass name; name an SSD class such as "gp3"`,
    );
  }
  const memory = s.prometheusMemoryGiB ?? d.prometheusMemoryGiB;
  if (!Number.isInteger(memory) || memory < 1 || memory > 256) {
    throw new Error(
      `prometheusMemoryGiB: ${JSON.stringify(memory)} is not allowed; use whole GiB from 1 to 256`,
    );
  }
  const brokers = pods("brokers", s.brokers, "broker", d.brokerPort);
  const workers = pods("workers", s.workers, "worker", d.workerPort, {
    pool: WORKER_POOL_LABEL,
  });
  const api = pods("api", s.api, "api", d.apiPort);
  const targets = { rabbitmq: brokers.source, workers: workers.source, api: api.source };
  const caMounts = [brokers.ca, workers.ca, api.ca].filter((c): c is CaMount => c !== undefined);
  const names = {
    prometheus: `${name}-prometheus`,
    grafana: `${name}-grafana`,
    redisExporter: `${name}-redis-exporter`,
    federationExporter: `${name}-federation-exporter`,
    clusterMetrics: `${name}-cluster`,
  };
  const am = s.alerting
    ? planAlertmanager({
        name: `${name}-alertmanager`,
        namespace: s.namespace,
        channels: s.alerting.channels,
        replicas: s.alerting.replicas,
        image: s.alerting.image,
      })
    : undefined;
  const cluster = s.clusterMetrics
    ? clusterMetricsObjects({
        name: names.clusterMetrics,
        namespace: s.namespace,
        nodeExporterNamespace: s.clusterMetrics.nodeExporterNamespace,
      })
    : undefined;
  const svc = (n: string, port: number): string => `${n}.${s.namespace}.svc:${port}`;
  const ruleFile = generateAlertRules({
    expectedBrokerNodes: s.expectedBrokerNodes,
    thresholds: s.thresholds,
    unconsumedQueuesRegex: s.unconsumedQueuesRegex,
    workerPools: s.workerPools,
    cluster: cluster !== undefined,
    ...(am ? { alertmanagerReplicas: am.replicas } : {}),
  });
  const config = generatePrometheusConfig({
    region: s.region,
    targets: {
      ...targets,
      ...(s.monitorRedis
        ? { redis: { kind: "static", targets: [svc(names.redisExporter, REDIS_EXPORTER_PORT)] } }
        : {}),
      ...(s.monitorFederation
        ? {
            federation: {
              kind: "static",
              targets: [svc(names.federationExporter, FEDERATION_EXPORTER_PORT)],
            },
          }
        : {}),
      ...(am ? { alertmanager: { kind: "static", targets: [...am.addresses] } } : {}),
      ...(cluster
        ? {
            kubeStateMetrics: { kind: "static", targets: [cluster.kubeStateMetrics.address] },
            nodeExporter: {
              kind: "kubernetesPods",
              namespace: s.clusterMetrics!.nodeExporterNamespace,
              podLabels: cluster.nodeExporter.podSelector,
              port: NODE_EXPORTER_PORT,
            },
            kubelet: true,
          }
        : {}),
    },
    scrapeIntervalSeconds: s.scrapeIntervalSeconds,
    evaluationIntervalSeconds: s.evaluationIntervalSeconds,
    rulesDir: PATHS.prometheusRulesDir,
    alertmanagers: [...(am?.addresses ?? []), ...(s.alertmanagers ?? [])],
  });
  const storageSizeGiB = s.storageSizeGiB ?? d.storageSizeGiB;
  const flags = retentionFlags({ retentionDays: s.retentionDays, storageSizeGiB });
  const prometheusUrl = `http://${svc(names.prometheus, 9090)}`;
  const dashboards = Object.fromEntries(
    Object.entries(generateDashboards()).map(([file, dash]) => [
      file,
      JSON.stringify(dash, null, 2),
    ]),
  );
  return {
    namespace: s.namespace,
    names,
    ...(am
      ? { alertmanager: { name: am.name, replicas: am.replicas, addresses: am.addresses } }
      : {}),
    kubelet: cluster !== undefined,
    prometheusConfig: renderPrometheusConfig(config),
    configChecksum: createHash("sha256")
      .update(renderPrometheusConfig(config))
      .update(renderRuleFile(ruleFile))
      .digest("hex"),
    ruleFileName: RULE_FILE_NAME,
    rules: renderRuleFile(ruleFile),
    alertNames: alertNames(ruleFile),
    dashboards,
    grafanaDatasource: grafanaDatasource(prometheusUrl),
    grafanaDashboardProvider: grafanaDashboardProvider(PATHS.grafanaDashboards),
    prometheusArgs: [
      `--config.file=${PATHS.prometheusConfigDir}/prometheus.yml`,
      `--storage.tsdb.path=${PATHS.prometheusData}`,
      ...flags,
      "--web.listen-address=:9090",
    ],
    storageClassName,
    storageSizeGiB,
    prometheusMemoryGiB: memory,
    images: {
      prometheus: s.prometheusImage ?? d.prometheusImage,
      grafana: s.grafanaImage ?? d.grafanaImage,
      redisExporter: s.redisExporterImage ?? d.redisExporterImage,
      federationExporter: s.federationExporterImage ?? d.federationExporterImage,
    },
    prometheusUrl,
    grafanaUrl: `http://${svc(names.grafana, 3000)}`,
    caMounts,
  };
}
