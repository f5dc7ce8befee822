import { createHash } from "node:crypto";
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { k8sName } from "../k8s/objects.js";
import { createConnectionSecret, createObject } from "../k8s/place.js";
import { apiObjects, type ApiExposure } from "./apiManifests.js";

/** A client of the task API: its id and the task-name globs it may send. */
export interface ApiClientConfig {
  readonly id: string;
  readonly tasks: readonly string[];
}

/** Arguments of {@link Ingress}. */
export interface IngressArgs {
  /** AWS region of this stack: the record's latency region and set identifier. @default - required */
  readonly region: string;
  /** Namespace of the API. @default "taskfleet" */
  readonly namespace?: string;
  /** Image with the `taskfleet` CLI (the worker image). @default - required */
  readonly image: string;
  /** API replicas, spread over zones. @default 3 */
  readonly replicas?: number;
  /** Container port of `taskfleet api`. @default 8080 */
  readonly port?: number;
  /** CPU per replica. @default "500m" */
  readonly cpu?: string;
  /** Memory per replica, MiB. @default 512 */
  readonly memoryMiB?: number;
  /** AMQP URL with the producers' credentials (secret). @default - required */
  readonly brokerUrl: pulumi.Input<string>;
  /** Result-backend URL (secret). @default - required */
  readonly resultBackendUrl: pulumi.Input<string>;
  /** Shared DNS name of the API in every region. @default - none: no DNS record */
  readonly hostname?: string;
  /** Route 53 hosted zone holding `hostname`. @default - none: required with hostname */
  readonly hostedZoneId?: string;
  /** Queue routing flags of `taskfleet api` (`apiRoutingArgs`). @default [] (the runtime's built-in high_priority/default routes) */
  readonly routingArgs?: readonly string[];
  /** Run the API on the system node pool. @default false */
  readonly selectNodePool?: boolean;
  /** Who reaches the load balancer: `internal` (the VPC) or `public` (needs TLS). @default "internal" */
  readonly exposure?: ApiExposure;
  /** ACM certificate (same region) of the TLS listener on 443. @default - none: HTTP on 80, internal only */
  readonly certificateArn?: string;
  /**
   * The API's clients: a random token is generated per client (secret output `apiTokens`), the
   * Secret holds only their SHA-256 lines. @default - none: then `tokensSecretName` is required
   */
  readonly clients?: readonly ApiClientConfig[];
  /** An existing Secret (key `tokens`) with the tokens file, instead of `clients`. @default - none */
  readonly tokensSecretName?: string;
  /** Container port of `/metrics`. @default 9464 */
  readonly metricsPort?: number;
}

export const INGRESS_DEFAULTS = Object.freeze({
  namespace: "taskfleet",
  replicas: 3,
  port: 8080,
  cpu: "500m",
  memoryMiB: 512,
  exposure: "internal" as ApiExposure,
  metricsPort: 9464,
});

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/**
 * The ingress layer of a region: the task API as a Deployment behind a network load balancer —
 * internal by default, internet-facing only with a TLS listener — its clients' tokens (generated
 * here, only their hashes in a Secret) and a Route 53 latency record under the one name every
 * region shares (with a health check when public), so users reach their nearest healthy region.
 */
export class Ingress extends pulumi.ComponentResource {
  public static readonly TOKEN = "taskfleet:ingress:Ingress";
  /** Hostname of the region's load balancer. */
  public readonly loadBalancerHostname: pulumi.Output<string>;
  /** The shared name (empty when no DNS is configured). */
  public readonly url: pulumi.Output<string>;
  /** Generated tokens by client id (secret; empty with an imported tokens Secret). */
  public readonly apiTokens: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: IngressArgs, opts: pulumi.ComponentResourceOptions = {}) {
    if ((args.hostname === undefined) !== (args.hostedZoneId === undefined)) {
      throw new Error(`hostname and hostedZoneId: set both or neither`);
    }
    const clients = args.clients ?? [];
    if (clients.length > 0 === (args.tokensSecretName !== undefined)) {
      throw new Error(
        "clients and tokensSecretName: set one — clients to generate a token per client, or tokensSecretName to use an existing Secret with the tokens file",
      );
    }
    super(Ingress.TOKEN, name, {}, opts);
    const d = INGRESS_DEFAULTS;
    const namespace = args.namespace ?? d.namespace;
    const secretName = k8sName(name, "api-connection");
    const secret = createConnectionSecret(name, { name: secretName, namespace }, args, {
      parent: this,
    });
    const tokensSecretName = args.tokensSecretName ?? k8sName(name, "api-tokens");
    const tokens: Record<string, pulumi.Output<string>> = {};
    for (const c of clients) {
      const pw = new random.RandomPassword(
        `${name}-token-${c.id}`,
        { length: 43, special: false },
        { parent: this },
      );
      tokens[c.id] = pulumi.secret(pulumi.interpolate`tf_${pw.result}`);
    }
    const lines = pulumi
      .all(
        clients.map((c) => tokens[c.id]!.apply((t) => `${c.id} ${sha256(t)} ${c.tasks.join(",")}`)),
      )
      .apply((l) => `${l.join("\n")}\n`);
    const tokensSecret =
      clients.length > 0
        ? new k8s.core.v1.Secret(
            `${name}-api-tokens`,
            {
              metadata: { name: tokensSecretName, namespace },
              type: "Opaque",
              stringData: { tokens: pulumi.secret(lines) },
            },
            { parent: this },
          )
        : undefined;
    this.apiTokens = pulumi.secret(pulumi.output(tokens));
    const objs = apiObjects({
      instance: name,
      namespace,
      image: args.image,
      region: args.region,
      replicas: args.replicas ?? d.replicas,
      port: args.port ?? d.port,
      cpu: args.cpu ?? d.cpu,
      memoryMiB: args.memoryMiB ?? d.memoryMiB,
      secretName,
      selectNodePool: args.selectNodePool ?? false,
      routingArgs: args.routingArgs ?? [],
      metricsPort: args.metricsPort ?? d.metricsPort,
      tokensSecretName,
      exposure: args.exposure ?? d.exposure,
      ...(args.certificateArn ? { certificateArn: args.certificateArn } : {}),
    });
    // A new or changed client rolls the pods (the mounted file changes too, but nobody sends SIGHUP).
    if (tokensSecret) {
      const template = (objs.deployment.spec as { template: { metadata: Record<string, unknown> } })
        .template;
      template.metadata = {
        ...template.metadata,
        // A hash of the hashes: nothing secret, and a plain value keeps the Deployment readable.
        annotations: { "taskfleet.io/api-tokens-checksum": pulumi.unsecret(lines.apply(sha256)) },
      };
    }
    createObject(name, objs.deployment, {
      parent: this,
      dependsOn: [secret, ...(tokensSecret ? [tokensSecret] : [])],
    });
    createObject(name, objs.podDisruptionBudget, { parent: this });
    const service = createObject(name, objs.service, { parent: this }) as k8s.core.v1.Service;
    this.loadBalancerHostname = service.status.loadBalancer.ingress.apply(
      (i) => i?.[0]?.hostname ?? i?.[0]?.ip ?? "",
    );
    const tls = args.certificateArn !== undefined;
    if (args.hostname !== undefined && args.hostedZoneId !== undefined) {
      // Route 53 health checkers reach only public endpoints: an internal API's record has none.
      const health =
        (args.exposure ?? d.exposure) === "public"
          ? new aws.route53.HealthCheck(
              `${name}-api`,
              {
                type: tls ? "HTTPS" : "HTTP",
                fqdn: this.loadBalancerHostname,
                port: tls ? 443 : 80,
                resourcePath: "/readyz",
                requestInterval: 10,
                failureThreshold: 3,
                tags: { Name: `${name}-api-${args.region}` },
              },
              { parent: this },
            )
          : undefined;
      new aws.route53.Record(
        `${name}-api`,
        {
          zoneId: args.hostedZoneId,
          name: args.hostname,
          type: "CNAME",
          ttl: 60,
          records: [this.loadBalancerHostname],
          setIdentifier: args.region,
          latencyRoutingPolicies: [{ region: args.region }],
          ...(health ? { healthCheckId: health.id } : {}),
        },
        { parent: this },
      );
      this.url = pulumi.output(`${tls ? "https" : "http"}://${args.hostname}`);
    } else {
      this.url = pulumi.output("");
    }
    this.registerOutputs({
      loadBalancerHostname: this.loadBalancerHostname,
      url: this.url,
      apiTokens: this.apiTokens,
    });
  }
}
