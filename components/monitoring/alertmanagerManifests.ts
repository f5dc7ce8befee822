/**
 * Kubernetes objects of a region's Alertmanager: replicas in one StatefulSet that form a gossip
 * cluster (silences and the notification log are shared, so each alert is notified once), a
 * headless Service giving each replica a stable DNS name (Prometheus sends every alert to every
 * replica, as Alertmanager's docs ask, never through a load balancer), the generated configuration
 * in a ConfigMap, the receivers' secrets mounted as files from a Secret, and a disruption budget.
 * Pure: no Pulumi import; the Alertmanager component places these objects and the Secret.
 */
import { createHash } from "node:crypto";
import {
  containerSecurityContext,
  labels,
  objectMeta,
  onePodAtATime,
  podSecurityContext,
  selector,
  type K8sObject,
} from "../k8s/objects.js";
import {
  generateAlertmanagerConfig,
  renderAlertmanagerConfig,
  type AlertChannels,
  type Channel,
} from "./alertmanagerConfig.js";
import type { Severity } from "./ruleKit.js";
import { ALERTMANAGER_CLUSTER_PORT, ALERTMANAGER_PORT } from "./metrics.js";

/** Where the receivers' secrets are mounted, and their keys in the Secret. */
export const ALERTMANAGER_SECRETS_DIR = "/etc/alertmanager/secrets";
export const SECRET_KEYS = Object.freeze({
  slackWebhookUrl: "slack-webhook-url",
  pagerdutyRoutingKey: "pagerduty-routing-key",
});
const CONFIG_DIR = "/etc/alertmanager/config";
const DATA_DIR = "/alertmanager";
/** The `nobody` user of the official Alertmanager image. */
const ALERTMANAGER_UID = 65534;

export const ALERTMANAGER_DEFAULTS = Object.freeze({
  replicas: 2,
  // The version the test suite checks the configuration with (Debian's amtool 0.25).
  image: "quay.io/prometheus/alertmanager:v0.25.0",
});

/** What the stack says about receivers (`taskfleet:alerting`), secrets excluded. */
export interface AlertingChannels {
  /** PagerDuty; its routing key is a secret. */
  readonly pagerduty?: boolean;
  /** Slack channel; the webhook URL is a secret. */
  readonly slack?: { readonly channel: string };
  /** SNS topic ARN. */
  readonly sns?: { readonly topicArn: string };
  /** Channels per severity. @default - see alertmanagerConfig.ts defaultRoutes */
  readonly routes?: Partial<Record<Severity, readonly Channel[]>>;
}

export interface AlertmanagerPlanInput {
  /** Object names' prefix (the StatefulSet and headless Service). */
  readonly name: string;
  readonly namespace: string;
  readonly channels: AlertingChannels;
  /** @default 2 */
  readonly replicas?: number;
  /** @default "quay.io/prometheus/alertmanager:v0.25.0" */
  readonly image?: string;
  /** @default {} */
  readonly nodeSelector?: Readonly<Record<string, string>>;
}

export interface AlertmanagerPlan {
  readonly name: string;
  readonly replicas: number;
  /** `host:port` of every replica, for Prometheus' `alerting` block and its scrape job. */
  readonly addresses: readonly string[];
  /** The generated alertmanager.yml. */
  readonly config: string;
  /** Name of the Secret holding the receivers' keys; undefined when no receiver needs one. */
  readonly secretName?: string;
  /** Secret keys the Secret must hold. */
  readonly secretKeys: readonly string[];
  readonly serviceAccount: K8sObject;
  readonly configMap: K8sObject;
  readonly headlessService: K8sObject;
  readonly statefulSet: K8sObject;
  readonly podDisruptionBudget: K8sObject;
}

/** Plans the objects; throws naming the field on bad input. */
export function planAlertmanager(input: AlertmanagerPlanInput): AlertmanagerPlan {
  const replicas = input.replicas ?? ALERTMANAGER_DEFAULTS.replicas;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) {
    throw new Error(
      `replicas: ${JSON.stringify(replicas)} is not allowed; use a whole number from 1 to 5 (2 or 3 for a highly available cluster)`,
    );
  }
  const { name, namespace: ns } = input;
  const ch = input.channels;
  const channels: AlertChannels = {
    ...(ch.pagerduty
      ? {
          pagerduty: {
            routingKeyFile: `${ALERTMANAGER_SECRETS_DIR}/${SECRET_KEYS.pagerdutyRoutingKey}`,
          },
        }
      : {}),
    ...(ch.slack
      ? {
          slack: {
            webhookUrlFile: `${ALERTMANAGER_SECRETS_DIR}/${SECRET_KEYS.slackWebhookUrl}`,
            channel: ch.slack.channel,
          },
        }
      : {}),
    ...(ch.sns ? { sns: { topicArn: ch.sns.topicArn } } : {}),
  };
  const config = renderAlertmanagerConfig(
    generateAlertmanagerConfig({ channels, ...(ch.routes ? { routes: ch.routes } : {}) }),
  );
  const secretKeys = [
    ...(ch.slack ? [SECRET_KEYS.slackWebhookUrl] : []),
    ...(ch.pagerduty ? [SECRET_KEYS.pagerdutyRoutingKey] : []),
  ];
  const secretName = secretKeys.length > 0 ? `${name}-receivers` : undefined;
  const objLabels = labels("alertmanager", "monitoring", name);
  const match = selector("alertmanager", name);
  const peer = (i: number): string => `${name}-${i}.${name}.${ns}.svc`;
  const addresses = Array.from({ length: replicas }, (_, i) => `${peer(i)}:${ALERTMANAGER_PORT}`);
  const configMap: K8sObject = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: objectMeta(`${name}-config`, ns, objLabels),
    data: { "alertmanager.yml": config },
  };
  // A changed configuration rolls the replicas (Alertmanager reads its file only at start or on
  // a reload); rotated secrets are re-read from their files at each notification.
  const checksum = createHash("sha256").update(config).update(secretKeys.join(",")).digest("hex");
  const serviceAccount: K8sObject = {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: objectMeta(name, ns, objLabels),
    // Alertmanager never calls the Kubernetes API.
    automountServiceAccountToken: false,
  };
  const headlessService: K8sObject = {
    apiVersion: "v1",
    kind: "Service",
    metadata: objectMeta(name, ns, objLabels),
    spec: {
      clusterIP: "None",
      // Replicas find each other before they are ready (they gossip to become ready).
      publishNotReadyAddresses: true,
      selector: match,
      ports: [
        { name: "web", port: ALERTMANAGER_PORT, targetPort: "web" },
        { name: "mesh-tcp", port: ALERTMANAGER_CLUSTER_PORT, targetPort: "mesh-tcp" },
        {
          name: "mesh-udp",
          port: ALERTMANAGER_CLUSTER_PORT,
          targetPort: "mesh-udp",
          protocol: "UDP",
        },
      ],
    },
  };
  const args = [
    `--config.file=${CONFIG_DIR}/alertmanager.yml`,
    `--storage.path=${DATA_DIR}`,
    `--web.listen-address=:${ALERTMANAGER_PORT}`,
    ...(replicas > 1
      ? [
          `--cluster.listen-address=0.0.0.0:${ALERTMANAGER_CLUSTER_PORT}`,
          `--cluster.advertise-address=$(POD_IP):${ALERTMANAGER_CLUSTER_PORT}`,
          ...Array.from(
            { length: replicas },
            (_, i) => `--cluster.peer=${peer(i)}:${ALERTMANAGER_CLUSTER_PORT}`,
          ),
        ]
      : ["--cluster.listen-address="]),
  ];
  const statefulSet: K8sObject = {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: objectMeta(name, ns, objLabels),
    spec: {
      serviceName: name,
      replicas,
      podManagementPolicy: "Parallel",
      selector: { matchLabels: match },
      template: {
        metadata: {
          labels: objLabels,
          annotations: { "taskfleet.io/config-sha256": checksum },
        },
        spec: {
          serviceAccountName: name,
          automountServiceAccountToken: false,
          nodeSelector: { ...(input.nodeSelector ?? {}) },
          securityContext: podSecurityContext(ALERTMANAGER_UID),
          affinity: {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                {
                  weight: 100,
                  podAffinityTerm: {
                    topologyKey: "kubernetes.io/hostname",
                    labelSelector: { matchLabels: match },
                  },
                },
              ],
            },
          },
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: "topology.kubernetes.io/zone",
              whenUnsatisfiable: "ScheduleAnyway",
              labelSelector: { matchLabels: match },
            },
          ],
          containers: [
            {
              name: "alertmanager",
              image: input.image ?? ALERTMANAGER_DEFAULTS.image,
              args,
              env: [{ name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } }],
              ports: [
                { name: "web", containerPort: ALERTMANAGER_PORT },
                { name: "mesh-tcp", containerPort: ALERTMANAGER_CLUSTER_PORT },
                { name: "mesh-udp", containerPort: ALERTMANAGER_CLUSTER_PORT, protocol: "UDP" },
              ],
              readinessProbe: { httpGet: { path: "/-/ready", port: "web" }, periodSeconds: 10 },
              livenessProbe: {
                httpGet: { path: "/-/healthy", port: "web" },
                periodSeconds: 30,
                failureThreshold: 6,
              },
              resources: {
                requests: { cpu: "50m", memory: "64Mi" },
                limits: { memory: "128Mi" },
              },
              securityContext: containerSecurityContext(true),
              volumeMounts: [
                { name: "config", mountPath: CONFIG_DIR, readOnly: true },
                { name: "data", mountPath: DATA_DIR },
                ...(secretName
                  ? [{ name: "receivers", mountPath: ALERTMANAGER_SECRETS_DIR, readOnly: true }]
                  : []),
              ],
            },
          ],
          volumes: [
            { name: "config", configMap: { name: `${name}-config` } },
            // Silences and the notification log live in memory and on this volume; the other
            // replica gives them back to a restarted one.
            { name: "data", emptyDir: { sizeLimit: "256Mi" } },
            ...(secretName ? [{ name: "receivers", secret: { secretName } }] : []),
          ],
        },
      },
    },
  };
  return {
    name,
    replicas,
    addresses,
    config,
    ...(secretName ? { secretName } : {}),
    secretKeys,
    serviceAccount,
    configMap,
    headlessService,
    statefulSet,
    podDisruptionBudget: onePodAtATime(objectMeta(name, ns, objLabels), match),
  };
}
