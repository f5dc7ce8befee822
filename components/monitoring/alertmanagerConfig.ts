/**
 * The Alertmanager configuration for one region (seed S37: alerts reach people): receivers per
 * channel (PagerDuty, Slack, Amazon SNS, or a plain webhook), routing by the rules' `severity`
 * label, and inhibition of child alerts while their cause fires (a broker node down silences the
 * queue and federation alerts of its region). Pure: plain data in, the config as data or text out.
 *
 * Secrets never appear in the config: the Slack webhook URL and the PagerDuty routing key are read
 * by Alertmanager from files (`api_url_file`, `routing_key_file`), which the cloud target mounts
 * from a Kubernetes Secret.
 */
import type { Severity } from "./alertRules.js";

/** A notification channel Alertmanager can send to. */
export type Channel = "pagerduty" | "slack" | "sns" | "webhook";
export const CHANNELS: readonly Channel[] = ["pagerduty", "slack", "sns", "webhook"];

export interface AlertChannels {
  /** PagerDuty Events API v2: the integration's routing key, read from a file. */
  readonly pagerduty?: { readonly routingKeyFile: string };
  /** Slack incoming webhook: its URL read from a file, and the channel to post to. */
  readonly slack?: { readonly webhookUrlFile: string; readonly channel: string };
  /**
   * An Amazon SNS topic (email, SMS, chat through its subscriptions). Requests are signed with
   * SigV4 in the topic's region, with the credentials of the pod's identity.
   */
  readonly sns?: { readonly topicArn: string };
  /** A plain HTTP webhook (Alertmanager's JSON payload): the local target and tests use it. */
  readonly webhook?: { readonly url: string };
}

export interface AlertmanagerConfigInput {
  readonly channels: AlertChannels;
  /**
   * Channels each severity goes to.
   * @default - critical: every configured channel; warning: every configured channel but PagerDuty
   */
  readonly routes?: Partial<Record<Severity, readonly Channel[]>>;
  /** Wait before the first notification of a new group (to batch alerts). @default 30 */
  readonly groupWaitSeconds?: number;
  /** Wait before notifying about new alerts in a group already notified. @default 300 */
  readonly groupIntervalSeconds?: number;
  /** Resend a still-firing critical group after this long. @default 1 */
  readonly criticalRepeatHours?: number;
  /** Resend a still-firing warning group after this long. @default 12 */
  readonly warningRepeatHours?: number;
}

export const ALERTMANAGER_DEFAULTS = Object.freeze({
  groupWaitSeconds: 30,
  groupIntervalSeconds: 300,
  criticalRepeatHours: 1,
  warningRepeatHours: 12,
});

/** Receiver names, one per severity (also what `amtool config routes test` prints). */
export const RECEIVERS: Readonly<Record<Severity, string>> = Object.freeze({
  critical: "taskfleet-critical",
  warning: "taskfleet-warning",
});

/** Labels every notification is grouped by: one group per alert and region. */
export const GROUP_BY: readonly string[] = Object.freeze(["alertname", "region"]);

/** An inhibition rule: while an alert matching `source` fires, alerts matching `target` with the same `equal` labels are muted. */
export interface InhibitRule {
  source_matchers: string[];
  target_matchers: string[];
  equal: string[];
}

/**
 * Child alerts muted while their cause fires, so one page names the cause. Alert names are the
 * generated rules' (alertRules.ts, kubeAlertRules.ts); `region` is every alert's external label.
 */
export const INHIBIT_RULES: readonly InhibitRule[] = Object.freeze([
  {
    // A broker node down: its region's queue and federation alerts (backlogs, links, consumers)
    // follow from it, and so does the count of missing nodes.
    source_matchers: ['alertname=~"RabbitMQNodeDown|RabbitMQNodesMissing"'],
    target_matchers: ['layer="queues"'],
    equal: ["region"],
  },
  {
    source_matchers: ['alertname="RabbitMQNodeDown"'],
    target_matchers: ['alertname="RabbitMQNodesMissing"'],
    equal: ["region"],
  },
  {
    // The alarm itself supersedes the early warning on the same node.
    source_matchers: ['alertname="RabbitMQMemoryAlarm"'],
    target_matchers: ['alertname="RabbitMQMemoryNearWatermark"'],
    equal: ["region", "instance"],
  },
  {
    // No worker at all: the per-pool and per-worker alerts say nothing more.
    source_matchers: ['alertname="WorkersAbsent"'],
    target_matchers: ['alertname=~"WorkerPoolDown|WorkerScrapeMissing|WorkerNotReady"'],
    equal: ["region"],
  },
  {
    // A whole pool down: its workers' own alerts say nothing more.
    source_matchers: ['alertname="WorkerPoolDown"'],
    target_matchers: ['alertname=~"WorkerScrapeMissing|WorkerNotReady"'],
    equal: ["region", "pool"],
  },
  {
    // The result backend unreachable: its memory, latency and eviction alerts cannot be trusted.
    source_matchers: ['alertname="RedisDown"'],
    target_matchers: ['alertname=~"RedisMemoryHigh|RedisLatencyHigh|RedisEvictingKeys"'],
    equal: ["region"],
  },
  {
    // A Kubernetes node not ready: the warnings of what runs on it follow from it.
    source_matchers: ['alertname="KubeNodeNotReady"'],
    target_matchers: ['severity="warning"'],
    equal: ["region", "node"],
  },
]);

export interface AlertmanagerConfig {
  global: { resolve_timeout: string };
  route: {
    receiver: string;
    group_by: string[];
    group_wait: string;
    group_interval: string;
    repeat_interval: string;
    routes: { matchers: string[]; receiver: string; repeat_interval: string }[];
  };
  inhibit_rules: InhibitRule[];
  receivers: Receiver[];
}

export interface Receiver {
  name: string;
  pagerduty_configs?: Record<string, unknown>[];
  slack_configs?: Record<string, unknown>[];
  sns_configs?: Record<string, unknown>[];
  webhook_configs?: Record<string, unknown>[];
}

const TOPIC_ARN = /^arn:aws[a-z-]*:sns:([a-z]{2}(-gov)?-[a-z]+-\d):\d{12}:[A-Za-z0-9_-]{1,256}$/;
const SLACK_CHANNEL = /^[#@]?[a-z0-9][a-z0-9._-]{0,79}$/;

/** The region of an SNS topic ARN (where its API must be called). */
export function snsTopicRegion(topicArn: string): string {
  const m = TOPIC_ARN.exec(topicArn);
  if (!m) throw new Error(`${JSON.stringify(topicArn)} is not an SNS topic ARN`);
  return m[1]!;
}

function absolutePath(field: string, v: unknown): void {
  if (typeof v !== "string" || !v.startsWith("/")) {
    throw new Error(
      `${field}: ${JSON.stringify(v)} is not an absolute path; give the file inside the Alertmanager container`,
    );
  }
}

function wholeNumber(field: string, v: number | undefined, min: number, max: number): void {
  if (v === undefined) return;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new Error(
      `${field}: ${JSON.stringify(v)} is not allowed; use a whole number from ${min} to ${max}`,
    );
  }
}

/** The channels configured in `c`, in a fixed order. */
export function configuredChannels(c: AlertChannels): Channel[] {
  return CHANNELS.filter((ch) => c[ch] !== undefined);
}

/** The default routing: critical to every channel, warning to every channel but PagerDuty. */
export function defaultRoutes(c: AlertChannels): Record<Severity, Channel[]> {
  const all = configuredChannels(c);
  return { critical: all, warning: all.filter((ch) => ch !== "pagerduty") };
}

function validate(input: AlertmanagerConfigInput): void {
  const c = input.channels;
  if (c.pagerduty) absolutePath("channels.pagerduty.routingKeyFile", c.pagerduty.routingKeyFile);
  if (c.slack) {
    absolutePath("channels.slack.webhookUrlFile", c.slack.webhookUrlFile);
    if (typeof c.slack.channel !== "string" || !SLACK_CHANNEL.test(c.slack.channel)) {
      throw new Error(
        `channels.slack.channel: ${JSON.stringify(c.slack.channel)} is not a Slack channel; use a name like "#taskfleet-alerts"`,
      );
    }
  }
  if (c.sns) {
    const m = TOPIC_ARN.exec(String(c.sns.topicArn));
    if (!m) {
      throw new Error(
        `channels.sns.topicArn: ${JSON.stringify(c.sns.topicArn)} is not an SNS topic ARN; use one like "arn:aws:sns:us-east-1:123456789012:taskfleet-alerts"`,
      );
    }
  }
  if (c.webhook) {
    let ok = false;
    try {
      ok = /^https?:$/.test(new URL(c.webhook.url).protocol);
    } catch {
      ok = false;
    }
    if (!ok) {
      throw new Error(
        `channels.webhook.url: ${JSON.stringify(c.webhook.url)} is not an http(s) URL`,
      );
    }
  }
  const configured = configuredChannels(c);
  for (const [severity, list] of Object.entries(input.routes ?? {})) {
    if (!(severity in RECEIVERS)) {
      throw new Error(
        `routes.${severity}: unknown severity; the rules use ${Object.keys(RECEIVERS).join(", ")}`,
      );
    }
    for (const [i, ch] of (list ?? []).entries()) {
      if (!configured.includes(ch)) {
        throw new Error(
          `routes.${severity}[${i}]: ${JSON.stringify(ch)} is not a configured channel; configured: ${configured.join(", ") || "none"}`,
        );
      }
    }
  }
  wholeNumber("groupWaitSeconds", input.groupWaitSeconds, 1, 3600);
  wholeNumber("groupIntervalSeconds", input.groupIntervalSeconds, 1, 86400);
  wholeNumber("criticalRepeatHours", input.criticalRepeatHours, 1, 168);
  wholeNumber("warningRepeatHours", input.warningRepeatHours, 1, 168);
}

// Notification text: one line per alert with the rule's summary and description, and the runbook.
const TITLE =
  '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.region }})';
const TEXT =
  "{{ range .Alerts }}{{ .Annotations.summary }}: {{ .Annotations.description }} (runbook: {{ .Annotations.runbook }})\n{{ end }}";

function receiver(name: string, channels: readonly Channel[], c: AlertChannels): Receiver {
  const r: Receiver = { name };
  for (const ch of channels) {
    switch (ch) {
      case "pagerduty":
        r.pagerduty_configs = [
          {
            routing_key_file: c.pagerduty!.routingKeyFile,
            send_resolved: true,
            description: TITLE,
          },
        ];
        break;
      case "slack":
        r.slack_configs = [
          {
            api_url_file: c.slack!.webhookUrlFile,
            channel: c.slack!.channel,
            send_resolved: true,
            title: TITLE,
            text: TEXT,
          },
        ];
        break;
      case "sns": {
        r.sns_configs = [
          {
            topic_arn: c.sns!.topicArn,
            sigv4: { region: snsTopicRegion(c.sns!.topicArn) },
            send_resolved: true,
            subject: TITLE,
            message: TEXT,
          },
        ];
        break;
      }
      case "webhook":
        r.webhook_configs = [{ url: c.webhook!.url, send_resolved: true }];
        break;
    }
  }
  return r;
}

/** Generates the Alertmanager configuration. Throws a message naming the field on bad input. */
export function generateAlertmanagerConfig(input: AlertmanagerConfigInput): AlertmanagerConfig {
  validate(input);
  const d = ALERTMANAGER_DEFAULTS;
  const routes = { ...defaultRoutes(input.channels), ...(input.routes ?? {}) };
  const repeat = {
    critical: `${input.criticalRepeatHours ?? d.criticalRepeatHours}h`,
    warning: `${input.warningRepeatHours ?? d.warningRepeatHours}h`,
  };
  return {
    global: { resolve_timeout: "5m" },
    route: {
      // An alert without a known severity still reaches someone: the warning receiver.
      receiver: RECEIVERS.warning,
      group_by: [...GROUP_BY],
      group_wait: `${input.groupWaitSeconds ?? d.groupWaitSeconds}s`,
      group_interval: `${input.groupIntervalSeconds ?? d.groupIntervalSeconds}s`,
      repeat_interval: repeat.warning,
      routes: (["critical", "warning"] as const).map((s) => ({
        matchers: [`severity="${s}"`],
        receiver: RECEIVERS[s],
        repeat_interval: repeat[s],
      })),
    },
    inhibit_rules: INHIBIT_RULES.map((r) => ({
      source_matchers: [...r.source_matchers],
      target_matchers: [...r.target_matchers],
      equal: [...r.equal],
    })),
    receivers: (["critical", "warning"] as const).map((s) =>
      receiver(RECEIVERS[s], routes[s] ?? [], input.channels),
    ),
  };
}

/** The configuration as text Alertmanager loads (JSON, which is valid YAML). */
export function renderAlertmanagerConfig(config: AlertmanagerConfig): string {
  return JSON.stringify(config, null, 2) + "\n";
}
