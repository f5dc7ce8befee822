/**
 * The monitoring layer of one region on Kubernetes (seed S34–S38): Prometheus (a StatefulSet with
 * its TSDB on an SSD-backed volume and retention flags) scraping the brokers, workers, task API
 * and — through redis_exporter — the result backend; the generated alert rules; Grafana with the
 * generated dashboards provisioned; with `alerting`, a clustered Alertmanager Prometheus sends to;
 * with `clusterMetrics`, kube-state-metrics, node-exporter and the kubelets scraped for the node,
 * disk and volume rules. Everything it places comes from `planMonitoring` (pure).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { containerSecurityContext, labels, podSecurityContext, selector } from "../k8s/objects.js";
import { Alertmanager, type AlertingSecrets } from "./alertmanager.js";
import type { AlertingChannels } from "./alertmanagerManifests.js";
import { ClusterMetrics } from "./clusterMetrics.js";
import {
  clusterIpService,
  createFederationExporter,
  createRedisExporter,
  type MonitoredFederation,
  type MonitoredRedis,
} from "./exporterDeployments.js";
import {
  MONITORING_DEFAULTS,
  PATHS,
  planMonitoring,
  type MonitoredPods,
  type MonitoredTls,
} from "./monitoringPlan.js";
import type { AlertThresholds } from "./thresholds.js";

export type { MonitoredFederation, MonitoredPods, MonitoredRedis, MonitoredTls };

/** The region's Alertmanager (a child component). */
export interface MonitoringAlerting {
  /** Channels and routes (`taskfleet:alerting`). */
  readonly channels: AlertingChannels;
  /** The channels' secret values (stack secrets). @default {} */
  readonly secrets?: AlertingSecrets;
  /** Replicas in its gossip cluster. @default 2 */
  readonly replicas?: number;
  /** @default "quay.io/prometheus/alertmanager:v0.25.0" */
  readonly image?: string;
}

/** kube-state-metrics and node-exporter (a child component) and the kubelets' volume statistics. */
export interface MonitoringClusterMetrics {
  /** Namespace created for node-exporter (Pod Security `privileged`). */
  readonly nodeExporterNamespace: string;
  /** @default "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.16.0" */
  readonly kubeStateMetricsImage?: string;
  /** @default "quay.io/prometheus/node-exporter:v1.9.1" */
  readonly nodeExporterImage?: string;
}

/** Arguments of {@link Monitoring}. */
export interface MonitoringArgs {
  /** Namespace (existing) for Prometheus, Grafana and redis_exporter. @default - required */
  readonly namespace: string;
  /** Region name, the `region` external label on every series and alert. @default - required */
  readonly region: string;
  /** Broker nodes the region is configured with; fewer fires `RabbitMQNodesMissing`. @default - required */
  readonly expectedBrokerNodes: number;
  /** The RabbitMQ pods (prometheus plugin port 15692). @default - required (labels and port have defaults) */
  readonly brokers: MonitoredPods;
  /** The worker pods (`/metrics` on the runtime's health port, 8080). @default - required (labels and port have defaults) */
  readonly workers: MonitoredPods;
  /** The task API pods (`/metrics` on its metrics port, 9464). @default - required (labels and port have defaults) */
  readonly api: MonitoredPods;
  /** The result backend, watched through redis_exporter. @default - no Redis monitoring */
  readonly redis?: MonitoredRedis;
  /**
   * This region's federation links, watched through taskfleet's federation exporter (RabbitMQ
   * 3.10 exports no federation metrics). @default - no exporter; FederationLinkDown cannot fire
   */
  readonly federation?: MonitoredFederation;
  /** Alert threshold overrides (S37). @default DEFAULT_ALERT_THRESHOLDS */
  readonly thresholds?: Partial<AlertThresholds>;
  /** Queues allowed to hold messages without consumers (dead-letter queues). @default ".*(dlq|dead).*" */
  readonly unconsumedQueuesRegex?: string;
  /** Days of metric history to keep (S38). @default 30 */
  readonly retentionDays?: number;
  /** Size of Prometheus' volume; retention is also capped at 90% of it. @default 100 */
  readonly storageSizeGiB?: number;
  /** SSD StorageClass for Prometheus' volume. @default "gp3" */
  readonly storageClassName?: string;
  /** @default 30 */
  readonly scrapeIntervalSeconds?: number;
  /** @default 30 */
  readonly evaluationIntervalSeconds?: number;
  /** Alertmanager `host:port` addresses that receive the alerts, besides `alerting`'s. @default [] */
  readonly alertmanagers?: readonly string[];
  /** Deploy an Alertmanager and send the alerts to it. @default - none (alerts only in Prometheus) */
  readonly alerting?: MonitoringAlerting;
  /** Deploy the cluster exporters and add the cluster rules. @default - none */
  readonly clusterMetrics?: MonitoringClusterMetrics;
  /**
   * Worker pools that always run a worker (`minReplicas` ≥ 1): one `WorkerPoolDown` rule each.
   * @default []
   */
  readonly workerPools?: readonly string[];
  /** Memory limit of the Prometheus container. @default 4 */
  readonly prometheusMemoryGiB?: number;
  /** Node labels the monitoring pods must run on (e.g. the system pool). @default {} */
  readonly nodeSelector?: Record<string, string>;
  /** @default "quay.io/prometheus/prometheus:v2.42.0" */
  readonly prometheusImage?: string;
  /** @default "docker.io/grafana/grafana:10.4.2" */
  readonly grafanaImage?: string;
  /** @default "docker.io/oliver006/redis_exporter:v1.58.0" */
  readonly redisExporterImage?: string;
  /** Image with Node 22 that runs the federation exporter. @default "docker.io/library/node:22-alpine" */
  readonly federationExporterImage?: string;
}

const PROMETHEUS_UID = 65534;
const GRAFANA_UID = 472;

/** Prometheus, alert rules, Grafana and redis_exporter for one region. */
export class Monitoring extends pulumi.ComponentResource {
  public static readonly TOKEN = "taskfleet:monitoring:Monitoring";
  /** In-cluster URL of Prometheus. */
  public readonly prometheusUrl: pulumi.Output<string>;
  /** In-cluster URL of Grafana. */
  public readonly grafanaUrl: pulumi.Output<string>;
  /** Grafana's `admin` password (secret). */
  public readonly grafanaAdminPassword: pulumi.Output<string>;
  /** Names of the alert rules loaded into Prometheus. */
  public readonly alertNames: readonly string[];

  constructor(name: string, args: MonitoringArgs, opts: pulumi.ComponentResourceOptions = {}) {
    // Validate and decide everything before anything is registered.
    const plan = planMonitoring(name, {
      ...args,
      monitorRedis: args.redis !== undefined,
      monitorFederation: args.federation !== undefined,
      ...(args.alerting
        ? {
            alerting: {
              channels: args.alerting.channels,
              replicas: args.alerting.replicas,
              image: args.alerting.image,
            },
          }
        : {}),
    });
    super(Monitoring.TOKEN, name, {}, opts);
    const parent = { parent: this };
    const ns = plan.namespace;
    const nodeSelector = args.nodeSelector ?? {};
    const names = plan.names;

    // ---- Prometheus ----
    const promLabels = labels("prometheus", "monitoring", name);
    const promSelector = selector("prometheus", name);
    const sa = new k8s.core.v1.ServiceAccount(
      names.prometheus,
      { metadata: { name: names.prometheus, namespace: ns, labels: promLabels } },
      parent,
    );
    const role = new k8s.rbac.v1.ClusterRole(
      names.prometheus,
      {
        metadata: { labels: promLabels },
        rules: [
          {
            apiGroups: [""],
            resources: ["pods", "services", "endpoints"],
            verbs: ["get", "list", "watch"],
          },
          // The kubelet job: node discovery, and the kubelets' /metrics (nodes/metrics only,
          // not the broader nodes/proxy).
          ...(plan.kubelet
            ? [
                { apiGroups: [""], resources: ["nodes"], verbs: ["list", "watch"] },
                { apiGroups: [""], resources: ["nodes/metrics"], verbs: ["get"] },
              ]
            : []),
        ],
      },
      parent,
    );
    new k8s.rbac.v1.ClusterRoleBinding(
      names.prometheus,
      {
        metadata: { labels: promLabels },
        roleRef: {
          apiGroup: "rbac.authorization.k8s.io",
          kind: "ClusterRole",
          name: role.metadata.name,
        },
        subjects: [{ kind: "ServiceAccount", name: sa.metadata.name, namespace: ns }],
      },
      parent,
    );
    const promConfig = new k8s.core.v1.ConfigMap(
      `${names.prometheus}-config`,
      {
        metadata: { namespace: ns, labels: promLabels },
        data: { "prometheus.yml": plan.prometheusConfig },
      },
      parent,
    );
    const promRules = new k8s.core.v1.ConfigMap(
      `${names.prometheus}-rules`,
      {
        metadata: { namespace: ns, labels: promLabels },
        data: { [plan.ruleFileName]: plan.rules },
      },
      parent,
    );
    new k8s.apps.v1.StatefulSet(
      names.prometheus,
      {
        metadata: { name: names.prometheus, namespace: ns, labels: promLabels },
        spec: {
          serviceName: names.prometheus,
          replicas: 1,
          selector: { matchLabels: promSelector },
          template: {
            metadata: {
              labels: promLabels,
              annotations: { "taskfleet.io/config-sha256": plan.configChecksum },
            },
            spec: {
              serviceAccountName: sa.metadata.name,
              nodeSelector,
              securityContext: podSecurityContext(PROMETHEUS_UID),
              containers: [
                {
                  name: "prometheus",
                  image: plan.images.prometheus,
                  args: [...plan.prometheusArgs],
                  ports: [{ name: "http", containerPort: 9090 }],
                  readinessProbe: {
                    httpGet: { path: "/-/ready", port: "http" },
                    periodSeconds: 10,
                  },
                  livenessProbe: {
                    httpGet: { path: "/-/healthy", port: "http" },
                    periodSeconds: 30,
                    failureThreshold: 6,
                  },
                  resources: {
                    requests: {
                      cpu: "500m",
                      memory: `${Math.ceil(plan.prometheusMemoryGiB / 2)}Gi`,
                    },
                    limits: { memory: `${plan.prometheusMemoryGiB}Gi` },
                  },
                  securityContext: containerSecurityContext(true),
                  volumeMounts: [
                    { name: "config", mountPath: PATHS.prometheusConfigDir, readOnly: true },
                    { name: "rules", mountPath: PATHS.prometheusRulesDir, readOnly: true },
                    { name: "data", mountPath: PATHS.prometheusData },
                    ...plan.caMounts.map((c) => ({
                      name: c.volume,
                      mountPath: c.mountPath,
                      readOnly: true,
                    })),
                  ],
                },
              ],
              volumes: [
                { name: "config", configMap: { name: promConfig.metadata.name } },
                { name: "rules", configMap: { name: promRules.metadata.name } },
                ...plan.caMounts.map((c) => ({
                  name: c.volume,
                  secret: { secretName: c.secretName, items: [{ key: c.key, path: c.key }] },
                })),
              ],
            },
          },
          volumeClaimTemplates: [
            {
              metadata: { name: "data", labels: promLabels },
              spec: {
                accessModes: ["ReadWriteOnce"],
                storageClassName: plan.storageClassName,
                resources: { requests: { storage: `${plan.storageSizeGiB}Gi` } },
              },
            },
          ],
        },
      },
      parent,
    );
    clusterIpService(names.prometheus, ns, promLabels, promSelector, "http", 9090, parent);

    // ---- Grafana ----
    const grafLabels = labels("grafana", "monitoring", name);
    const grafSelector = selector("grafana", name);
    const password = new random.RandomPassword(
      `${names.grafana}-admin`,
      { length: 32, special: false },
      parent,
    );
    const adminSecret = new k8s.core.v1.Secret(
      `${names.grafana}-admin`,
      {
        metadata: { namespace: ns, labels: grafLabels },
        type: "Opaque",
        stringData: { user: "admin", password: password.result },
      },
      parent,
    );
    const provisioning = new k8s.core.v1.ConfigMap(
      `${names.grafana}-provisioning`,
      {
        metadata: { namespace: ns, labels: grafLabels },
        data: {
          "datasource.yml": plan.grafanaDatasource,
          "dashboards.yml": plan.grafanaDashboardProvider,
        },
      },
      parent,
    );
    const dashboards = new k8s.core.v1.ConfigMap(
      `${names.grafana}-dashboards`,
      { metadata: { namespace: ns, labels: grafLabels }, data: { ...plan.dashboards } },
      parent,
    );
    const fromSecret = (key: string) => ({
      secretKeyRef: { name: adminSecret.metadata.name, key },
    });
    new k8s.apps.v1.Deployment(
      names.grafana,
      {
        metadata: { name: names.grafana, namespace: ns, labels: grafLabels },
        spec: {
          replicas: 1,
          selector: { matchLabels: grafSelector },
          template: {
            metadata: { labels: grafLabels },
            spec: {
              nodeSelector,
              securityContext: podSecurityContext(GRAFANA_UID),
              containers: [
                {
                  name: "grafana",
                  image: plan.images.grafana,
                  ports: [{ name: "http", containerPort: 3000 }],
                  env: [
                    { name: "GF_SECURITY_ADMIN_USER", valueFrom: fromSecret("user") },
                    { name: "GF_SECURITY_ADMIN_PASSWORD", valueFrom: fromSecret("password") },
                    { name: "GF_PATHS_PROVISIONING", value: PATHS.grafanaProvisioning },
                    { name: "GF_PATHS_DATA", value: PATHS.grafanaData },
                    { name: "GF_AUTH_ANONYMOUS_ENABLED", value: "false" },
                    { name: "GF_ANALYTICS_REPORTING_ENABLED", value: "false" },
                  ],
                  readinessProbe: {
                    httpGet: { path: "/api/health", port: "http" },
                    periodSeconds: 10,
                  },
                  resources: {
                    requests: { cpu: "100m", memory: "256Mi" },
                    limits: { memory: "512Mi" },
                  },
                  securityContext: containerSecurityContext(true),
                  volumeMounts: [
                    {
                      name: "provisioning",
                      mountPath: `${PATHS.grafanaProvisioning}/datasources/datasource.yml`,
                      subPath: "datasource.yml",
                      readOnly: true,
                    },
                    {
                      name: "provisioning",
                      mountPath: `${PATHS.grafanaProvisioning}/dashboards/dashboards.yml`,
                      subPath: "dashboards.yml",
                      readOnly: true,
                    },
                    { name: "dashboards", mountPath: PATHS.grafanaDashboards, readOnly: true },
                    { name: "data", mountPath: PATHS.grafanaData },
                    { name: "tmp", mountPath: "/tmp" },
                  ],
                },
              ],
              volumes: [
                { name: "provisioning", configMap: { name: provisioning.metadata.name } },
                { name: "dashboards", configMap: { name: dashboards.metadata.name } },
                { name: "data", emptyDir: {} },
                { name: "tmp", emptyDir: {} },
              ],
            },
          },
        },
      },
      parent,
    );
    clusterIpService(names.grafana, ns, grafLabels, grafSelector, "http", 3000, parent);

    const ctx = { plan, nodeSelector, parent };
    if (args.redis) createRedisExporter(name, ns, args.redis, ctx);
    if (args.federation) createFederationExporter(name, ns, args.federation, ctx);

    // ---- Alertmanager and the cluster exporters (child components) ----
    if (args.alerting && plan.alertmanager) {
      const am = new Alertmanager(
        plan.alertmanager.name,
        {
          namespace: ns,
          channels: args.alerting.channels,
          secrets: args.alerting.secrets,
          replicas: plan.alertmanager.replicas,
          image: args.alerting.image,
          nodeSelector,
        },
        parent,
      );
      // The scrape config and the `alerting` block name exactly these replicas.
      if (am.addresses.join() !== plan.alertmanager.addresses.join()) {
        throw new Error(`alertmanager addresses differ: ${am.addresses.join()}`);
      }
    }
    if (args.clusterMetrics) {
      new ClusterMetrics(
        plan.names.clusterMetrics,
        {
          namespace: ns,
          nodeExporterNamespace: args.clusterMetrics.nodeExporterNamespace,
          nodeSelector,
          kubeStateMetricsImage: args.clusterMetrics.kubeStateMetricsImage,
          nodeExporterImage: args.clusterMetrics.nodeExporterImage,
        },
        parent,
      );
    }

    this.prometheusUrl = pulumi.output(plan.prometheusUrl);
    this.grafanaUrl = pulumi.output(plan.grafanaUrl);
    this.grafanaAdminPassword = pulumi.secret(password.result);
    this.alertNames = plan.alertNames;
    this.registerOutputs({
      prometheusUrl: this.prometheusUrl,
      grafanaUrl: this.grafanaUrl,
      grafanaAdminPassword: this.grafanaAdminPassword,
      alertNames: this.alertNames,
    });
  }
}

export { MONITORING_DEFAULTS };
