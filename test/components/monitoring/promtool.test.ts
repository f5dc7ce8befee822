/**
 * The generated rules and Prometheus config checked by Prometheus' own tool (Debian's
 * prometheus 2.42 package): `promtool check rules`, `promtool check config`, and for every alert
 * a `promtool test rules` run with series that must fire it and series that must not.
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import {
  alertNames,
  generateAlertRules,
  renderRuleFile,
  RULE_FILE_NAME,
  type AlertRule,
} from "../../../components/monitoring/alertRules.js";
import {
  generatePrometheusConfig,
  renderPrometheusConfig,
} from "../../../components/monitoring/scrapeConfig.js";
import { tempDir } from "../../support/tmp.js";
import { PROMTOOL_CASES as TASK_CASES, type PromtoolCase } from "./promtoolCases.js";
import { PROMTOOL_CLUSTER_CASES } from "./promtoolClusterCases.js";

const PROMTOOL_CASES = { ...TASK_CASES, ...PROMTOOL_CLUSTER_CASES };

const execFileP = promisify(execFile);
const PROMTOOL = "/usr/bin/promtool";

async function promtool(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await execFileP(PROMTOOL, args, { maxBuffer: 8 * 1024 * 1024 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof e.code === "number" ? e.code : -1,
      out: (e.stdout ?? "") + (e.stderr ?? ""),
    };
  }
}

const dir = tempDir("taskfleet-promtool-");
afterAll(() => dir.cleanup());

// Every group: the task system's, one worker pool's, the cluster's and Alertmanager's (2 replicas).
const rules = generateAlertRules({
  expectedBrokerNodes: 3,
  workerPools: ["default"],
  cluster: true,
  alertmanagerReplicas: 2,
});
const rulePath = join(dir.path, RULE_FILE_NAME);
writeFileSync(rulePath, renderRuleFile(rules));
const byName = new Map<string, AlertRule>(
  rules.groups.flatMap((g) => g.rules.map((r) => [r.alert, r])),
);

function testCase(alert: string, c: PromtoolCase): object {
  const rule = byName.get(alert)!;
  return {
    interval: "1m",
    input_series: c.series,
    alert_rule_test: [
      {
        eval_time: c.evalTime,
        alertname: alert,
        exp_alerts: c.alerts.map((a) => ({
          exp_labels: { ...rule.labels, ...a.labels },
          exp_annotations: {
            summary: rule.annotations.summary,
            description: a.description,
            runbook: rule.annotations.runbook,
          },
        })),
      },
    ],
  };
}

describe("promtool", () => {
  it("accepts the generated rule file (check rules)", async () => {
    const r = await promtool(["check", "rules", rulePath]);
    expect(r.out).toContain(`SUCCESS: ${alertNames(rules).length} rules found`);
    expect(r.code).toBe(0);
  });

  it("accepts the generated Prometheus config for the local and the Kubernetes target (check config)", async () => {
    const local = generatePrometheusConfig({
      region: "local",
      rulesDir: dir.path,
      targets: {
        // HTTPS with a CA file and server name, as for RabbitMQ with TLS on.
        rabbitmq: {
          kind: "static",
          targets: ["127.0.0.1:15691"],
          tls: { caFile: join(dir.path, "ca.crt"), serverName: "rabbit.local" },
        },
        workers: { kind: "static", targets: ["127.0.0.1:9808"] },
        api: { kind: "static", targets: ["127.0.0.1:8080"] },
        redis: { kind: "static", targets: ["127.0.0.1:9121"] },
      },
      alertmanagers: ["127.0.0.1:9093"],
    });
    const pods = (component: string, port: number) => ({
      kind: "kubernetesPods" as const,
      namespace: "taskfleet",
      podLabels: {
        "app.kubernetes.io/part-of": "taskfleet",
        "app.kubernetes.io/component": component,
      },
      port,
    });
    const k8s = generatePrometheusConfig({
      region: "us-east-1",
      rulesDir: dir.path,
      targets: {
        rabbitmq: pods("broker", 15692),
        workers: pods("worker", 9808),
        api: pods("api", 8080),
        redis: { kind: "static", targets: ["tf-redis-exporter.taskfleet.svc:9121"] },
        kubeStateMetrics: { kind: "static", targets: ["tf-kube-state-metrics.taskfleet.svc:8080"] },
        nodeExporter: { ...pods("node-exporter", 9100), namespace: "taskfleet-node" },
        alertmanager: {
          kind: "static",
          targets: ["tf-alertmanager-0.tf-alertmanager.taskfleet.svc:9093"],
        },
        kubelet: true,
      },
      alertmanagers: ["tf-alertmanager-0.tf-alertmanager.taskfleet.svc:9093"],
    });
    const localPath = join(dir.path, "local.yml");
    writeFileSync(localPath, renderPrometheusConfig(local));
    const r = await promtool(["check", "config", localPath]);
    expect(r.out).toContain(`SUCCESS: ${localPath} is valid prometheus config file syntax`);
    expect(r.out).toContain(`SUCCESS: ${alertNames(rules).length} rules found`);
    expect(r.code).toBe(0);

    // Debian's prometheus build leaves out Kubernetes service discovery, so its promtool knows
    // every field of the Kubernetes variant except `kubernetes_sd_configs` (one per pod job and
    // the kubelet job) ...
    const k8sPath = join(dir.path, "k8s.yml");
    writeFileSync(k8sPath, renderPrometheusConfig(k8s));
    const k = await promtool(["check", "config", k8sPath]);
    expect(k.code).toBe(1);
    const unknown = k.out.split("\n").filter((l) => /^\s*line \d+:/.test(l));
    expect(unknown).toHaveLength(6);
    for (const l of unknown) {
      expect(l).toMatch(/field kubernetes_sd_configs not found in type config.ScrapeConfig$/);
    }
    // ... and with discovery swapped for file discovery, the rest (relabelling included) passes.
    // (promtool also opens the service account's token file, which exists only in a pod: the
    // swapped variant points at a stand-in file.)
    const token = join(dir.path, "token");
    writeFileSync(token, "stand-in");
    const swapped = {
      ...k8s,
      scrape_configs: k8s.scrape_configs.map(({ kubernetes_sd_configs: sd, ...job }) => ({
        ...job,
        ...(sd ? { file_sd_configs: [{ files: [join(dir.path, "targets.json")] }] } : {}),
        ...(job.authorization ? { authorization: { credentials_file: token } } : {}),
      })),
    };
    const swappedPath = join(dir.path, "k8s-swapped.yml");
    writeFileSync(swappedPath, JSON.stringify(swapped, null, 2));
    const w = await promtool(["check", "config", swappedPath]);
    expect(w.out).toContain(`SUCCESS: ${swappedPath} is valid prometheus config file syntax`);
    expect(w.code).toBe(0);
  });

  it("has a firing and a quiet case for every generated alert, and nothing else", () => {
    expect(Object.keys(PROMTOOL_CASES).sort()).toEqual(alertNames(rules).sort());
    expect(Object.keys(TASK_CASES).filter((a) => a in PROMTOOL_CLUSTER_CASES)).toEqual([]);
    for (const [alert, cases] of Object.entries(PROMTOOL_CASES)) {
      expect(cases.fire.length, alert).toBeGreaterThan(0);
      expect(cases.quiet.length, alert).toBeGreaterThan(0);
      for (const c of cases.fire) expect(c.alerts.length, alert).toBeGreaterThan(0);
      for (const c of cases.quiet) expect(c.alerts, alert).toEqual([]);
    }
  });

  it("accepts a custom dead-letter regex with a backslash, and applies it", async () => {
    const custom = generateAlertRules({
      expectedBrokerNodes: 3,
      unconsumedQueuesRegex: ".*\\.dlq",
    });
    const p = join(dir.path, "custom-regex.yml");
    writeFileSync(p, renderRuleFile(custom));
    const check = await promtool(["check", "rules", p]);
    expect(check.out).toContain("SUCCESS");
    const q = 'job="rabbitmq-queues", instance="r:15692", vhost="/"';
    const tests = {
      rule_files: ["custom-regex.yml"],
      evaluation_interval: "1m",
      tests: [
        {
          interval: "1m",
          input_series: [
            {
              series: `rabbitmq_detailed_queue_messages_ready{${q}, queue="tasks.dlq"}`,
              values: "5x20",
            },
            {
              series: `rabbitmq_detailed_queue_consumers{${q}, queue="tasks.dlq"}`,
              values: "0x20",
            },
            {
              series: `rabbitmq_detailed_queue_messages_ready{${q}, queue="tasksxdlq"}`,
              values: "5x20",
            },
            {
              series: `rabbitmq_detailed_queue_consumers{${q}, queue="tasksxdlq"}`,
              values: "0x20",
            },
          ],
          alert_rule_test: [
            {
              eval_time: "15m",
              alertname: "QueueWithoutConsumers",
              // The dot is literal: tasks.dlq is a dead-letter queue, tasksxdlq is not.
              exp_alerts: [
                {
                  exp_labels: {
                    vhost: "/",
                    queue: "tasksxdlq",
                    severity: "warning",
                    layer: "queues",
                  },
                  exp_annotations: {
                    summary: "Queue has messages but no consumer",
                    description:
                      "Queue tasksxdlq holds 5 ready messages and no worker consumes it.",
                    runbook: "docs/operations.md#queuewithoutconsumers",
                  },
                },
              ],
            },
          ],
        },
      ],
    };
    const tp = join(dir.path, "custom-regex.test.yml");
    writeFileSync(tp, JSON.stringify(tests, null, 2));
    const r = await promtool(["test", "rules", tp]);
    expect(r.code, r.out).toBe(0);
  });

  it("rejects a test whose expectation is wrong (the harness can fail)", async () => {
    const wrong = {
      rule_files: [RULE_FILE_NAME],
      evaluation_interval: "1m",
      tests: [
        testCase("RabbitMQDiskAlarm", {
          ...PROMTOOL_CASES.RabbitMQDiskAlarm!.quiet[0]!,
          alerts: [{ labels: {}, description: "x" }],
        }),
      ],
    };
    const p = join(dir.path, "wrong.test.yml");
    writeFileSync(p, JSON.stringify(wrong, null, 2));
    const r = await promtool(["test", "rules", p]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("FAILED");
  });

  it.each(Object.keys(PROMTOOL_CASES))(
    "test rules: %s fires on its series and stays quiet otherwise",
    async (alert) => {
      const cases = PROMTOOL_CASES[alert]!;
      const file = {
        rule_files: [RULE_FILE_NAME],
        evaluation_interval: "1m",
        tests: [...cases.fire, ...cases.quiet].map((c) => testCase(alert, c)),
      };
      const p = join(dir.path, `${alert}.test.yml`);
      writeFileSync(p, JSON.stringify(file, null, 2));
      const r = await promtool(["test", "rules", p]);
      expect(r.out).toContain("SUCCESS");
      expect(r.code, r.out).toBe(0);
    },
  );
});
