/**
 * One Redis server as a process on this machine (Debian's redis-server), on its own port and data
 * folder: the result backend of the tests and of the local target.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { startLogged, tail, waitForPort, waitExit } from "./process.js";
import { freePort } from "./ports.js";

export interface RedisServerOptions {
  /** Folder for this server's data and log; created if missing. */
  dir: string;
  /** @default - a free port */
  port?: number;
  /** `requirepass`; also used as `masterauth` for replicas. @default - none */
  password?: string;
  /** Replicate from this server (`replicaof`). @default - none (a primary) */
  replicaOf?: { host: string; port: number };
  /** Extra `redis-server` arguments, e.g. `["--maxmemory", "64mb"]`. */
  extraArgs?: readonly string[];
  /** Own process group (Ctrl-C at the terminal does not reach it). @default false */
  detached?: boolean;
}

export class RedisServer {
  readonly dir: string;
  port = 0;
  private child: ChildProcess | null = null;
  private readonly opts: RedisServerOptions;

  constructor(opts: RedisServerOptions) {
    this.opts = opts;
    this.dir = opts.dir;
  }

  get logFile(): string {
    return join(this.dir, "redis.log");
  }

  /** `redis://[:password@]127.0.0.1:port/db` */
  url(db = 0): string {
    const auth = this.opts.password ? `:${encodeURIComponent(this.opts.password)}@` : "";
    return `redis://${auth}127.0.0.1:${this.port}/${db}`;
  }

  async start(): Promise<void> {
    if (this.child) throw new Error(`Redis on port ${this.port} is already running`);
    this.port = this.port || this.opts.port || (await freePort());
    mkdirSync(this.dir, { recursive: true });
    const o = this.opts;
    const args = [
      "--port",
      String(this.port),
      "--bind",
      "127.0.0.1",
      "--dir",
      this.dir,
      "--save",
      "",
      "--appendonly",
      "no",
      "--daemonize",
      "no",
      "--protected-mode",
      "no",
      ...(o.password ? ["--requirepass", o.password, "--masterauth", o.password] : []),
      ...(o.replicaOf ? ["--replicaof", o.replicaOf.host, String(o.replicaOf.port)] : []),
      ...(o.extraArgs ?? []),
    ];
    const child = startLogged("redis-server", args, {
      logFile: this.logFile,
      cwd: this.dir,
      detached: o.detached ?? false,
    });
    this.child = child;
    const exited = new Promise<never>((_, reject) =>
      child.once("exit", (code) =>
        reject(
          new Error(`redis-server exited during start (code ${code}):\n${tail(this.logFile)}`),
        ),
      ),
    );
    exited.catch(() => undefined);
    await Promise.race([waitForPort(this.port, 30_000, "redis-server"), exited]);
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** The server's OS pid while it runs. */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

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
