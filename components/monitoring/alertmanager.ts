/**
 * A region's Alertmanager on Kubernetes (seed S37: alerts reach people): clustered replicas with
 * the generated routing and inhibition (alertmanagerManifests.ts), the receivers' keys in a
 * Kubernetes Secret made from Pulumi secrets, never in the configuration.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { createObject } from "../k8s/place.js";
import {
  ALERTMANAGER_DEFAULTS,
  SECRET_KEYS,
  planAlertmanager,
  type AlertingChannels,
} from "./alertmanagerManifests.js";

export type { AlertingChannels };

/** The receivers' secret values (stack secrets). */
export interface AlertingSecrets {
  /** Slack incoming webhook URL (needed with `channels.slack`). */
  readonly slackWebhookUrl?: pulumi.Input<string>;
  /** PagerDuty Events API v2 routing key (needed with `channels.pagerduty`). */
  readonly pagerdutyRoutingKey?: pulumi.Input<string>;
}

/** Arguments of {@link Alertmanager}. */
export interface AlertmanagerArgs {
  /** Namespace (existing). @default - required */
  readonly namespace: string;
  /** Channels and routes from the stack (`taskfleet:alerting`). @default - required */
  readonly channels: AlertingChannels;
  /** Secret values for the channels that need them. @default {} */
  readonly secrets?: AlertingSecrets;
  /** Replicas in the gossip cluster. @default 2 */
  readonly replicas?: number;
  /** @default "quay.io/prometheus/alertmanager:v0.25.0" */
  readonly image?: string;
  /** Node labels the replicas must run on. @default {} */
  readonly nodeSelector?: Record<string, string>;
}

export class Alertmanager extends pulumi.ComponentResource {
  public static readonly TOKEN = "taskfleet:monitoring:Alertmanager";
  /** `host:port` of every replica (Prometheus sends each alert to all of them). */
  public readonly addresses: readonly string[];
  /** The service account the replicas run as (for a workload identity calling SNS). */
  public readonly serviceAccountName: string;

  constructor(name: string, args: AlertmanagerArgs, opts: pulumi.ComponentResourceOptions = {}) {
    const plan = planAlertmanager({
      name,
      namespace: args.namespace,
      channels: args.channels,
      replicas: args.replicas,
      image: args.image,
      nodeSelector: args.nodeSelector,
    });
    const secrets = args.secrets ?? {};
    const values: Record<string, pulumi.Input<string> | undefined> = {
      [SECRET_KEYS.slackWebhookUrl]: secrets.slackWebhookUrl,
      [SECRET_KEYS.pagerdutyRoutingKey]: secrets.pagerdutyRoutingKey,
    };
    const missing = plan.secretKeys.filter((k) => values[k] === undefined);
    if (missing.length > 0) {
      throw new Error(
        `secrets: ${missing.join(", ")} missing; the configured channels need ${plan.secretKeys.join(" and ")}`,
      );
    }
    super(Alertmanager.TOKEN, name, {}, opts);
    const parent = { parent: this };
    const deps: pulumi.Resource[] = [];
    if (plan.secretName) {
      deps.push(
        new k8s.core.v1.Secret(
          `${name}-receivers`,
          {
            metadata: {
              name: plan.secretName,
              namespace: args.namespace,
              labels: plan.configMap.metadata.labels,
            },
            type: "Opaque",
            stringData: Object.fromEntries(
              plan.secretKeys.map((k) => [k, pulumi.secret(values[k]!)]),
            ),
          },
          parent,
        ),
      );
    }
    deps.push(createObject(name, plan.serviceAccount, parent));
    deps.push(createObject(name, plan.configMap, parent));
    createObject(name, plan.headlessService, parent);
    createObject(name, plan.statefulSet, { ...parent, dependsOn: deps });
    createObject(name, plan.podDisruptionBudget, parent);
    this.addresses = plan.addresses;
    this.serviceAccountName = name;
    this.registerOutputs({ addresses: this.addresses });
  }
}

export { ALERTMANAGER_DEFAULTS };
