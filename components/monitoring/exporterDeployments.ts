/**
 * The exporters the Monitoring component runs beside Prometheus: redis_exporter in front of the
 * result backend, and taskfleet's federation exporter in front of this region's management API.
 * Each is a Deployment with its Secret and a ClusterIP Service, named from the component.
 */
import { readFileSync } from "node:fs";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { containerSecurityContext, labels, podSecurityContext, selector } from "../k8s/objects.js";
import { FEDERATION_EXPORTER_PORT, REDIS_EXPORTER_PORT } from "./metrics.js";
import type { MonitoringPlan } from "./monitoringPlan.js";

/** The result backend redis_exporter watches. */
export interface MonitoredRedis {
  /** `host:port` of the Redis endpoint (the ElastiCache configuration endpoint). */
  readonly address: pulumi.Input<string>;
  /** AUTH token; stored in a Kubernetes Secret. @default - no AUTH */
  readonly authToken?: pulumi.Input<string>;
  /** Connect with TLS (`rediss://`), as ElastiCache with transit encryption requires. @default true */
  readonly tls?: boolean;
}

/** This region's broker management API, read by the federation exporter. */
export interface MonitoredFederation {
  /** Base URL of the RabbitMQ management API, e.g. `http://tf-broker.taskfleet.svc:15672`. */
  readonly managementUrl: pulumi.Input<string>;
  /** A management user allowed to read federation status (tag `monitoring`). */
  readonly username: pulumi.Input<string>;
  /** Its password; stored in a Kubernetes Secret. */
  readonly password: pulumi.Input<string>;
  /**
   * For an `https` URL signed by a private CA: the Secret (in the monitoring namespace) holding
   * the CA certificate, which the exporter trusts through `NODE_EXTRA_CA_CERTS`.
   * @default - the image's public CAs only
   */
  readonly ca?: { readonly secretName: string; readonly key?: string };
}

/** What the exporters share with the component that places them. */
export interface ExporterContext {
  readonly plan: MonitoringPlan;
  readonly nodeSelector: Record<string, string>;
  readonly parent: pulumi.CustomResourceOptions;
}

/** Where the federation exporter finds the management API's CA. */
const FEDERATION_CA_DIR = "/etc/federation-exporter/ca";

/** The exporter script, placed in a ConfigMap and run by a stock Node image. */
const FEDERATION_EXPORTER_SCRIPT = readFileSync(
  new URL("./exporter/federation-exporter.mjs", import.meta.url),
  "utf8",
);

const REDIS_EXPORTER_UID = 59000;
/** The `node` user of the official Node images. */
const NODE_UID = 1000;

/** A ClusterIP Service in front of one named container port (Prometheus, Grafana, exporters). */
export function clusterIpService(
  name: string,
  namespace: pulumi.Input<string>,
  objectLabels: Record<string, string>,
  podSelector: Record<string, string>,
  portName: string,
  port: number,
  opts: pulumi.CustomResourceOptions,
): k8s.core.v1.Service {
  return new k8s.core.v1.Service(
    name,
    {
      metadata: { name, namespace, labels: objectLabels },
      spec: {
        type: "ClusterIP",
        selector: podSelector,
        ports: [{ name: portName, port, targetPort: portName }],
      },
    },
    opts,
  );
}

/** redis_exporter for the result backend, its connection in a Secret. */
export function createRedisExporter(
  name: string,
  ns: string,
  r: MonitoredRedis,
  ctx: ExporterContext,
): void {
  const { plan, nodeSelector, parent } = ctx;
  const names = plan.names;
  const exLabels = labels("redis-exporter", "monitoring", name);
  const exSelector = selector("redis-exporter", name);
  const scheme = (r.tls ?? true) ? "rediss" : "redis";
  const exSecret = new k8s.core.v1.Secret(
    names.redisExporter,
    {
      metadata: { namespace: ns, labels: exLabels },
      type: "Opaque",
      stringData: {
        address: pulumi.interpolate`${scheme}://${r.address}`,
        password: r.authToken ? pulumi.secret(r.authToken) : "",
      },
    },
    parent,
  );
  const ref = (key: string) => ({ secretKeyRef: { name: exSecret.metadata.name, key } });
  new k8s.apps.v1.Deployment(
    names.redisExporter,
    {
      metadata: { name: names.redisExporter, namespace: ns, labels: exLabels },
      spec: {
        replicas: 1,
        selector: { matchLabels: exSelector },
        template: {
          metadata: { labels: exLabels },
          spec: {
            nodeSelector,
            securityContext: podSecurityContext(REDIS_EXPORTER_UID),
            containers: [
              {
                name: "redis-exporter",
                image: plan.images.redisExporter,
                env: [
                  { name: "REDIS_ADDR", valueFrom: ref("address") },
                  { name: "REDIS_PASSWORD", valueFrom: ref("password") },
                ],
                ports: [{ name: "metrics", containerPort: REDIS_EXPORTER_PORT }],
                readinessProbe: { httpGet: { path: "/health", port: "metrics" } },
                resources: {
                  requests: { cpu: "50m", memory: "64Mi" },
                  limits: { memory: "128Mi" },
                },
                securityContext: containerSecurityContext(true),
              },
            ],
          },
        },
      },
    },
    parent,
  );
  clusterIpService(
    names.redisExporter,
    ns,
    exLabels,
    exSelector,
    "metrics",
    REDIS_EXPORTER_PORT,
    parent,
  );
}

/** The federation exporter, its management credentials in a Secret. */
export function createFederationExporter(
  name: string,
  ns: string,
  f: MonitoredFederation,
  ctx: ExporterContext,
): void {
  const { plan, nodeSelector, parent } = ctx;
  const names = plan.names;
  const fxLabels = labels("federation-exporter", "monitoring", name);
  const fxSelector = selector("federation-exporter", name);
  const fxSecret = new k8s.core.v1.Secret(
    names.federationExporter,
    {
      metadata: { namespace: ns, labels: fxLabels },
      type: "Opaque",
      stringData: {
        url: f.managementUrl,
        username: f.username,
        password: pulumi.secret(f.password),
      },
    },
    parent,
  );
  const fxScript = new k8s.core.v1.ConfigMap(
    `${names.federationExporter}-script`,
    {
      metadata: { namespace: ns, labels: fxLabels },
      data: { "federation-exporter.mjs": FEDERATION_EXPORTER_SCRIPT },
    },
    parent,
  );
  const ref = (key: string) => ({ secretKeyRef: { name: fxSecret.metadata.name, key } });
  const caKey = f.ca?.key ?? "ca.crt";
  new k8s.apps.v1.Deployment(
    names.federationExporter,
    {
      metadata: { name: names.federationExporter, namespace: ns, labels: fxLabels },
      spec: {
        replicas: 1,
        selector: { matchLabels: fxSelector },
        template: {
          metadata: { labels: fxLabels },
          spec: {
            nodeSelector,
            securityContext: podSecurityContext(NODE_UID),
            containers: [
              {
                name: "federation-exporter",
                image: plan.images.federationExporter,
                command: ["node", "/exporter/federation-exporter.mjs"],
                env: [
                  { name: "RABBITMQ_MANAGEMENT_URL", valueFrom: ref("url") },
                  { name: "RABBITMQ_USERNAME", valueFrom: ref("username") },
                  { name: "RABBITMQ_PASSWORD", valueFrom: ref("password") },
                  { name: "EXPORTER_PORT", value: String(FEDERATION_EXPORTER_PORT) },
                  ...(f.ca
                    ? [{ name: "NODE_EXTRA_CA_CERTS", value: `${FEDERATION_CA_DIR}/${caKey}` }]
                    : []),
                ],
                ports: [{ name: "metrics", containerPort: FEDERATION_EXPORTER_PORT }],
                readinessProbe: { httpGet: { path: "/healthz", port: "metrics" } },
                resources: {
                  requests: { cpu: "20m", memory: "48Mi" },
                  limits: { memory: "96Mi" },
                },
                securityContext: containerSecurityContext(true),
                volumeMounts: [
                  { name: "script", mountPath: "/exporter", readOnly: true },
                  ...(f.ca ? [{ name: "ca", mountPath: FEDERATION_CA_DIR, readOnly: true }] : []),
                ],
              },
            ],
            volumes: [
              { name: "script", configMap: { name: fxScript.metadata.name } },
              ...(f.ca
                ? [
                    {
                      name: "ca",
                      secret: {
                        secretName: f.ca.secretName,
                        items: [{ key: caKey, path: caKey }],
                      },
                    },
                  ]
                : []),
            ],
          },
        },
      },
    },
    parent,
  );
  clusterIpService(
    names.federationExporter,
    ns,
    fxLabels,
    fxSelector,
    "metrics",
    FEDERATION_EXPORTER_PORT,
    parent,
  );
}
