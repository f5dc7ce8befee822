/**
 * The exporters the local target's Prometheus scrapes besides the brokers, workers and APIs:
 * redis_exporter (Debian's `prometheus-redis-exporter`, the same exporter the cloud target runs)
 * in front of a Redis, and taskfleet's federation exporter (the very script the cloud target runs
 * from a ConfigMap) in front of a RabbitMQ management API.
 */
import { join } from "node:path";
import { HttpService } from "./prometheus.js";

export const REDIS_EXPORTER_BIN = "/usr/bin/prometheus-redis-exporter";
export const NODE_EXPORTER_BIN = "/usr/bin/prometheus-node-exporter";
export const FEDERATION_EXPORTER_SCRIPT = join(
  import.meta.dirname,
  "..",
  "..",
  "components",
  "monitoring",
  "exporter",
  "federation-exporter.mjs",
);

export interface ExporterOptions {
  /** Folder for the log (and the working directory); created if missing. */
  dir: string;
  /** @default - a free port */
  port?: number;
  /** @default false */
  detached?: boolean;
}

/** redis_exporter watching one Redis (`redis://host:port`). */
export class RedisExporter extends HttpService {
  constructor(
    private readonly redisUrl: string,
    o: ExporterOptions,
  ) {
    super("redis-exporter", o.dir, { port: o.port, readyPath: "/metrics", detached: o.detached });
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const port = await this.choosePort();
    await this.startProcess(REDIS_EXPORTER_BIN, [
      "-redis.addr",
      this.redisUrl,
      "-web.listen-address",
      `127.0.0.1:${port}`,
    ]);
  }
}

/** taskfleet's federation exporter reading one region's management API. */
export class FederationExporter extends HttpService {
  constructor(
    private readonly management: { url: string; username: string; password: string },
    o: ExporterOptions,
  ) {
    super("federation-exporter", o.dir, {
      port: o.port,
      readyPath: "/healthz",
      detached: o.detached,
    });
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const port = await this.choosePort();
    await this.startProcess(process.execPath, [FEDERATION_EXPORTER_SCRIPT], {
      ...process.env,
      RABBITMQ_MANAGEMENT_URL: this.management.url,
      RABBITMQ_USERNAME: this.management.username,
      RABBITMQ_PASSWORD: this.management.password,
      EXPORTER_PORT: String(port),
      EXPORTER_HOST: "127.0.0.1",
    });
  }
}

/** node-exporter for this machine (the exporter the cloud target runs on every node). */
export class NodeExporter extends HttpService {
  constructor(o: ExporterOptions) {
    super("node-exporter", o.dir, { port: o.port, readyPath: "/metrics", detached: o.detached });
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const port = await this.choosePort();
    await this.startProcess(NODE_EXPORTER_BIN, [`--web.listen-address=127.0.0.1:${port}`]);
  }
}
