/**
 * `taskfleet:alerting`: who is told when an alert fires. The stack file names the channels
 * (PagerDuty, a Slack channel, an SNS topic) and which severity goes where; the two secret values
 * (the Slack webhook URL and the PagerDuty routing key) are stack secrets set with
 * `pulumi config set --secret`, never plain config. Pure: no Pulumi import.
 */
import type { Channel } from "../monitoring/alertmanagerConfig.js";
import type { AlertingChannels } from "../monitoring/alertmanagerManifests.js";
import { ConfigError, show } from "./errors.js";
import { object, onlyKeys, string, type Raw } from "./read.js";

export type AlertingConfig = AlertingChannels;

/** Stack secrets the alerting channels read (keys without the `taskfleet:` prefix). */
export const ALERTING_SECRET_KEYS = Object.freeze({
  slackWebhookUrl: "alertingSlackWebhookUrl",
  pagerdutyRoutingKey: "alertingPagerdutyRoutingKey",
});
export const SECRET_CONFIG_KEYS: readonly string[] = Object.values(ALERTING_SECRET_KEYS);

const P = "taskfleet:alerting";
const SEVERITIES = ["critical", "warning"] as const;
const CHANNELS: readonly Channel[] = ["pagerduty", "slack", "sns"];
const TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z]{2}(-gov)?-[a-z]+-\d:\d{12}:[A-Za-z0-9_-]{1,256}$/;
const SLACK_CHANNEL = /^[#@]?[a-z0-9][a-z0-9._-]{0,79}$/;

/**
 * Parses `taskfleet:alerting`. (That a prod stack sends critical alerts somewhere is checked by
 * `taskfleet plan`'s rule `prod-alerts-reach-someone`.)
 */
export function parseAlerting(value: unknown): AlertingConfig {
  const o = object(value, P);
  onlyKeys(o, P, ["pagerduty", "slack", "sns", "routes"]);
  const out: {
    pagerduty?: boolean;
    slack?: { channel: string };
    sns?: { topicArn: string };
    routes?: Partial<Record<"critical" | "warning", Channel[]>>;
  } = {};
  if (o.pagerduty !== undefined && o.pagerduty !== null) {
    onlyKeys(object(o.pagerduty, `${P}.pagerduty`), `${P}.pagerduty`, []);
    out.pagerduty = true;
  }
  if (o.slack !== undefined && o.slack !== null) {
    const s = object(o.slack, `${P}.slack`);
    onlyKeys(s, `${P}.slack`, ["channel"]);
    const channel = string(s.channel, `${P}.slack.channel`);
    if (!SLACK_CHANNEL.test(channel)) {
      throw new ConfigError(
        `${P}.slack.channel: ${show(channel)} is not a Slack channel; use a name like "#taskfleet-alerts"`,
      );
    }
    out.slack = { channel };
  }
  if (o.sns !== undefined && o.sns !== null) {
    const s = object(o.sns, `${P}.sns`);
    onlyKeys(s, `${P}.sns`, ["topicArn"]);
    const topicArn = string(s.topicArn, `${P}.sns.topicArn`);
    if (!TOPIC_ARN.test(topicArn)) {
      throw new ConfigError(
        `${P}.sns.topicArn: ${show(topicArn)} is not an SNS topic ARN; use one like "arn:aws:sns:us-east-1:123456789012:taskfleet-alerts"`,
      );
    }
    out.sns = { topicArn };
  }
  const configured = CHANNELS.filter((c) => out[c as keyof typeof out] !== undefined);
  if (o.routes !== undefined && o.routes !== null) {
    const r = object(o.routes, `${P}.routes`);
    onlyKeys(r, `${P}.routes`, SEVERITIES);
    out.routes = {};
    for (const sev of SEVERITIES) {
      if (r[sev] === undefined) continue;
      if (!Array.isArray(r[sev])) {
        throw new ConfigError(
          `${P}.routes.${sev}: ${show(r[sev])} is not a list; list channels such as [pagerduty, slack]`,
        );
      }
      out.routes[sev] = (r[sev] as unknown[]).map((c, i) => {
        if (!configured.includes(c as Channel)) {
          throw new ConfigError(
            `${P}.routes.${sev}[${i}]: ${show(c)} is not a configured channel; configured: ${configured.join(", ") || "none"}`,
          );
        }
        return c as Channel;
      });
    }
  }
  return out;
}

/** Channels critical alerts go to (the explicit route, else every configured channel). */
export function criticalChannels(a: AlertingConfig): Channel[] {
  const configured = CHANNELS.filter((c) => a[c as keyof AlertingConfig] !== undefined);
  return [...(a.routes?.critical ?? configured)];
}

/**
 * The secret values the configured channels need, read through `get` (the entry program's
 * `config.getSecret`). Throws naming the missing key and the command that sets it.
 */
export function readAlertingSecrets<T>(
  alerting: AlertingConfig,
  get: (key: string) => T | undefined,
): { slackWebhookUrl?: T; pagerdutyRoutingKey?: T } {
  const need = (key: string, why: string): T => {
    const v = get(key);
    if (v === undefined) {
      throw new ConfigError(
        `taskfleet:${key}: missing; ${why} needs it. Set it as a secret: pulumi config set --secret taskfleet:${key} <value>`,
      );
    }
    return v;
  };
  return {
    ...(alerting.slack
      ? {
          slackWebhookUrl: need(
            ALERTING_SECRET_KEYS.slackWebhookUrl,
            `${P}.slack (the incoming webhook URL)`,
          ),
        }
      : {}),
    ...(alerting.pagerduty
      ? {
          pagerdutyRoutingKey: need(
            ALERTING_SECRET_KEYS.pagerdutyRoutingKey,
            `${P}.pagerduty (the Events API v2 routing key)`,
          ),
        }
      : {}),
  };
}

/**
 * Stand-ins for the alerting secrets a stack file lacks, for `taskfleet plan` (which runs the
 * program without the stack's secrets provider). The plan marks them; `pulumi up` still requires
 * the real ones.
 */
export function placeholderAlertingSecrets(values: Raw): Record<string, string> {
  const a = object(values.alerting, P);
  const out: Record<string, string> = {};
  if (a.slack !== undefined && values[ALERTING_SECRET_KEYS.slackWebhookUrl] === undefined) {
    out[`taskfleet:${ALERTING_SECRET_KEYS.slackWebhookUrl}`] = "https://hooks.slack.invalid/plan";
  }
  if (a.pagerduty !== undefined && values[ALERTING_SECRET_KEYS.pagerdutyRoutingKey] === undefined) {
    out[`taskfleet:${ALERTING_SECRET_KEYS.pagerdutyRoutingKey}`] = "plan-placeholder-routing-key";
  }
  return out;
}
