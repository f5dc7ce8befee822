/**
 * The shape of a generated alerting rule and the small helpers every rule generator shares
 * (selectors, durations, the runbook anchor). Pure.
 */

export type Severity = "critical" | "warning";
export type Layer = "broker" | "queues" | "workers" | "storage" | "cluster" | "alerting";

/** One alerting rule, in Prometheus rule-file shape. */
export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  /** `severity` routes the alert; `pool` names the worker pool of a per-pool rule. */
  labels: { severity: Severity; layer: Layer; pool?: string };
  annotations: { summary: string; description: string; runbook: string };
}

export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

/** A Prometheus rule file. */
export interface RuleFile {
  groups: RuleGroup[];
}

export const sel = (job: string, extra = ""): string =>
  `{job="${job}"${extra ? `, ${extra}` : ""}}`;
export const num = (v: number): string => String(v);
/** A PromQL string literal holding `v` exactly (backslashes and quotes escaped). */
export const promqlString = (v: string): string =>
  `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
export const minutes = (m: number): string => `${m}m`;

/** Anchor of an alert's section in docs/operations.md. */
export function runbookAnchor(alert: string): string {
  return `docs/operations.md#${alert.toLowerCase()}`;
}

export function rule(
  alert: string,
  layer: Layer,
  severity: Severity,
  forDuration: string,
  expr: string,
  summary: string,
  description: string,
  extraLabels: { pool?: string } = {},
): AlertRule {
  return {
    alert,
    expr,
    for: forDuration,
    labels: { severity, layer, ...extraLabels },
    annotations: { summary, description, runbook: runbookAnchor(alert) },
  };
}
