/**
 * Prometheus as a process on this machine (Debian's `prometheus` package), on a loopback port with
 * its own data folder, loading a generated config and rule file. The shared piece, `HttpService`,
 * also runs Alertmanager and the exporters (alertmanager.ts, prometheusExporters.ts): a child
 * process with its log in a file, ready once an HTTP path answers 200.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { startLogged, tail, waitExit } from "./process.js";
import { freePort } from "./ports.js";

export const PROMETHEUS_BIN = "/usr/bin/prometheus";

/** A child process serving HTTP on 127.0.0.1:`port`, ready when `readyPath` answers 200. */
export abstract class HttpService {
  port = 0;
  private child: ChildProcess | null = null;

  constructor(
    readonly what: string,
    readonly dir: string,
    private readonly opts: {
      port?: number;
      readyPath: string;
      detached?: boolean;
      startTimeoutMs?: number;
    },
  ) {}

  get logFile(): string {
    return join(this.dir, `${this.what.replace(/[^a-z0-9]+/gi, "-")}.log`);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Starts the process and resolves once it is ready. */
  abstract start(): Promise<void>;

  /** Picks the port (if not given) before `args` are built, so the command line can name it. */
  async choosePort(): Promise<number> {
    this.port = this.port || this.opts.port || (await freePort());
    return this.port;
  }

  /** Starts `cmd args` and waits until `readyPath` answers 200. */
  async startProcess(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<void> {
    if (this.child) throw new Error(`${this.what} is already running on port ${this.port}`);
    mkdirSync(this.dir, { recursive: true });
    const child = startLogged(cmd, args, {
      logFile: this.logFile,
      cwd: this.dir,
      detached: this.opts.detached ?? false,
      ...(env ? { env } : {}),
    });
    this.child = child;
    const timeoutMs = this.opts.startTimeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        this.child = null;
        throw new Error(
          `${this.what} exited during start (code ${child.exitCode}):\n${tail(this.logFile)}`,
        );
      }
      try {
        const r = await fetch(`${this.url}${this.opts.readyPath}`, {
          signal: AbortSignal.timeout(2000),
        });
        if (r.status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(
          `${this.what} was not ready at ${this.url}${this.opts.readyPath} within ${timeoutMs} ms:\n${tail(this.logFile)}`,
        );
      }
      await sleep(200);
    }
  }

  /** SIGTERM, then SIGKILL after 10 s. Safe to call twice. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill("SIGTERM");
    if (!(await waitExit(child, 10_000))) child.kill("SIGKILL");
    await waitExit(child, 5_000);
    this.child = null;
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill("SIGKILL");
    await waitExit(child, 5_000);
    this.child = null;
  }
}

export interface PrometheusServerOptions {
  /** Folder for the config, rules, TSDB and log; created if missing. */
  dir: string;
  /** prometheus.yml (the generator's output); its `rule_files` must point into `dir`. */
  config: string;
  /** Rule files to place in `dir`, by file name. */
  ruleFiles: Readonly<Record<string, string>>;
  /** @default - a free port */
  port?: number;
  /** @default false */
  detached?: boolean;
}

/** One Prometheus server scraping what its generated config names. */
export class PrometheusServer extends HttpService {
  constructor(private readonly o: PrometheusServerOptions) {
    super("prometheus", o.dir, { port: o.port, readyPath: "/-/ready", detached: o.detached });
  }

  /** The HTTP API's base URL (`…/api/v1`). */
  get api(): string {
    return `${this.url}/api/v1`;
  }

  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    for (const [file, text] of Object.entries(this.o.ruleFiles)) {
      writeFileSync(join(this.dir, file), text);
    }
    const configFile = join(this.dir, "prometheus.yml");
    writeFileSync(configFile, this.o.config);
    const port = await this.choosePort();
    await this.startProcess(PROMETHEUS_BIN, [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(this.dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--storage.tsdb.retention.time=1d",
    ]);
  }
}
