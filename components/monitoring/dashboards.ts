/**
 * Grafana dashboards (JSON models) for one region: queues, workers, the Redis result backend and
 * federation (seed S34–S36, S38). Pure: every panel's query uses the same metric and job names as
 * the alert rules.
 */
import {
  FEDERATION_METRICS as F,
  FEDERATION_QUEUE_REGEX,
  JOBS,
  RABBITMQ_METRICS as R,
  REDIS_METRICS as D,
  WORKER_METRICS as W,
} from "./metrics.js";

export interface PanelTarget {
  refId: string;
  expr: string;
  legendFormat: string;
  datasource: { type: "prometheus"; uid: string };
}

export interface Panel {
  id: number;
  type: "timeseries" | "stat";
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource: { type: "prometheus"; uid: string };
  fieldConfig: { defaults: { unit: string }; overrides: [] };
  options: Record<string, unknown>;
  targets: PanelTarget[];
}

export interface Dashboard {
  uid: string;
  title: string;
  tags: string[];
  timezone: "utc";
  schemaVersion: number;
  version: number;
  editable: boolean;
  refresh: string;
  time: { from: string; to: string };
  templating: { list: Record<string, unknown>[] };
  panels: Panel[];
}

/** Uid of the provisioned Prometheus data source the dashboards query. */
export const DATASOURCE_UID = "taskfleet-prometheus";
const DS = { type: "prometheus" as const, uid: DATASOURCE_UID };

interface PanelSpec {
  title: string;
  unit: string;
  type?: "timeseries" | "stat";
  queries: readonly (readonly [expr: string, legend: string])[];
}

function dashboard(uid: string, title: string, specs: readonly PanelSpec[]): Dashboard {
  const panels = specs.map((s, i): Panel => {
    const type = s.type ?? "timeseries";
    return {
      id: i + 1,
      type,
      title: s.title,
      // Two panels per row, 12 columns wide, 8 rows high.
      gridPos: { x: (i % 2) * 12, y: Math.floor(i / 2) * 8, w: 12, h: 8 },
      datasource: DS,
      fieldConfig: { defaults: { unit: s.unit }, overrides: [] },
      options:
        type === "stat"
          ? { reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false } }
          : { legend: { displayMode: "list", placement: "bottom" }, tooltip: { mode: "multi" } },
      targets: s.queries.map(([expr, legendFormat], j) => ({
        refId: String.fromCharCode(65 + j),
        expr,
        legendFormat,
        datasource: DS,
      })),
    };
  });
  return {
    uid,
    title,
    tags: ["taskfleet"],
    timezone: "utc",
    schemaVersion: 37,
    version: 1,
    editable: false,
    refresh: "30s",
    time: { from: "now-6h", to: "now" },
    templating: { list: [] },
    panels,
  };
}

const q = (extra = ""): string => `{job="${JOBS.rabbitmqQueues}"${extra ? `, ${extra}` : ""}}`;
const rmq = `{job="${JOBS.rabbitmq}"}`;
const wk = `{job="${JOBS.workers}"}`;
const rd = `{job="${JOBS.redis}"}`;
const notFed = `queue!~"${FEDERATION_QUEUE_REGEX}"`;
const fed = `queue=~"${FEDERATION_QUEUE_REGEX}"`;

/** The four dashboards, keyed by the file name they are provisioned under. */
export function generateDashboards(): Record<string, Dashboard> {
  return {
    "taskfleet-queues.json": dashboard("taskfleet-queues", "taskfleet / Queues", [
      {
        title: "Ready messages per queue",
        unit: "short",
        queries: [[`max by (queue) (${R.queueReady}${q(notFed)})`, "{{queue}}"]],
      },
      {
        title: "Unacknowledged messages per queue",
        unit: "short",
        queries: [[`max by (queue) (${R.queueUnacked}${q(notFed)})`, "{{queue}}"]],
      },
      {
        title: "Backlog change over 10 minutes",
        unit: "short",
        queries: [[`max by (queue) (delta(${R.queueReady}${q(notFed)}[10m]))`, "{{queue}}"]],
      },
      {
        title: "Consumers per queue",
        unit: "short",
        queries: [[`max by (queue) (${R.queueConsumers}${q(notFed)})`, "{{queue}}"]],
      },
      {
        title: "Publish and confirm rate",
        unit: "ops",
        queries: [
          [`sum(rate(${R.receivedConfirm}${rmq}[5m]))`, "published (confirm mode)"],
          [`sum(rate(${R.confirmed}${rmq}[5m]))`, "confirmed"],
          [
            `sum(rate(${R.unroutableDropped}${rmq}[5m]) + rate(${R.unroutableReturned}${rmq}[5m]))`,
            "unroutable",
          ],
        ],
      },
      {
        title: "Broker nodes up",
        unit: "short",
        type: "stat",
        queries: [[`count(${R.identityInfo}${rmq})`, "nodes"]],
      },
      {
        title: "Broker memory / limit",
        unit: "percentunit",
        queries: [
          [`${R.residentMemoryBytes}${rmq} / ${R.residentMemoryLimitBytes}${rmq}`, "{{instance}}"],
        ],
      },
      {
        title: "Memory and disk alarms",
        unit: "short",
        queries: [
          [`${R.memoryAlarm}${rmq}`, "memory {{instance}}"],
          [`${R.diskAlarm}${rmq}`, "disk {{instance}}"],
        ],
      },
      {
        title: "File descriptors used / limit",
        unit: "percentunit",
        queries: [[`${R.openFds}${rmq} / ${R.maxFds}${rmq}`, "{{instance}}"]],
      },
    ]),
    "taskfleet-workers.json": dashboard("taskfleet-workers", "taskfleet / Workers", [
      {
        title: "Tasks received, succeeded, failed, retried",
        unit: "ops",
        queries: [
          [`sum(rate(${W.received}${wk}[5m]))`, "received"],
          [`sum(rate(${W.succeeded}${wk}[5m]))`, "succeeded"],
          [`sum(rate(${W.failed}${wk}[5m]))`, "failed"],
          [`sum(rate(${W.retried}${wk}[5m]))`, "retried"],
        ],
      },
      {
        title: "Task runtime p50 / p95 per queue",
        unit: "s",
        queries: [
          [
            `histogram_quantile(0.5, sum by (queue, le) (rate(${W.runtimeSeconds}_bucket${wk}[5m])))`,
            "p50 {{queue}}",
          ],
          [
            `histogram_quantile(0.95, sum by (queue, le) (rate(${W.runtimeSeconds}_bucket${wk}[5m])))`,
            "p95 {{queue}}",
          ],
        ],
      },
      {
        title: "In flight / concurrency",
        unit: "percentunit",
        queries: [[`sum(${W.inFlight}${wk}) / sum(${W.concurrency}${wk})`, "busy"]],
      },
      {
        title: "Workers ready",
        unit: "short",
        type: "stat",
        queries: [
          [`sum(${W.ready}${wk})`, "ready"],
          [`count(up${wk} == 1)`, "answering"],
        ],
      },
      {
        title: "Prefetch per worker",
        unit: "short",
        queries: [[`${W.prefetch}${wk}`, "{{instance}}"]],
      },
      {
        title: "Failure ratio per queue",
        unit: "percentunit",
        queries: [
          [
            `sum by (queue) (rate(${W.failed}${wk}[5m])) / sum by (queue) (rate(${W.received}${wk}[5m]))`,
            "{{queue}}",
          ],
        ],
      },
    ]),
    "taskfleet-redis.json": dashboard("taskfleet-redis", "taskfleet / Result backend (Redis)", [
      {
        title: "Memory used / maxmemory",
        unit: "percentunit",
        queries: [[`${D.memoryUsedBytes}${rd} / ${D.memoryMaxBytes}${rd}`, "{{instance}}"]],
      },
      {
        title: "Memory used",
        unit: "bytes",
        queries: [[`${D.memoryUsedBytes}${rd}`, "{{instance}}"]],
      },
      {
        title: "Mean command time",
        unit: "s",
        queries: [
          [
            `sum by (instance) (rate(${D.commandsDurationSecondsTotal}${rd}[5m])) / sum by (instance) (rate(${D.commandsTotal}${rd}[5m]))`,
            "{{instance}}",
          ],
        ],
      },
      {
        title: "Commands per second",
        unit: "ops",
        queries: [[`sum by (cmd) (rate(${D.commandsTotal}${rd}[5m]))`, "{{cmd}}"]],
      },
      {
        title: "Evicted keys per second",
        unit: "ops",
        queries: [[`rate(${D.evictedKeysTotal}${rd}[5m])`, "{{instance}}"]],
      },
      {
        title: "Redis up",
        unit: "short",
        type: "stat",
        queries: [[`${D.up}${rd}`, "{{instance}}"]],
      },
    ]),
    "taskfleet-federation.json": dashboard("taskfleet-federation", "taskfleet / Federation", [
      {
        title: "This region's links running (1) or not (0)",
        unit: "short",
        queries: [[`${F.linkUp}{job="${JOBS.federation}"}`, "{{upstream}} {{type}} {{name}}"]],
      },
      {
        title: "Links connected (consumers on upstream queues)",
        unit: "short",
        queries: [[`max by (queue) (${R.queueConsumers}${q(fed)})`, "{{queue}}"]],
      },
      {
        title: "Messages buffered for other regions",
        unit: "short",
        queries: [[`max by (queue) (${R.queueReady}${q(fed)})`, "{{queue}}"]],
      },
      {
        title: "Messages in transit (unacked by the link)",
        unit: "short",
        queries: [[`max by (queue) (${R.queueUnacked}${q(fed)})`, "{{queue}}"]],
      },
      {
        title: "Buffer change over 10 minutes",
        unit: "short",
        queries: [[`max by (queue) (delta(${R.queueReady}${q(fed)}[10m]))`, "{{queue}}"]],
      },
    ]),
  };
}

/** Every PromQL expression in a set of dashboards. */
export function dashboardExpressions(dashboards: Record<string, Dashboard>): string[] {
  return Object.values(dashboards).flatMap((d) =>
    d.panels.flatMap((p) => p.targets.map((t) => t.expr)),
  );
}

/** Grafana provisioning file for the Prometheus data source. */
export function grafanaDatasource(prometheusUrl: string): string {
  return (
    JSON.stringify(
      {
        apiVersion: 1,
        datasources: [
          {
            name: "Prometheus",
            uid: DATASOURCE_UID,
            type: "prometheus",
            access: "proxy",
            url: prometheusUrl,
            isDefault: true,
            editable: false,
          },
        ],
      },
      null,
      2,
    ) + "\n"
  );
}

/** Grafana provisioning file that loads every dashboard JSON from `folder`. */
export function grafanaDashboardProvider(folder: string): string {
  return (
    JSON.stringify(
      {
        apiVersion: 1,
        providers: [
          {
            name: "taskfleet",
            folder: "taskfleet",
            type: "file",
            disableDeletion: true,
            allowUiUpdates: false,
            options: { path: folder },
          },
        ],
      },
      null,
      2,
    ) + "\n"
  );
}
