/**
 * The Alertmanager configuration generator: exact routing and receivers, secrets only as file
 * paths, validation naming the field; the generated file checked by Alertmanager's own tool
 * (Debian's amtool 0.25: `check-config`, `config routes test`); and every inhibition rule applied
 * by a real Alertmanager 0.25 to alerts posted to its API.
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  generateAlertmanagerConfig,
  INHIBIT_RULES,
  renderAlertmanagerConfig,
  type AlertChannels,
  type AlertmanagerConfigInput,
} from "../../../components/monitoring/alertmanagerConfig.js";
import { AlertmanagerServer } from "../../../local/services/alertmanager.js";
import { freePorts } from "../../../local/services/ports.js";
import { tempDir } from "../../support/tmp.js";

const execFileP = promisify(execFile);
const dir = tempDir("taskfleet-amtool-");
afterAll(() => dir.cleanup());

const ALL: AlertChannels = {
  pagerduty: { routingKeyFile: "/etc/alertmanager/secrets/pagerduty-routing-key" },
  slack: { webhookUrlFile: "/etc/alertmanager/secrets/slack-webhook-url", channel: "#tf-alerts" },
  sns: { topicArn: "arn:aws:sns:eu-west-1:123456789012:taskfleet-alerts" },
};

async function amtool(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await execFileP("/usr/bin/amtool", args);
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof e.code === "number" ? e.code : -1,
      out: (e.stdout ?? "") + (e.stderr ?? ""),
    };
  }
}

function write(name: string, input: AlertmanagerConfigInput): string {
  const p = join(dir.path, name);
  writeFileSync(p, renderAlertmanagerConfig(generateAlertmanagerConfig(input)));
  return p;
}

describe("Alertmanager config generator", () => {
  it("routes critical to every channel and warning to all but PagerDuty, grouped by alert and region", () => {
    const c = generateAlertmanagerConfig({ channels: ALL });
    expect(c.route).toEqual({
      receiver: "taskfleet-warning",
      group_by: ["alertname", "region"],
      group_wait: "30s",
      group_interval: "300s",
      repeat_interval: "12h",
      routes: [
        {
          matchers: ['severity="critical"'],
          receiver: "taskfleet-critical",
          repeat_interval: "1h",
        },
        { matchers: ['severity="warning"'], receiver: "taskfleet-warning", repeat_interval: "12h" },
      ],
    });
    const [critical, warning] = c.receivers;
    expect(Object.keys(critical!).sort()).toEqual(
      ["name", "pagerduty_configs", "slack_configs", "sns_configs"].sort(),
    );
    expect(Object.keys(warning!).sort()).toEqual(["name", "slack_configs", "sns_configs"].sort());
    expect(critical!.pagerduty_configs![0]).toMatchObject({
      routing_key_file: "/etc/alertmanager/secrets/pagerduty-routing-key",
      send_resolved: true,
    });
    expect(critical!.slack_configs![0]).toMatchObject({
      api_url_file: "/etc/alertmanager/secrets/slack-webhook-url",
      channel: "#tf-alerts",
    });
    // SNS is called in the topic's region.
    expect(critical!.sns_configs![0]).toMatchObject({
      topic_arn: "arn:aws:sns:eu-west-1:123456789012:taskfleet-alerts",
      sigv4: { region: "eu-west-1" },
    });
    // No secret value is in the config: keys and URLs are read from files.
    const text = renderAlertmanagerConfig(c);
    expect(text).not.toMatch(/"(api_url|routing_key|service_key)"/);
    expect(c.inhibit_rules).toEqual(INHIBIT_RULES);
  });

  it("takes explicit routes and timings", () => {
    const c = generateAlertmanagerConfig({
      channels: ALL,
      routes: { critical: ["pagerduty"], warning: ["sns"] },
      groupWaitSeconds: 10,
      criticalRepeatHours: 2,
    });
    expect(c.receivers.map((r) => Object.keys(r).sort())).toEqual([
      ["name", "pagerduty_configs"],
      ["name", "sns_configs"],
    ]);
    expect(c.route.group_wait).toBe("10s");
    expect(c.route.routes[0]!.repeat_interval).toBe("2h");
  });

  it.each([
    [
      { channels: { slack: { webhookUrlFile: "secrets/slack", channel: "#a" } } },
      'channels.slack.webhookUrlFile: "secrets/slack" is not an absolute path; give the file inside the Alertmanager container',
    ],
    [
      { channels: { slack: { webhookUrlFile: "/s", channel: "Alerts Channel" } } },
      'channels.slack.channel: "Alerts Channel" is not a Slack channel; use a name like "#taskfleet-alerts"',
    ],
    [
      { channels: { sns: { topicArn: "taskfleet-alerts" } } },
      'channels.sns.topicArn: "taskfleet-alerts" is not an SNS topic ARN; use one like "arn:aws:sns:us-east-1:123456789012:taskfleet-alerts"',
    ],
    [
      { channels: { webhook: { url: "ftp://x" } } },
      'channels.webhook.url: "ftp://x" is not an http(s) URL',
    ],
    [
      { channels: { sns: ALL.sns }, routes: { critical: ["pagerduty" as const] } },
      'routes.critical[0]: "pagerduty" is not a configured channel; configured: sns',
    ],
    [
      { channels: {}, groupWaitSeconds: 0 },
      "groupWaitSeconds: 0 is not allowed; use a whole number from 1 to 3600",
    ],
  ])("rejects bad input (%#) with the field and what is allowed", (input, message) => {
    expect(() => generateAlertmanagerConfig(input as AlertmanagerConfigInput)).toThrow(message);
  });
});

describe("amtool 0.25 on the generated config", () => {
  it.each<[string, AlertChannels]>([
    ["every channel", ALL],
    ["no channel (alerts only in Alertmanager's UI)", {}],
    ["PagerDuty only", { pagerduty: ALL.pagerduty }],
    ["Slack only", { slack: ALL.slack }],
    ["SNS only", { sns: ALL.sns }],
    ["a webhook", { webhook: { url: "http://127.0.0.1:9/hook" } }],
  ])("check-config accepts it: %s", async (name, channels) => {
    const p = write(`${name.replace(/\W+/g, "-")}.yml`, { channels });
    const r = await amtool(["check-config", p]);
    expect(r.out).toContain("SUCCESS");
    expect(r.out).toContain(` - ${INHIBIT_RULES.length} inhibit rules`);
    expect(r.out).toContain(" - 2 receivers");
    expect(r.code, r.out).toBe(0);
  });

  it("check-config rejects a broken config (the harness can fail)", async () => {
    const c = generateAlertmanagerConfig({ channels: ALL });
    c.route.routes[0]!.receiver = "nobody";
    const p = join(dir.path, "broken.yml");
    writeFileSync(p, renderAlertmanagerConfig(c));
    const r = await amtool(["check-config", p]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('undefined receiver "nobody"');
  });

  it("config routes test: severity picks the receiver; an alert without one still reaches warning", async () => {
    const p = write("routes.yml", { channels: ALL });
    const route = async (...labels: string[]): Promise<string> =>
      (await amtool(["config", "routes", "test", `--config.file=${p}`, ...labels])).out
        .split("\n")
        .filter((l) => l && !l.startsWith("Warning"))
        .join(",");
    expect(
      await route("alertname=FederationLinkDown", "severity=critical", "region=eu-west-1"),
    ).toBe("taskfleet-critical");
    expect(await route("alertname=QueueBacklogHigh", "severity=warning", "region=eu-west-1")).toBe(
      "taskfleet-warning",
    );
    expect(await route("alertname=Custom", "region=eu-west-1")).toBe("taskfleet-warning");
    const verify = await amtool([
      "config",
      "routes",
      "test",
      `--config.file=${p}`,
      "--verify.receivers=taskfleet-critical",
      "severity=warning",
    ]);
    expect(verify.code).toBe(1);
  });
});

describe("inhibition on a real Alertmanager 0.25", () => {
  const am = new AlertmanagerServer({
    dir: join(dir.path, "am"),
    config: renderAlertmanagerConfig(generateAlertmanagerConfig({ channels: {} })),
  });
  beforeAll(() => am.start(), 60_000);
  afterAll(() => am.stop());

  it("mutes each rule's targets while its source fires, in the same region only", async () => {
    const a = (alertname: string, labels: Record<string, string> = {}) => ({
      labels: { alertname, region: "eu-west-1", severity: "warning", ...labels },
      annotations: {},
    });
    const posted = [
      a("RabbitMQNodeDown", { severity: "critical", layer: "broker", instance: "r-0:15692" }),
      a("RabbitMQNodesMissing", { severity: "critical", layer: "broker" }),
      a("QueueBacklogHigh", { layer: "queues", queue: "default" }),
      a("FederationLinkDown", { severity: "critical", layer: "queues", upstream: "us-east-1" }),
      // Another region's queue alert is not muted by this region's broker.
      a("QueueBacklogHigh", { layer: "queues", queue: "default", region: "us-east-1" }),
      a("RabbitMQMemoryAlarm", { severity: "critical", layer: "broker", instance: "r-1:15692" }),
      a("RabbitMQMemoryNearWatermark", { layer: "broker", instance: "r-1:15692" }),
      a("RabbitMQMemoryNearWatermark", { layer: "broker", instance: "r-2:15692" }),
      a("WorkerPoolDown", { severity: "critical", layer: "workers", pool: "default" }),
      a("WorkerScrapeMissing", { severity: "critical", layer: "workers", pool: "default" }),
      a("WorkerScrapeMissing", { severity: "critical", layer: "workers", pool: "high_priority" }),
      a("RedisDown", { severity: "critical", layer: "storage" }),
      a("RedisLatencyHigh", { layer: "storage" }),
      a("KubeNodeNotReady", { layer: "cluster", node: "n-1" }),
      a("NodeExporterDown", { layer: "cluster", node: "n-1" }),
      a("NodeExporterDown", { layer: "cluster", node: "n-2" }),
      a("TaskApiDown", { severity: "critical", layer: "workers", node: "n-1" }),
    ];
    const r = await fetch(`${am.url}/api/v2/alerts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(posted),
    });
    expect(r.status).toBe(200);
    const key = (l: Record<string, string>): string =>
      [l.alertname, l.region, l.queue ?? l.instance ?? l.pool ?? l.node ?? ""].join("/");
    let muted: string[] = [];
    for (let i = 0; i < 50; i++) {
      const alerts = await am.alerts();
      if (alerts.length === posted.length) {
        muted = alerts.filter((x) => x.status.inhibitedBy.length > 0).map((x) => key(x.labels));
        if (muted.length >= 7) break;
      }
      await new Promise((res) => setTimeout(res, 200));
    }
    expect(muted.sort()).toEqual(
      [
        "RabbitMQNodesMissing/eu-west-1/",
        "QueueBacklogHigh/eu-west-1/default",
        "FederationLinkDown/eu-west-1/",
        "RabbitMQMemoryNearWatermark/eu-west-1/r-1:15692",
        "WorkerScrapeMissing/eu-west-1/default",
        "RedisLatencyHigh/eu-west-1/",
        "NodeExporterDown/eu-west-1/n-1",
      ].sort(),
    );
  });
});

describe("two Alertmanager 0.25 replicas in a gossip cluster (as the cloud target runs them)", () => {
  it("a silence set on one replica reaches the other", async () => {
    const [g0, g1] = await freePorts(2);
    const config = renderAlertmanagerConfig(generateAlertmanagerConfig({ channels: {} }));
    const peers = [`127.0.0.1:${g0}`, `127.0.0.1:${g1}`];
    const replicas = [g0!, g1!].map(
      (port, i) =>
        new AlertmanagerServer({
          dir: join(dir.path, `replica-${i}`),
          config,
          cluster: { port, peers },
        }),
    );
    try {
      await Promise.all(replicas.map((r) => r.start()));
      const members = async (r: AlertmanagerServer): Promise<number> => {
        const s = (await (await fetch(`${r.url}/api/v2/status`)).json()) as {
          cluster: { peers: unknown[] };
        };
        return s.cluster.peers.length;
      };
      const now = Date.now();
      const res = await fetch(`${replicas[0]!.url}/api/v2/silences`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          matchers: [{ name: "alertname", value: "QueueBacklogHigh", isRegex: false }],
          startsAt: new Date(now).toISOString(),
          endsAt: new Date(now + 3_600_000).toISOString(),
          createdBy: "test",
          comment: "gossip",
        }),
      });
      expect(res.status).toBe(200);
      const { silenceID } = (await res.json()) as { silenceID: string };
      let seen: { id: string }[] = [];
      for (let i = 0; i < 100 && !seen.some((x) => x.id === silenceID); i++) {
        await new Promise((r) => setTimeout(r, 200));
        seen = (await (await fetch(`${replicas[1]!.url}/api/v2/silences`)).json()) as {
          id: string;
        }[];
      }
      expect(seen.map((x) => x.id)).toContain(silenceID);
      expect(await members(replicas[1]!)).toBe(2);
    } finally {
      await Promise.all(replicas.map((r) => r.stop()));
    }
  }, 60_000);
});
