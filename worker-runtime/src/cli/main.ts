/**
 * `taskfleet worker` and `taskfleet api`: the runtime's command line. The only place that handles
 * signals: the first SIGTERM/SIGINT drains the worker gracefully, a second one exits at once.
 */
import { existsSync, realpathSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { App } from "../app.js";
import { createLogger } from "../util/log.js";
import { Worker } from "../worker/worker.js";
import { UsageError, WORKER_HELP, parseWorkerArgs, workerOptions } from "./args.js";

const HELP = `Usage: taskfleet <command> [options]

Commands:
  worker   run a Celery-compatible worker (taskfleet worker --help)
  api      run the HTTP task API (taskfleet api --help)
`;

function out(text: string): void {
  process.stdout.write(text);
}

function err(text: string): void {
  process.stderr.write(text.endsWith("\n") ? text : `${text}\n`);
}

/** Imports a task module and returns its exported `app` (`path:attr` picks another export). */
export async function loadApp(spec: string, cwd = process.cwd()): Promise<App> {
  const m = /^(.*?)(?::([A-Za-z_$][\w$]*))?$/.exec(spec)!;
  const file = m[1]!;
  const attr = m[2] ?? "app";
  const path = isAbsolute(file) ? file : resolve(cwd, file);
  if (!existsSync(path)) throw new UsageError(`-A: "${spec}" not found (looked for ${path})`);
  if (/\.(c|m)?ts$/.test(path) && !import.meta.url.endsWith(".ts")) {
    // compiled CLI: let Node import TypeScript task modules through tsx
    const { register } = await import("tsx/esm/api");
    register();
  }
  const mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  const app = mod[attr] ?? (attr === "app" ? mod.default : undefined);
  if (
    !(app instanceof App) &&
    !(app && typeof app === "object" && "tasks" in app && "task" in app)
  ) {
    throw new UsageError(
      `-A: "${spec}" does not export \`${attr}\` made with createApp() (exports: ${Object.keys(mod).join(", ") || "none"})`,
    );
  }
  return app as App;
}

async function runWorker(argv: readonly string[]): Promise<number> {
  const args = parseWorkerArgs(argv);
  if (args.help) {
    out(WORKER_HELP);
    return 0;
  }
  const log = createLogger(args.loglevel, {}, (l) => process.stdout.write(l));
  const app = await loadApp(args.app);
  app.configure({
    logger: log,
    ...(args.broker ? { brokerUrl: args.broker } : {}),
    ...(args.resultBackend ? { resultBackend: args.resultBackend } : {}),
  });
  const worker = new Worker(app, { ...workerOptions(args, app.declareQueues), logger: log });
  let signals = 0;
  let stopping: Promise<void> | null = null;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      log.warn("second signal; exiting at once", { signal: sig });
      process.exit(1);
    }
    log.info("signal received; draining", {
      signal: sig,
      shutdownTimeoutSeconds: args.shutdownTimeoutSeconds,
    });
    stopping = worker.stop();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  try {
    await worker.start();
    const addr = worker.healthAddress;
    if (addr) log.info("health server listening", { host: addr.host, port: addr.port });
    await new Promise<void>((res) => {
      const check = setInterval(() => {
        if (stopping) {
          clearInterval(check);
          res();
        }
      }, 100);
    });
    await stopping;
    return 0;
  } finally {
    await worker.stop({ timeoutMs: 0 }).catch(() => undefined);
    await app.close();
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
  }
}

async function runApi(argv: readonly string[]): Promise<number> {
  let mod: { run?: (argv: string[]) => Promise<number> };
  try {
    // A variable keeps the type checker from requiring the file; it resolves relative to here.
    const spec = "../api/command.js";
    mod = (await import(spec)) as typeof mod;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ERR_MODULE_NOT_FOUND" && String((e as Error).message).includes("command")) {
      err(
        "taskfleet api: the HTTP task API is not part of this build (worker-runtime/src/api/command.ts is missing)",
      );
      return 1;
    }
    throw e;
  }
  if (typeof mod.run !== "function") {
    err("taskfleet api: worker-runtime/src/api/command does not export run(argv)");
    return 1;
  }
  return mod.run([...argv]);
}

/** Runs a runtime command; resolves with the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case "worker":
        return await runWorker(rest);
      case "api":
        return await runApi(rest);
      case undefined:
      case "-h":
      case "--help":
      case "help":
        out(HELP);
        return cmd === undefined ? 2 : 0;
      default:
        err(`unknown command "${cmd}"; use worker or api (taskfleet --help)`);
        return 2;
    }
  } catch (e) {
    if (e instanceof UsageError) {
      err(`taskfleet ${cmd}: ${e.message}`);
      return 2;
    }
    err(`taskfleet ${cmd}: ${(e as Error).message}`);
    return 1;
  }
}

// Run when executed directly (`node dist/cli/main.js worker ...`, the image's entrypoint); the
// `taskfleet` bin imports this module and calls main() itself.
function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return pathToFileURL(realpathSync(script)).href === import.meta.url;
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  process.exitCode = await main(process.argv.slice(2));
}
