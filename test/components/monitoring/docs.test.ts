/** docs/operations.md documents every generated alert and every metric of the contract. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  alertNames,
  generateAlertRules,
  runbookAnchor,
} from "../../../components/monitoring/alertRules.js";
import { WORKER_METRICS } from "../../../components/monitoring/metrics.js";
import { DEFAULT_ALERT_THRESHOLDS } from "../../../components/monitoring/thresholds.js";

const doc = readFileSync(join(import.meta.dirname, "../../../docs/operations.md"), "utf8");

describe("docs/operations.md", () => {
  // Every group the generator has: the task system's, a pool's, the cluster's, Alertmanager's.
  const file = generateAlertRules({
    expectedBrokerNodes: 5,
    workerPools: ["default"],
    cluster: true,
    alertmanagerReplicas: 2,
  });
  const alerts = alertNames(file);
  const severity = new Map(
    file.groups.flatMap((g) => g.rules.map((r) => [r.alert, r.labels.severity])),
  );

  it("has a runbook section (the rules' runbook anchor) and a table row for every alert", () => {
    for (const a of alerts) {
      expect(doc, a).toContain(`\n### ${a}\n`);
      expect(runbookAnchor(a)).toBe(`docs/operations.md#${a.toLowerCase()}`);
      expect(doc, a).toMatch(new RegExp(`^\\| ${a} \\| ${severity.get(a)} \\|`, "m"));
    }
    expect(doc.match(/^### /gm)).toHaveLength(alerts.length);
  });

  it("names every threshold field and every worker metric of the contract", () => {
    for (const field of Object.keys(DEFAULT_ALERT_THRESHOLDS))
      expect(doc, field).toContain(`\`${field}\``);
    for (const m of Object.values(WORKER_METRICS)) expect(doc, m).toContain(`| \`${m}\` |`);
  });
});
