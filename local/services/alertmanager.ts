/**
 * Alertmanager as a process on this machine (Debian's `prometheus-alertmanager` package), one
 * replica on a loopback port (clustering off), loading a generated configuration.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HttpService } from "./prometheus.js";

export const ALERTMANAGER_BIN = "/usr/bin/prometheus-alertmanager";

export interface AlertmanagerServerOptions {
  /** Folder for the config, state and log; created if missing. */
  dir: string;
  /** alertmanager.yml (the generator's output). */
  config: string;
  /** @default - a free port */
  port?: number;
  /** @default false */
  detached?: boolean;
  /**
   * Gossip with other replicas: this one's cluster port and its peers (`127.0.0.1:<port>`).
   * @default - one replica, no gossip port
   */
  cluster?: { port: number; peers: readonly string[] };
}

/** An alert as Alertmanager's API v2 returns it (`GET /api/v2/alerts`). */
export interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  status: { state: "active" | "suppressed" | "unprocessed"; inhibitedBy: string[] };
  receivers: { name: string }[];
}

export class AlertmanagerServer extends HttpService {
  constructor(private readonly o: AlertmanagerServerOptions) {
    super("alertmanager", o.dir, { port: o.port, readyPath: "/-/ready", detached: o.detached });
  }

  /** `host:port`, as Prometheus' `alerting` block names it. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    const configFile = join(this.dir, "alertmanager.yml");
    writeFileSync(configFile, this.o.config);
    const port = await this.choosePort();
    await this.startProcess(ALERTMANAGER_BIN, [
      `--config.file=${configFile}`,
      `--storage.path=${join(this.dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      ...(this.o.cluster
        ? [
            `--cluster.listen-address=127.0.0.1:${this.o.cluster.port}`,
            ...this.o.cluster.peers.map((p) => `--cluster.peer=${p}`),
            "--cluster.settle-timeout=5s",
          ]
        : // One replica: no gossip port.
          ["--cluster.listen-address="]),
    ]);
  }

  /** Every alert Alertmanager holds, active and suppressed (inhibited or silenced). */
  async alerts(): Promise<AlertmanagerAlert[]> {
    const r = await fetch(`${this.url}/api/v2/alerts`);
    if (!r.ok) throw new Error(`GET /api/v2/alerts: ${r.status} ${await r.text()}`);
    return (await r.json()) as AlertmanagerAlert[];
  }
}
