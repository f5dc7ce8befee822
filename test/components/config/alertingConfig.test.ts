/** `taskfleet:alerting` and its stack secrets: parsing, exact messages, what the program reads. */
import { describe, expect, it } from "vitest";
import {
  criticalChannels,
  parseAlerting,
  placeholderAlertingSecrets,
  readAlertingSecrets,
} from "../../../components/config/alertingConfig.js";
import { parseRegionConfig } from "../../../components/config/regionConfig.js";

describe("taskfleet:alerting", () => {
  it("parses the channels and routes; no alerting is an empty object", () => {
    expect(
      parseAlerting({
        pagerduty: {},
        slack: { channel: "#tf-alerts" },
        sns: { topicArn: "arn:aws:sns:us-east-1:123456789012:tf" },
        routes: { warning: ["sns"] },
      }),
    ).toEqual({
      pagerduty: true,
      slack: { channel: "#tf-alerts" },
      sns: { topicArn: "arn:aws:sns:us-east-1:123456789012:tf" },
      routes: { warning: ["sns"] },
    });
    expect(parseAlerting(undefined)).toEqual({});
    expect(criticalChannels(parseAlerting({ pagerduty: {}, slack: { channel: "#a" } }))).toEqual([
      "pagerduty",
      "slack",
    ]);
    expect(criticalChannels({})).toEqual([]);
    // The region config carries it; the secrets are not region config (and not unknown keys).
    const cfg = parseRegionConfig({
      region: "eu-west-1",
      alerting: { pagerduty: {} },
      alertingPagerdutyRoutingKey: "k",
    });
    expect(cfg.alerting).toEqual({ pagerduty: true });
    expect(JSON.stringify(cfg)).not.toContain('"k"');
  });

  it.each([
    [
      { email: {} },
      "taskfleet:alerting.email: unknown key; allowed keys are pagerduty, slack, sns, routes",
    ],
    [
      { slack: { channel: "Alerts!" } },
      'taskfleet:alerting.slack.channel: "Alerts!" is not a Slack channel; use a name like "#taskfleet-alerts"',
    ],
    [
      { slack: { channel: "#a", webhookUrl: "https://hooks.slack.com/x" } },
      "taskfleet:alerting.slack.webhookUrl: unknown key; allowed keys are channel",
    ],
    [
      { sns: { topicArn: "arn:aws:sqs:us-east-1:123456789012:q" } },
      'taskfleet:alerting.sns.topicArn: "arn:aws:sqs:us-east-1:123456789012:q" is not an SNS topic ARN; use one like "arn:aws:sns:us-east-1:123456789012:taskfleet-alerts"',
    ],
    [
      { slack: { channel: "#a" }, routes: { critical: ["pagerduty"] } },
      'taskfleet:alerting.routes.critical[0]: "pagerduty" is not a configured channel; configured: slack',
    ],
    [
      { slack: { channel: "#a" }, routes: { page: ["slack"] } },
      "taskfleet:alerting.routes.page: unknown key; allowed keys are critical, warning",
    ],
  ])("rejects %j with the key and what is allowed", (value, message) => {
    expect(() => parseAlerting(value)).toThrow(message);
  });

  it("reads exactly the secrets the channels need, and names the command for a missing one", () => {
    const a = parseAlerting({ pagerduty: {}, slack: { channel: "#a" } });
    const store: Record<string, string> = {
      alertingSlackWebhookUrl: "https://hooks.slack.com/services/x",
      alertingPagerdutyRoutingKey: "r0ut1ng",
    };
    expect(readAlertingSecrets(a, (k) => store[k])).toEqual({
      slackWebhookUrl: "https://hooks.slack.com/services/x",
      pagerdutyRoutingKey: "r0ut1ng",
    });
    expect(
      readAlertingSecrets(
        parseAlerting({ sns: { topicArn: "arn:aws:sns:us-east-1:123456789012:t" } }),
        () => undefined,
      ),
    ).toEqual({});
    expect(() =>
      readAlertingSecrets(a, (k) => (k === "alertingSlackWebhookUrl" ? "u" : undefined)),
    ).toThrow(
      "taskfleet:alertingPagerdutyRoutingKey: missing; taskfleet:alerting.pagerduty (the Events API v2 routing key) needs it. Set it as a secret: pulumi config set --secret taskfleet:alertingPagerdutyRoutingKey <value>",
    );
  });

  it("gives taskfleet plan stand-ins only for the secrets a stack lacks", () => {
    expect(
      placeholderAlertingSecrets({ alerting: { slack: { channel: "#a" }, pagerduty: {} } }),
    ).toEqual({
      "taskfleet:alertingSlackWebhookUrl": "https://hooks.slack.invalid/plan",
      "taskfleet:alertingPagerdutyRoutingKey": "plan-placeholder-routing-key",
    });
    expect(
      placeholderAlertingSecrets({
        alerting: { pagerduty: {} },
        alertingPagerdutyRoutingKey: { secure: "v1:abc" },
      }),
    ).toEqual({});
    expect(placeholderAlertingSecrets({})).toEqual({});
  });
});
