/**
 * One RabbitMQ node as a process on this machine, from Debian's rabbitmq-server package: its own
 * node name, ports, data folder and Erlang cookie, so several run side by side and none touches a
 * system RabbitMQ. Used by the test suites and by the local target.
 */
import { execFile, spawnSync } from "node:child_process";
import {
  mkdirSync,
  writeFileSync,
  readFileSync,
  readdirSync,
  existsSync,
  chmodSync,
} from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import type { ChildProcess } from "node:child_process";
import { startLogged, tail, waitForPort, waitExit } from "./process.js";
import { freePorts, portIsFree } from "./ports.js";

const execFileP = promisify(execFile);

export const RABBITMQ_SBIN = "/usr/lib/rabbitmq/bin";

/**
 * The series of the installed RabbitMQ (Debian 12: 3.10), from its release folder
 * `/usr/lib/rabbitmq/lib/rabbitmq_server-<version>`; the broker generator writes for it.
 */
export function installedRabbitmqVersion(libDir = "/usr/lib/rabbitmq/lib"): {
  major: number;
  minor: number;
} {
  const dirs = existsSync(libDir) ? readdirSync(libDir) : [];
  for (const d of dirs) {
    const m = /^rabbitmq_server-(\d+)\.(\d+)/.exec(d);
    if (m) return { major: Number(m[1]), minor: Number(m[2]) };
  }
  throw new Error(
    `no RabbitMQ release in ${libDir} (found ${JSON.stringify(dirs)}); install Debian's rabbitmq-server (npm run setup does)`,
  );
}

/** Plugins a taskfleet node runs (seed S8, S14, S34). */
export const DEFAULT_PLUGINS: readonly string[] = Object.freeze([
  "rabbitmq_management",
  "rabbitmq_prometheus",
  "rabbitmq_federation",
  "rabbitmq_federation_management",
  "rabbitmq_shovel",
  "rabbitmq_shovel_management",
  "rabbitmq_consistent_hash_exchange",
]);

export interface RabbitMqNodeOptions {
  /** Folder for this node's data, logs, config and cookie; created if missing. */
  dir: string;
  /** Short node name; the node is `<name>@localhost`. @default - `tf-<random hex>` */
  name?: string;
  /** Erlang cookie; nodes of one cluster share it. @default - random */
  cookie?: string;
  /** @default - a free port */
  amqpPort?: number;
  /** @default - a free port */
  managementPort?: number;
  /** @default - a free port */
  prometheusPort?: number;
  /** Erlang distribution port. @default - a free port */
  distPort?: number;
  /** Plugins to enable. @default DEFAULT_PLUGINS */
  plugins?: readonly string[];
  /**
   * Extra `rabbitmq.conf` lines (for example from the broker generator). Must not set listener
   * ports or addresses: the node sets those from its own port options.
   */
  extraConfig?: string;
  /**
   * Write the node's own listener lines (AMQP, management, Prometheus on 127.0.0.1 at the port
   * options). `false` when `extraConfig` carries its own listeners (e.g. rendered TLS listeners);
   * the port options must then match them, since `start()` waits on `amqpPort`. @default true
   */
  writeListeners?: boolean;
  /** Extra environment for the server, e.g. `RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS`. */
  env?: NodeJS.ProcessEnv;
  /** @default 90000 */
  startTimeoutMs?: number;
  /** Own process group (Ctrl-C at the terminal does not reach it). @default false */
  detached?: boolean;
}

/** Starts `epmd` as a daemon with its output detached, so it never holds a caller's pipes. */
export function ensureEpmd(): void {
  spawnSync("epmd", ["-daemon"], { stdio: "ignore" });
}

export class RabbitMqNode {
  readonly dir: string;
  readonly name: string;
  readonly nodeName: string;
  readonly cookie: string;
  amqpPort = 0;
  managementPort = 0;
  prometheusPort = 0;
  distPort = 0;
  private child: ChildProcess | null = null;
  private readonly opts: RabbitMqNodeOptions;

  constructor(opts: RabbitMqNodeOptions) {
    this.opts = opts;
    this.dir = opts.dir;
    this.name = opts.name ?? `tf-${randomBytes(4).toString("hex")}`;
    this.nodeName = `${this.name}@localhost`;
    this.cookie = opts.cookie ?? randomBytes(16).toString("hex").toUpperCase();
  }

  get logFile(): string {
    return join(this.dir, "server.log");
  }

  /** AMQP URL for `user:password` on vhost `/` (or `vhost`). */
  url(user = "guest", password = "guest", vhost = "/"): string {
    return `amqp://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${this.amqpPort}/${encodeURIComponent(vhost)}`;
  }

  managementUrl(): string {
    return `http://127.0.0.1:${this.managementPort}`;
  }

  private env(): NodeJS.ProcessEnv {
    const d = this.dir;
    return {
      ...process.env,
      HOME: join(d, "home"),
      RABBITMQ_NODENAME: this.nodeName,
      RABBITMQ_DIST_PORT: String(this.distPort),
      RABBITMQ_MNESIA_BASE: join(d, "mnesia"),
      RABBITMQ_LOG_BASE: join(d, "log"),
      RABBITMQ_CONFIG_FILE: join(d, "rabbitmq.conf"),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(d, "advanced.config"),
      RABBITMQ_CONF_ENV_FILE: join(d, "rabbitmq-env.conf"),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(d, "enabled_plugins"),
      RABBITMQ_PID_FILE: join(d, "rabbitmq.pid"),
      RABBITMQ_PLUGINS_EXPAND_DIR: join(d, "plugins-expand"),
      ...this.opts.env,
    };
  }

  /** Writes config files, starts the node and waits until it serves AMQP. */
  async start(): Promise<void> {
    if (this.child) throw new Error(`RabbitMQ node ${this.nodeName} is already running`);
    const o = this.opts;
    const [a, m, p, d] = await freePorts(4);
    this.amqpPort = this.amqpPort || o.amqpPort || a!;
    // A restart keeps its ports (peers' URIs name the AMQP port); a side port taken meanwhile by
    // something else is replaced rather than failing the boot.
    const keep = async (current: number, fresh: number): Promise<number> =>
      current && !(await portIsFree(current)) ? fresh : current;
    this.managementPort = (await keep(this.managementPort, m!)) || o.managementPort || m!;
    this.prometheusPort = (await keep(this.prometheusPort, p!)) || o.prometheusPort || p!;
    this.distPort = (await keep(this.distPort, d!)) || o.distPort || d!;
    const dir = this.dir;
    mkdirSync(join(dir, "home"), { recursive: true });
    const cookieFile = join(dir, "home", ".erlang.cookie");
    if (!existsSync(cookieFile)) {
      writeFileSync(cookieFile, this.cookie);
      chmodSync(cookieFile, 0o400);
    }
    const plugins = o.plugins ?? DEFAULT_PLUGINS;
    writeFileSync(join(dir, "enabled_plugins"), `[${plugins.join(",")}].\n`);
    writeFileSync(join(dir, "rabbitmq-env.conf"), "");
    const listeners =
      o.writeListeners === false
        ? []
        : [
            `listeners.tcp.local = 127.0.0.1:${this.amqpPort}`,
            ...(plugins.includes("rabbitmq_management")
              ? [`management.tcp.ip = 127.0.0.1`, `management.tcp.port = ${this.managementPort}`]
              : []),
            ...(plugins.includes("rabbitmq_prometheus")
              ? [`prometheus.tcp.ip = 127.0.0.1`, `prometheus.tcp.port = ${this.prometheusPort}`]
              : []),
          ];
    const conf = [...listeners, "loopback_users = none", o.extraConfig ?? ""].join("\n");
    writeFileSync(join(dir, "rabbitmq.conf"), conf + "\n");
    ensureEpmd();
    this.child = startLogged(`${RABBITMQ_SBIN}/rabbitmq-server`, [], {
      env: this.env(),
      cwd: dir,
      logFile: this.logFile,
      detached: o.detached ?? false,
    });
    const child = this.child;
    const timeout = o.startTimeoutMs ?? 90_000;
    const exited = new Promise<never>((_, reject) =>
      child.once("exit", (code) =>
        reject(
          new Error(
            `RabbitMQ node ${this.nodeName} exited during start (code ${code}):\n${tail(this.logFile)}`,
          ),
        ),
      ),
    );
    exited.catch(() => undefined);
    await Promise.race([waitForPort(this.amqpPort, timeout, `RabbitMQ ${this.nodeName}`), exited]);
    await Promise.race([this.ctl(["await_startup", "--timeout", String(timeout / 1000)]), exited]);
  }

  /** Runs `rabbitmqctl` (or another CLI from the package) against this node; returns stdout. */
  async ctl(args: readonly string[], tool = "rabbitmqctl"): Promise<string> {
    try {
      const { stdout } = await execFileP(
        `${RABBITMQ_SBIN}/${tool}`,
        ["-n", this.nodeName, ...args],
        {
          env: this.env(),
          maxBuffer: 16 * 1024 * 1024,
        },
      );
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new Error(
        `${tool} ${args.join(" ")} on ${this.nodeName} failed: ${e.stderr || e.stdout || e.message}`,
      );
    }
  }

  /** The OS pid of the Erlang VM, from the pid file. */
  pid(): number | null {
    const f = join(this.dir, "rabbitmq.pid");
    if (!existsSync(f)) return this.child?.pid ?? null;
    const n = Number(readFileSync(f, "utf8").trim());
    return Number.isFinite(n) && n > 0 ? n : null;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Stops the node gracefully (`rabbitmqctl stop`), killing it if it does not stop in time. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    try {
      await this.ctl(["stop"]);
    } catch {
      // fall through to the kill below
    }
    if (!(await waitExit(child, 30_000))) child.kill("SIGKILL");
    await waitExit(child, 5_000);
    this.child = null;
  }

  /** Kills the node at once (SIGKILL), as a crash would. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const pid = this.pid();
    if (pid !== null && pid !== child.pid) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    child.kill("SIGKILL");
    await waitExit(child, 10_000);
    this.child = null;
  }
}
