import { createHash } from "node:crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { fillUpstreamUris, placeholderUri } from "../federation/upstreams.js";
import { createObject } from "../k8s/place.js";
import {
  brokerNames,
  brokerK8sObjects,
  brokerPorts,
  OWN_NODE,
  tlsCaKey,
  type BrokerStorage,
} from "./brokerManifests.js";
import { renderBrokerFiles } from "./brokerFiles.js";
import { DEPLOYED_RABBITMQ_IMAGE, imageRabbitmqVersion } from "./rabbitmqVersion.js";
import { postStartCommands } from "./definitions.js";
import { BROKER_ROLES, resolveBrokerSpec, type BrokerRole, type BrokerSpec } from "./brokerSpec.js";

/** Arguments of {@link BrokerCluster}. */
export interface BrokerClusterArgs {
  /** AWS region of the stack (the broker spec's region when it has none). @default - required */
  readonly region: string;
  /**
   * The broker description as written under `taskfleet:broker` (validated by `resolveBrokerSpec`);
   * federation links without `uris` get them from `upstreamUris`.
   * @default {} (5 nodes, the seed's limits and queues)
   */
  readonly spec?: unknown;
  /** Upstream URIs by peer region (from Federation). @default {} */
  readonly upstreamUris?: pulumi.Input<Record<string, string[]>>;
  /** Federation user's password at each peer region (secret, from Federation). @default {} */
  readonly upstreamPasswords?: pulumi.Input<Record<string, string>>;
  /** Namespace of the broker. @default "taskfleet" */
  readonly namespace?: string;
  /**
   * RabbitMQ image; its tag must name the version (the generated rabbitmq.conf follows it).
   * @default DEPLOYED_RABBITMQ_IMAGE ("rabbitmq:4.3.5-management")
   */
  readonly image?: string;
  /** EBS volume type of each node's data volume (SSD, S18). @default "gp3" */
  readonly volumeType?: "gp3" | "io2";
  /** Data volume per node, GiB. @default 200 */
  readonly volumeSizeGiB?: number;
  /** Provisioned IOPS (gp3 3000–16000; io2 required). @default 3000 */
  readonly iops?: number;
  /** gp3 throughput, MiB/s. @default 125 */
  readonly throughputMiBps?: number;
  /** CPU per node (request = limit). @default "2" */
  readonly cpu?: string;
  /** Memory per node, GiB (request = limit; the watermark is relative to it). @default 8 */
  readonly memoryGiB?: number;
  /** Seconds a node may take to leave (the pre-stop hook waits for quorum within it). @default 3600 */
  readonly terminationGracePeriodSeconds?: number;
  /** Run on the tainted broker node pool. @default false */
  readonly selectNodePool?: boolean;
  /**
   * Use an existing StorageClass (a cluster not on EKS) instead of creating the EBS gp3/io2 one.
   * @default - a class is created from volumeType, iops and throughputMiBps
   */
  readonly storageClassName?: string;
  /** Address blocks allowed to reach AMQP through the internal NLB (this VPC, peer VPCs). @default ["10.0.0.0/8"] */
  readonly clientCidrs?: readonly string[];
}

export const BROKER_CLUSTER_DEFAULTS = Object.freeze({
  namespace: "taskfleet",
  image: DEPLOYED_RABBITMQ_IMAGE,
  volumeType: "gp3" as const,
  volumeSizeGiB: 200,
  iops: 3000,
  throughputMiBps: 125,
  cpu: "2",
  memoryGiB: 8,
  terminationGracePeriodSeconds: 3600,
  selectNodePool: false,
  clientCidrs: ["10.0.0.0/8"],
});

/** Deterministic 4-byte salt per user and password, so definitions do not change on every run. */
function saltFor(username: string, password: string): Buffer {
  return createHash("sha256").update(`${username}\0${password}`).digest().subarray(0, 4);
}

function percentEncodeVhost(vhost: string): string {
  return encodeURIComponent(vhost);
}

/**
 * The broker layer of a region: RabbitMQ as a StatefulSet of the configured odd node count on an
 * SSD StorageClass, booting from exactly the files the broker generator renders (rabbitmq.conf
 * and enabled_plugins in a ConfigMap, definitions.json in a Secret), with Kubernetes peer
 * discovery, a PodDisruptionBudget, zone spread and anti-affinity, a pre-stop hook that waits
 * for quorum, a raised open-files limit, an internal NLB for clients and peer regions, and one
 * random password per role, kept as secrets.
 */
export class BrokerCluster extends pulumi.ComponentResource {
  public static readonly TOKEN = "taskfleet:broker:BrokerCluster";
  /** The validated broker description (federation URIs as placeholders until deployed). */
  public readonly spec: BrokerSpec;
  /** Hostname of the internal NLB (clients in the VPC, peer regions). */
  public readonly endpoint: pulumi.Output<string>;
  /** In-cluster DNS name of the client Service. */
  public readonly serviceHost: string;
  /**
   * In-cluster base URL of the management API through the client Service:
   * `http://<serviceHost>:15672`, or `https://<serviceHost>:15671` with TLS on.
   */
  public readonly managementUrl: string;
  /** Listening ports (AMQP, management, prometheus), the TLS ones when TLS is on. */
  public readonly ports: { amqp: number; management: number; prometheus: number };
  /**
   * With TLS on: the Secret (in the broker's namespace) mounted as the nodes' TLS folder and the
   * key of the CA certificate in it; `undefined` without TLS.
   */
  public readonly tls: { secretName: string; caKey: string } | undefined;
  /** AMQP URL per role for in-cluster clients (secret). */
  public readonly urls: pulumi.Output<Record<BrokerRole, string>>;
  /** Password per role (secret). */
  public readonly passwords: pulumi.Output<Record<BrokerRole, string>>;

  constructor(name: string, args: BrokerClusterArgs, opts: pulumi.ComponentResourceOptions = {}) {
    const d = BROKER_CLUSTER_DEFAULTS;
    // Validate before creating anything: links awaiting a peer's URIs get placeholders here.
    const links = Array.isArray((args.spec as { federation?: unknown } | undefined)?.federation)
      ? ((args.spec as { federation: { region?: unknown }[] }).federation ?? [])
      : [];
    const placeholders = Object.fromEntries(
      links.map((l) => [String(l.region), [placeholderUri(String(l.region))]]),
    );
    const spec = resolveBrokerSpec(
      fillUpstreamUris(args.spec, placeholders),
      "taskfleet:broker",
      args.region,
    );
    const namespace = args.namespace ?? d.namespace;
    const image = args.image ?? d.image;
    const version = imageRabbitmqVersion(image);
    if (version === undefined) {
      throw new Error(
        `image: ${JSON.stringify(image)} names no RabbitMQ version; pin one like ${JSON.stringify(DEPLOYED_RABBITMQ_IMAGE)} so the generated rabbitmq.conf matches it`,
      );
    }
    const storage: BrokerStorage = {
      volumeType: args.volumeType ?? d.volumeType,
      volumeSizeGiB: args.volumeSizeGiB ?? d.volumeSizeGiB,
      iops: args.iops ?? d.iops,
      throughputMiBps: args.throughputMiBps ?? d.throughputMiBps,
    };
    if (storage.volumeType === "gp3" && (storage.iops < 3000 || storage.iops > 16000)) {
      throw new Error(`iops: ${storage.iops} is out of range for gp3; use 3000 to 16000`);
    }
    super(BrokerCluster.TOKEN, name, {}, opts);
    this.spec = spec;
    const names = brokerNames(name, storage.volumeType);

    const parent = { parent: this };
    const passwordResources = BROKER_ROLES.map(
      (role) =>
        [
          role,
          new random.RandomPassword(`${name}-${role}`, { length: 32, special: false }, parent),
        ] as const,
    );
    const cookie = new random.RandomPassword(
      `${name}-erlang-cookie`,
      { length: 64, special: false },
      parent,
    );
    this.passwords = pulumi.secret(
      pulumi.all(
        Object.fromEntries(passwordResources.map(([role, p]) => [role, p.result])),
      ) as pulumi.Output<Record<BrokerRole, string>>,
    );

    const formation = {
      kind: "kubernetes" as const,
      serviceName: names.headless,
      hostnameSuffix: `.${names.headless}.${namespace}.svc.cluster.local`,
    };
    const files = pulumi
      .all([
        this.passwords,
        pulumi.output(args.upstreamUris ?? {}),
        pulumi.output(args.upstreamPasswords ?? {}),
      ])
      .apply(([passwords, uris, upstreamPasswords]) => {
        const resolved = resolveBrokerSpec(
          fillUpstreamUris(args.spec, uris, "taskfleet:broker", "drop"),
          "taskfleet:broker",
          args.region,
        );
        // One salt per password keeps the hashes stable across runs (no needless restarts).
        const salts = new Map(
          BROKER_ROLES.map((r) => [spec.users[r], saltFor(spec.users[r], passwords[r])]),
        );
        return renderBrokerFiles(
          resolved,
          { passwords, upstreamPasswords },
          {
            formation,
            version,
            clusterName: `taskfleet-${spec.region}`,
            salt: (user) => salts.get(user) ?? saltFor(user, ""),
          },
        );
      });

    const config = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      {
        metadata: { name: names.config, namespace },
        // Neither file holds a credential (passwords live only in definitions.json).
        data: {
          "rabbitmq.conf": pulumi.unsecret(files["rabbitmq.conf"]),
          enabled_plugins: pulumi.unsecret(files.enabled_plugins),
        },
      },
      parent,
    );
    const definitions = new k8s.core.v1.Secret(
      `${name}-definitions`,
      {
        metadata: { name: names.definitions, namespace },
        type: "Opaque",
        stringData: { "definitions.json": pulumi.secret(files["definitions.json"]) },
      },
      parent,
    );
    const cookieSecret = new k8s.core.v1.Secret(
      `${name}-erlang-cookie`,
      {
        metadata: { name: names.cookie, namespace },
        type: "Opaque",
        stringData: { ".erlang.cookie": cookie.result },
      },
      parent,
    );
    // A hash reveals nothing of the passwords; unsecret it so the StatefulSet spec stays readable.
    const checksum = pulumi.unsecret(
      files.apply((f) =>
        createHash("sha256")
          .update(f["rabbitmq.conf"])
          .update(f.enabled_plugins)
          .update(f["definitions.json"])
          .digest("hex")
          .slice(0, 16),
      ),
    );

    // The objects are pure data except the checksum, which only annotates the pod template.
    const objs = brokerK8sObjects({
      instance: name,
      namespace,
      image,
      rabbitmqVersion: version,
      nodes: spec.nodes,
      fileDescriptorLimit: spec.fileDescriptorLimit,
      tls: spec.tls.enabled,
      storage,
      cpu: args.cpu ?? d.cpu,
      memoryGiB: args.memoryGiB ?? d.memoryGiB,
      terminationGracePeriodSeconds:
        args.terminationGracePeriodSeconds ?? d.terminationGracePeriodSeconds,
      selectNodePool: args.selectNodePool ?? d.selectNodePool,
      clientCidrs: args.clientCidrs ?? d.clientCidrs,
      configChecksum: "__checksum__",
      storageClassName: args.storageClassName,
      // The federation policies do not depend on the peers' URIs, so the placeholder spec serves.
      postStart: postStartCommands(spec, [OWN_NODE]),
    });
    const sc =
      args.storageClassName === undefined ? [createObject(name, objs.storageClass, parent)] : [];
    const sa = createObject(name, objs.serviceAccount, parent);
    if (objs.role && objs.roleBinding) {
      const role = createObject(name, objs.role, parent);
      createObject(name, objs.roleBinding, { parent: this, dependsOn: [sa, role] });
    }
    createObject(`${name}-nodes`, objs.headlessService, parent);
    const client = createObject(name, objs.clientService, parent) as k8s.core.v1.Service;
    const template = objs.statefulSet.spec as {
      template: { metadata: { annotations: Record<string, unknown> } };
    };
    const statefulSet = {
      ...objs.statefulSet,
      spec: {
        ...(objs.statefulSet.spec as object),
        template: {
          ...template.template,
          metadata: {
            ...template.template.metadata,
            annotations: { "taskfleet.io/config-checksum": checksum },
          },
        },
      },
    };
    createObject(name, statefulSet, {
      parent: this,
      dependsOn: [...sc, sa, config, definitions, cookieSecret],
    });
    createObject(name, objs.podDisruptionBudget, parent);
    createObject(name, objs.networkPolicy, parent);

    this.serviceHost = `${names.client}.${namespace}.svc.cluster.local`;
    this.ports = brokerPorts(spec.tls.enabled);
    this.managementUrl = `${spec.tls.enabled ? "https" : "http"}://${this.serviceHost}:${this.ports.management}`;
    this.tls = spec.tls.enabled
      ? { secretName: names.tls, caKey: tlsCaKey(spec.tls.caCertFile) }
      : undefined;
    this.endpoint = client.status.loadBalancer.ingress.apply(
      (i) => i?.[0]?.hostname ?? i?.[0]?.ip ?? "",
    );
    const scheme = spec.tls.enabled ? "amqps" : "amqp";
    const port = this.ports.amqp;
    const vhost = percentEncodeVhost(spec.vhost);
    this.urls = pulumi.secret(
      this.passwords.apply(
        (pw) =>
          Object.fromEntries(
            BROKER_ROLES.map((r) => [
              r,
              `${scheme}://${spec.users[r]}:${encodeURIComponent(pw[r])}@${this.serviceHost}:${port}/${vhost}`,
            ]),
          ) as Record<BrokerRole, string>,
      ),
    );
    this.registerOutputs({ endpoint: this.endpoint, urls: this.urls, passwords: this.passwords });
  }
}
