/**
 * Monitoring on the local target, as on the cloud target: per region a Prometheus with the
 * generated scrape config and alert rules, scraping the region's RabbitMQ nodes (node-level and
 * per-queue endpoints), its workers (labelled by pool), its task API, redis_exporter in front of
 * its Redis and the federation exporter in front of its management API; one Alertmanager, with the
 * generated routing and inhibition, receiving from both.
 *
 * Shorter intervals suit a machine you watch: scrape and evaluation every 5 s. The rules' `for`
 * durations stay the shipped ones unless a caller (the tests) sets `alertForSeconds`.
 */
import { join } from "node:path";
import {
  generateAlertmanagerConfig,
  renderAlertmanagerConfig,
} from "../components/monitoring/alertmanagerConfig.js";
import {
  generateAlertRules,
  renderRuleFile,
  RULE_FILE_NAME,
  type RuleFile,
} from "../components/monitoring/alertRules.js";
import {
  generatePrometheusConfig,
  renderPrometheusConfig,
} from "../components/monitoring/scrapeConfig.js";
import type { AlertThresholds } from "../components/monitoring/thresholds.js";
import { AlertmanagerServer } from "./services/alertmanager.js";
import { PrometheusServer, type HttpService } from "./services/prometheus.js";
import { FederationExporter, RedisExporter } from "./services/prometheusExporters.js";
import type { LocalRegion } from "./region.js";
import type { StateDir } from "./stateDir.js";

export interface LocalMonitoringOptions {
  /** Scrape and rule evaluation interval. @default 5 */
  intervalSeconds?: number;
  /**
   * Test/local override: every rule's `for` becomes this many seconds, so an alert fires within a
   * test's time. The shipped rules are unchanged. @default - the rules' own durations
   */
  alertForSeconds?: number;
  /** Threshold overrides, as the cloud target's Monitoring takes them. @default - the defaults */
  thresholds?: Partial<AlertThresholds>;
  /** A webhook the Alertmanager notifies (every severity). @default - none (alerts only in its UI) */
  webhookUrl?: string;
  /** Wait before Alertmanager's first notification of a group. @default 5 */
  groupWaitSeconds?: number;
  /** Wait before Alertmanager notifies a group's changes (new or resolved alerts). @default 30 */
  groupIntervalSeconds?: number;
}

interface RegionMonitoring {
  region: string;
  prometheus: PrometheusServer;
  redisExporter: RedisExporter;
  federationExporter: FederationExporter;
  rules: RuleFile;
}

/** A rule file with every `for` replaced (the test/local override). */
export function withForSeconds(file: RuleFile, seconds: number): RuleFile {
  return {
    groups: file.groups.map((g) => ({
      ...g,
      rules: g.rules.map((r) => ({ ...r, for: `${seconds}s` })),
    })),
  };
}

/** The local target's monitoring: started after the regions are up, stopped before them. */
export class LocalMonitoring {
  /** Every process started so far, stopped by `stop()` even when a start failed halfway. */
  private readonly services: HttpService[] = [];

  private constructor(
    readonly alertmanager: AlertmanagerServer,
    private readonly byRegion: RegionMonitoring[],
  ) {}

  /** Prometheus of a region. */
  prometheus(region: string): PrometheusServer {
    const m = this.byRegion.find((r) => r.region === region);
    if (!m) throw new Error(`no monitoring for region ${JSON.stringify(region)}`);
    return m.prometheus;
  }

  /** The rules a region's Prometheus loaded. */
  rules(region: string): RuleFile {
    return this.byRegion.find((r) => r.region === region)!.rules;
  }

  /** Every URL a person opens: each region's Prometheus, and the Alertmanager. */
  urls(): { prometheus: Record<string, string>; alertmanager: string } {
    return {
      prometheus: Object.fromEntries(this.byRegion.map((r) => [r.region, r.prometheus.url])),
      alertmanager: this.alertmanager.url,
    };
  }

  static async start(
    regions: readonly LocalRegion[],
    state: StateDir,
    o: LocalMonitoringOptions = {},
  ): Promise<LocalMonitoring> {
    const dir = join(state.path, "monitoring");
    const interval = o.intervalSeconds ?? 5;
    const alertmanager = new AlertmanagerServer({
      dir: join(dir, "alertmanager"),
      config: renderAlertmanagerConfig(
        generateAlertmanagerConfig({
          channels: o.webhookUrl ? { webhook: { url: o.webhookUrl } } : {},
          groupWaitSeconds: o.groupWaitSeconds ?? 5,
          groupIntervalSeconds: o.groupIntervalSeconds ?? 30,
        }),
      ),
      detached: true,
    });
    const byRegion: RegionMonitoring[] = [];
    const monitoring = new LocalMonitoring(alertmanager, byRegion);
    const started = async (what: string, service: HttpService): Promise<void> => {
      monitoring.services.push(service);
      await service.start();
      state.record(what, service.pid);
    };
    try {
      await started("alertmanager", alertmanager);
      await Promise.all(
        regions.map(async (r) => {
          const m = await startRegion(
            r,
            join(dir, r.name),
            alertmanager.address,
            interval,
            o,
            started,
          );
          byRegion.push(m);
        }),
      );
      return monitoring;
    } catch (err) {
      await monitoring.stop();
      throw err;
    }
  }

  /** Stops every process it started. Safe to call twice. */
  async stop(): Promise<void> {
    await Promise.allSettled(this.services.map((s) => s.stop()));
  }
}

async function startRegion(
  r: LocalRegion,
  dir: string,
  alertmanager: string,
  interval: number,
  o: LocalMonitoringOptions,
  started: (what: string, service: HttpService) => Promise<void>,
): Promise<RegionMonitoring> {
  const redisExporter = new RedisExporter(r.redisUrl, { dir, detached: true });
  const federationExporter = new FederationExporter(
    {
      url: r.managementUrls()[0]!,
      username: r.spec.users.monitoring,
      password: r.plan.passwords.monitoring,
    },
    { dir, detached: true },
  );
  await Promise.all([
    started(`redis-exporter ${r.name}`, redisExporter),
    started(`federation-exporter ${r.name}`, federationExporter),
  ]);
  const pools = [...new Set(r.workers.map((w) => w.pool.pool.name))];
  const generated = generateAlertRules({
    expectedBrokerNodes: r.nodes.length,
    thresholds: o.thresholds,
    workerPools: pools,
    alertmanagerReplicas: 1,
  });
  const rules =
    o.alertForSeconds === undefined ? generated : withForSeconds(generated, o.alertForSeconds);
  const local = (ports: readonly number[]) => ports.map((p) => `127.0.0.1:${p}`);
  const config = generatePrometheusConfig({
    region: r.name,
    rulesDir: dir,
    scrapeIntervalSeconds: interval,
    evaluationIntervalSeconds: interval,
    alertmanagers: [alertmanager],
    targets: {
      rabbitmq: { kind: "static", targets: local(r.plan.ports.prometheus) },
      workers: {
        kind: "static",
        targets: [],
        groups: r.workers.map((w) => ({
          targets: local([w.healthPort]),
          labels: { pool: w.pool.pool.name },
        })),
      },
      // The task API serves /metrics on its own port (not the task port).
      api: { kind: "static", targets: local([r.plan.ports.apiMetrics]) },
      redis: { kind: "static", targets: [redisExporter.address] },
      federation: { kind: "static", targets: [federationExporter.address] },
      alertmanager: { kind: "static", targets: [alertmanager] },
    },
  });
  const prometheus = new PrometheusServer({
    dir,
    config: renderPrometheusConfig(config),
    ruleFiles: { [RULE_FILE_NAME]: renderRuleFile(rules) },
    detached: true,
  });
  await started(`prometheus ${r.name}`, prometheus);
  return { region: r.name, prometheus, redisExporter, federationExporter, rules };
}
