/**
 * Monitoring on the local target, for real: two federated regions (one RabbitMQ node each, Redis,
 * the dev stack's worker pools, the task API), each with a Prometheus running the generated scrape
 * config and rules against real exporters, and one Alertmanager with the generated routing and
 * inhibition, notifying a webhook this test serves.
 *  - Every scrape target is up: the brokers' two endpoints, the workers, the API, redis_exporter
 *    (Debian's, the exporter the cloud target runs) and the federation exporter, and the Redis
 *    names the rules use are served by the real redis_exporter.
 *  - Cutting the federation link from region B to region A (B's federation user loses its
 *    permissions and its connections, as with a revoked credential or a blocked path) fires
 *    `FederationLinkDown` in A's Prometheus (`/api/v1/alerts`); Alertmanager routes it to the
 *    critical receiver (the webhook is called); restoring the link resolves it.
 *  - Stopping a worker pool fires `WorkerPoolDown` for that pool; Alertmanager mutes the pool's
 *    `WorkerScrapeMissing` under it (inhibition).
 * Alerts use 10 s `for` durations through the local override (`alertForSeconds`); the shipped
 * rules are unchanged.
 */
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { referencedMetrics } from "../../components/monitoring/alertRules.js";
import { LocalTarget } from "../../local/target.js";
import { loadStack } from "../../local/stack.js";
import { REPO_ROOT, type LocalRegion } from "../../local/region.js";
import { waitExit } from "../../local/services/index.js";
import { tempDir } from "../support/tmp.js";

const tmp = tempDir("taskfleet-local-monitoring-");
let target: LocalTarget;
let hook: Server;
const notifications: { status: string; alerts: { labels: Record<string, string> }[] }[] = [];

interface PromAlert {
  labels: Record<string, string>;
  state: "pending" | "firing";
}

async function until<T>(
  what: string,
  timeoutMs: number,
  f: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(1000);
  }
}

async function promAlerts(region: LocalRegion): Promise<PromAlert[]> {
  const r = await fetch(`${target.monitoring!.prometheus(region.name).api}/alerts`);
  const body = (await r.json()) as { data: { alerts: PromAlert[] } };
  return body.data.alerts;
}

const firing = (alerts: PromAlert[], name: string): PromAlert[] =>
  alerts.filter((a) => a.labels.alertname === name && a.state === "firing");

beforeAll(async () => {
  hook = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      notifications.push(JSON.parse(body) as (typeof notifications)[number]);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, "127.0.0.1", resolve));
  const port = (hook.address() as { port: number }).port;
  target = await LocalTarget.start({
    stack: loadStack(REPO_ROOT, "dev"),
    stateDir: join(tmp.path, "run"),
    brokerNodes: 1,
    tasksModule: join(REPO_ROOT, "local", "demoTasks.ts"),
    monitoring: {
      alertForSeconds: 10,
      webhookUrl: `http://127.0.0.1:${port}/alerts`,
      groupWaitSeconds: 1,
      groupIntervalSeconds: 5,
    },
  });
}, 240_000);

afterAll(async () => {
  await target?.stop();
  hook?.close();
  tmp.cleanup();
}, 120_000);

describe("monitoring on the local target (real Prometheus, exporters and Alertmanager)", () => {
  it("scrapes every target of both regions, and the real redis_exporter serves the names the rules use", async () => {
    for (const r of target.regions) {
      const prom = target.monitoring!.prometheus(r.name);
      const targets = await until(`every target of ${r.name} to be up`, 60_000, async () => {
        const body = (await (await fetch(`${prom.api}/targets`)).json()) as {
          data: { activeTargets: { labels: Record<string, string>; health: string }[] };
        };
        const t = body.data.activeTargets;
        return t.length > 0 && t.every((x) => x.health === "up") ? t : undefined;
      });
      expect([...new Set(targets.map((t) => t.labels.job))].sort()).toEqual([
        "alertmanager",
        "rabbitmq",
        "rabbitmq-queues",
        "redis",
        "taskfleet-api",
        "taskfleet-federation",
        "taskfleet-workers",
      ]);
      const pools = targets.filter((t) => t.labels.job === "taskfleet-workers");
      expect(pools.map((t) => t.labels.pool).sort()).toEqual(
        r.workers.map((w) => w.pool.pool.name).sort(),
      );
      // Every redis_* and alertmanager_* name a rule uses is a series this Prometheus holds.
      const rules = target.monitoring!.rules(r.name);
      const names = referencedMetrics(rules).filter((m) => /^(redis|alertmanager)_/.test(m));
      expect(names.length).toBeGreaterThanOrEqual(7);
      const missing: string[] = [];
      for (const m of names) {
        const q = await fetch(`${prom.api}/series?match[]=${encodeURIComponent(m)}`);
        const body = (await q.json()) as { data: unknown[] };
        if (body.data.length === 0) missing.push(m);
      }
      expect(missing).toEqual([]);
    }
  }, 90_000);

  it("FederationLinkDown fires when the link is cut and resolves when it returns; WorkerPoolDown fires for a stopped pool", async () => {
    const [a, b] = target.regions as [LocalRegion, LocalRegion];
    // Nothing fires while everything runs.
    const before = await promAlerts(a);
    expect(firing(before, "FederationLinkDown")).toEqual([]);
    expect(firing(before, "WorkerPoolDown")).toEqual([]);

    // Cut A's link from B: B's federation user loses its permissions and its connections.
    const user = b.spec.users.federation;
    const vhost = b.spec.vhost;
    const perms = JSON.parse(
      await b.nodes[0]!.ctl(["list_user_permissions", user, "--formatter", "json"]),
    ) as { vhost: string; configure: string; write: string; read: string }[];
    const p = perms.find((x) => x.vhost === vhost)!;
    expect(p).toBeDefined();
    await b.nodes[0]!.ctl(["clear_permissions", "-p", vhost, user]);
    await b.nodes[0]!.ctl(["close_all_user_connections", user, "link cut by test"]);
    // Stop one worker pool of A.
    const stopped = a.workers[0]!;
    const pool = stopped.pool.pool.name;
    stopped.child.kill("SIGTERM");
    expect(await waitExit(stopped.child, 30_000)).toBe(true);

    const down = await until(
      "FederationLinkDown and WorkerPoolDown to fire in A",
      90_000,
      async () => {
        const alerts = await promAlerts(a);
        const fed = firing(alerts, "FederationLinkDown");
        const pools = firing(alerts, "WorkerPoolDown");
        return fed.length > 0 && pools.length > 0 ? { fed, pools } : undefined;
      },
    );
    expect(new Set(down.fed.map((x) => x.labels.upstream)).size).toBe(1);
    for (const f of down.fed) {
      expect(f.labels).toMatchObject({ severity: "critical", layer: "queues", type: "queue" });
    }
    expect(down.pools.map((x) => x.labels.pool)).toEqual([pool]);
    // B's own links (from A) still run: nothing fires there.
    expect(firing(await promAlerts(b), "FederationLinkDown")).toEqual([]);

    // Alertmanager got them with the region label, routed critical ones to the webhook, and mutes
    // the stopped worker's own alert under its pool's.
    const am = target.monitoring!.alertmanager;
    const scrapeMissing = await until(
      "WorkerScrapeMissing to reach Alertmanager",
      60_000,
      async () => {
        const all = await am.alerts();
        const x = all.find(
          (y) => y.labels.alertname === "WorkerScrapeMissing" && y.labels.region === a.name,
        );
        return x && x.status.inhibitedBy.length > 0 ? x : undefined;
      },
    );
    expect(scrapeMissing.labels.pool).toBe(pool);
    expect(scrapeMissing.status.state).toBe("suppressed");
    const sent = await until("the webhook to be notified of FederationLinkDown", 60_000, async () =>
      notifications.find(
        (n) =>
          n.status === "firing" &&
          n.alerts.some(
            (x) => x.labels.alertname === "FederationLinkDown" && x.labels.region === a.name,
          ),
      ),
    );
    expect(sent.alerts[0]!.labels.severity).toBe("critical");

    // The link returns: the alert resolves in Prometheus and the webhook hears of it.
    await b.nodes[0]!.ctl(["set_permissions", "-p", vhost, user, p.configure, p.write, p.read]);
    await until("FederationLinkDown to resolve in A", 90_000, async () =>
      (await promAlerts(a)).some((x) => x.labels.alertname === "FederationLinkDown")
        ? undefined
        : true,
    );
    await until("the webhook to hear FederationLinkDown resolved", 60_000, async () =>
      notifications.find(
        (n) =>
          n.status === "resolved" &&
          n.alerts.every((x) => x.labels.alertname === "FederationLinkDown"),
      ),
    );
    // The stopped pool still fires.
    expect(firing(await promAlerts(a), "WorkerPoolDown").map((x) => x.labels.pool)).toEqual([pool]);
  }, 300_000);
});
