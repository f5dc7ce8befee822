import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { k8sName } from "../k8s/objects.js";
import { createConnectionSecret, createObject } from "../k8s/place.js";
import { apiObjects } from "./apiManifests.js";

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
}

export const INGRESS_DEFAULTS = Object.freeze({
  namespace: "taskfleet",
  replicas: 3,
  port: 8080,
  cpu: "500m",
  memoryMiB: 512,
});

/**
 * The ingress layer of a region: the task API as a Deployment behind an internet-facing network
 * load balancer, and a Route 53 latency record (with a health check) under the one name every
 * region shares, so users reach their nearest healthy region.
 */
export class Ingress extends pulumi.ComponentResource {
  public static readonly TOKEN = "taskfleet:ingress:Ingress";
  /** Hostname of the region's load balancer. */
  public readonly loadBalancerHostname: pulumi.Output<string>;
  /** The shared name (empty when no DNS is configured). */
  public readonly url: pulumi.Output<string>;

  constructor(name: string, args: IngressArgs, opts: pulumi.ComponentResourceOptions = {}) {
    if ((args.hostname === undefined) !== (args.hostedZoneId === undefined)) {
      throw new Error(`hostname and hostedZoneId: set both or neither`);
    }
    super(Ingress.TOKEN, name, {}, opts);
    const d = INGRESS_DEFAULTS;
    const namespace = args.namespace ?? d.namespace;
    const secretName = k8sName(name, "api-connection");
    const secret = createConnectionSecret(name, { name: secretName, namespace }, args, {
      parent: this,
    });
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
    });
    createObject(name, objs.deployment, { parent: this, dependsOn: [secret] });
    createObject(name, objs.podDisruptionBudget, { parent: this });
    const service = createObject(name, objs.service, { parent: this }) as k8s.core.v1.Service;
    this.loadBalancerHostname = service.status.loadBalancer.ingress.apply(
      (i) => i?.[0]?.hostname ?? i?.[0]?.ip ?? "",
    );
    if (args.hostname !== undefined && args.hostedZoneId !== undefined) {
      const health = new aws.route53.HealthCheck(
        `${name}-api`,
        {
          type: "HTTP",
          fqdn: this.loadBalancerHostname,
          port: 80,
          resourcePath: "/readyz",
          requestInterval: 10,
          failureThreshold: 3,
          tags: { Name: `${name}-api-${args.region}` },
        },
        { parent: this },
      );
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
          healthCheckId: health.id,
        },
        { parent: this },
      );
      this.url = pulumi.output(`http://${args.hostname}`);
    } else {
      this.url = pulumi.output("");
    }
    this.registerOutputs({ loadBalancerHostname: this.loadBalancerHostname, url: this.url });
  }
}
