/**
 * `taskfleet api`: runs the task API. Flags (or environment) say where it listens, which region it
 * serves, the broker and result backend it uses and who may call it (the tokens file);
 * SIGTERM/SIGINT stop it gracefully (stop accepting, finish running requests, close the broker
 * connection), SIGHUP reloads the tokens file. `taskfleet api token new` makes a client's token,
 * `taskfleet api openapi` prints the OpenAPI document.
 */
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import { ClientRegistry, TokensFileError } from "./auth.js";
import { createGateway } from "./gateway.js";
import { DEFAULT_IN_FLIGHT } from "./limits.js";
import {
  TaskApi,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_BATCH_BODY_BYTES,
  DEFAULT_RATE_LIMIT_PER_SECOND,
} from "./server.js";
import { ResultBackend } from "../backend/resultBackend.js";
import { ApiState } from "./state.js";
import { runTokenCommand, printOpenApi } from "./token.js";
import type { ApiRouting } from "./validate.js";

/** The flag that runs the API without authentication (loopback only). */
export const NO_AUTH_FLAG = "--dangerously-disable-auth";

export const API_USAGE = `taskfleet api [flags]
taskfleet api token new <client-id> --tasks <glob>[,<glob>...]
taskfleet api openapi

Runs the task API: POST /v1/tasks, POST /v1/tasks/batch, GET /v1/tasks/{id}, GET /v1/openapi.json
(bearer token required), GET /healthz, GET /readyz (open), and GET /metrics on --metrics-port.

  --tokens-file <path>       who may call: lines "<client-id> <sha256-hex> <glob>[,<glob>...]";
                             reloaded on SIGHUP              [$TASKFLEET_API_TOKENS_FILE; required]
  ${NO_AUTH_FLAG}   no authentication: every caller may send any task (only with a
                             loopback --host; for a throwaway local run)
  --port <n>                 port to listen on (0 = any free one)     [$PORT or 8080]
  --host <addr>              address to listen on                      [127.0.0.1]
  --metrics-port <n>         port of GET /metrics (0 = any free one)   [9464]
  --metrics-host <addr>      address of the metrics port               [--host]
  --region <name>            region this API serves                    [$TASKFLEET_REGION or local]
  --broker <url>             AMQP URL(s), comma-separated for a cluster [$TASKFLEET_BROKER_URL, $CELERY_BROKER_URL]
  --backend <url>            Redis result backend URL                  [$TASKFLEET_RESULT_BACKEND, $CELERY_RESULT_BACKEND]
  --queue <q>=<exchange>:<prefix>  a queue callers may name; tasks go to <exchange> with routing
                             key <prefix>.<task name> (repeatable)    [high_priority=high_priority:high, default=default:default]
  --priority <p>=<queue>     a priority name and the queue it selects (repeatable) [high=high_priority, default=default]
  --default-queue <q>        queue of a task that names none          [default]
  --shard-queue <q>          queue whose class is sharded (consistent hash); tasks with "key"
                             go there with routing key <prefix>.<key> [none: key is refused]
  --allow-tasks <a,b,...>    accept only these task names (others get 400) [any name]
  -A, --app <module>         accept only the tasks this module's app registers
  --state-redis <url>        Redis for task owners and idempotency keys (writable) [--backend]
  --max-body-bytes <n>       largest POST /v1/tasks body               [${DEFAULT_MAX_BODY_BYTES}]
  --max-batch-body-bytes <n> largest POST /v1/tasks/batch body         [${DEFAULT_MAX_BATCH_BODY_BYTES}]
  --rate-limit <n>           requests per second per client (0 = none) [${DEFAULT_RATE_LIMIT_PER_SECOND}]
  --max-in-flight <n>        tasks being published at once, in all     [${DEFAULT_IN_FLIGHT.total}]
  --max-in-flight-per-client <n>  the same, per client                 [${DEFAULT_IN_FLIGHT.perClient}]
  --retry-after <s>          Retry-After of a 503 or 429               [1]
  --ready-file <path>        write "<port> <metrics port>\\n" here once listening (for supervisors and tests)
`;

export interface ApiArgs {
  port: number;
  host: string;
  metricsPort: number;
  metricsHost?: string;
  tokensFile?: string;
  noAuth: boolean;
  stateRedisUrl?: string;
  maxBatchBodyBytes: number;
  rateLimitPerSecond: number;
  maxInFlight: number;
  maxInFlightPerClient: number;
  region: string;
  brokerUrl: string;
  backendUrl: string;
  routing: ApiRouting;
  allowTasks?: string[];
  app?: string;
  maxBodyBytes: number;
  retryAfterSeconds: number;
  readyFile?: string;
  help: boolean;
}

export class ApiUsageError extends Error {
  override name = "ApiUsageError";
}

function int(raw: string, flag: string, min: number, max: number): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) {
    throw new ApiUsageError(
      `${flag}: "${raw}" is not allowed; use a whole number from ${min} to ${max}`,
    );
  }
  return n;
}

export function parseApiArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): ApiArgs {
  const queues: Record<string, { exchange: string; routingKeyPrefix: string }> = {};
  const priorities: Record<string, string> = {};
  let defaultQueue = "default";
  let shardQueue: string | undefined;
  const a: Omit<ApiArgs, "routing"> = {
    port: env.PORT ? int(env.PORT, "PORT", 0, 65535) : 8080,
    host: "127.0.0.1",
    metricsPort: 9464,
    ...(env.TASKFLEET_API_TOKENS_FILE ? { tokensFile: env.TASKFLEET_API_TOKENS_FILE } : {}),
    noAuth: false,
    maxBatchBodyBytes: DEFAULT_MAX_BATCH_BODY_BYTES,
    rateLimitPerSecond: DEFAULT_RATE_LIMIT_PER_SECOND,
    maxInFlight: DEFAULT_IN_FLIGHT.total,
    maxInFlightPerClient: DEFAULT_IN_FLIGHT.perClient,
    region: env.TASKFLEET_REGION ?? "local",
    brokerUrl: env.TASKFLEET_BROKER_URL ?? env.CELERY_BROKER_URL ?? "",
    backendUrl: env.TASKFLEET_RESULT_BACKEND ?? env.CELERY_RESULT_BACKEND ?? "",
    maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
    retryAfterSeconds: 1,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i]!;
    const eq = raw.startsWith("--") ? raw.indexOf("=") : -1;
    const flag = eq > 0 ? raw.slice(0, eq) : raw;
    const take = (): string => {
      if (eq > 0) return raw.slice(eq + 1);
      const v = argv[i + 1];
      if (v === undefined || (v.startsWith("-") && v.length > 1)) {
        throw new ApiUsageError(`${flag}: missing value; see taskfleet api --help`);
      }
      i++;
      return v;
    };
    switch (flag) {
      case "--port":
        a.port = int(take(), "--port", 0, 65535);
        break;
      case "--host":
        a.host = take();
        break;
      case "--metrics-port":
        a.metricsPort = int(take(), "--metrics-port", 0, 65535);
        break;
      case "--metrics-host":
        a.metricsHost = take();
        break;
      case "--tokens-file":
        a.tokensFile = take();
        break;
      case NO_AUTH_FLAG:
        if (eq > 0) throw new ApiUsageError(`${NO_AUTH_FLAG}: takes no value`);
        a.noAuth = true;
        break;
      case "--state-redis":
        a.stateRedisUrl = take();
        break;
      case "--max-batch-body-bytes":
        a.maxBatchBodyBytes = int(take(), "--max-batch-body-bytes", 1024, 256 * 1024 * 1024);
        break;
      case "--rate-limit":
        a.rateLimitPerSecond = int(take(), "--rate-limit", 0, 1_000_000);
        break;
      case "--max-in-flight":
        a.maxInFlight = int(take(), "--max-in-flight", 1, 1_000_000);
        break;
      case "--max-in-flight-per-client":
        a.maxInFlightPerClient = int(take(), "--max-in-flight-per-client", 1, 1_000_000);
        break;
      case "--region":
        a.region = take();
        break;
      case "--broker":
        a.brokerUrl = take();
        break;
      case "--backend":
        a.backendUrl = take();
        break;
      case "--queue": {
        const v = take();
        const m = /^([A-Za-z0-9_.:-]+)=([A-Za-z0-9_.:-]+):([A-Za-z0-9_.:-]*)$/.exec(v);
        if (!m) {
          throw new ApiUsageError(
            `--queue: "${v}" is not a queue route; write <queue>=<exchange>:<routing key prefix>, e.g. high_priority=high_priority:high`,
          );
        }
        queues[m[1]!] = { exchange: m[2]!, routingKeyPrefix: m[3]! };
        break;
      }
      case "--priority": {
        const v = take();
        const m = /^([A-Za-z0-9_-]+)=([A-Za-z0-9_.:-]+)$/.exec(v);
        if (!m) {
          throw new ApiUsageError(
            `--priority: "${v}" is not a priority; write <name>=<queue>, e.g. high=high_priority`,
          );
        }
        priorities[m[1]!] = m[2]!;
        break;
      }
      case "--default-queue":
        defaultQueue = take();
        break;
      case "--shard-queue":
        shardQueue = take();
        break;
      case "--allow-tasks":
        a.allowTasks = take()
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s !== "");
        break;
      case "-A":
      case "--app":
        a.app = take();
        break;
      case "--max-body-bytes":
        a.maxBodyBytes = int(take(), "--max-body-bytes", 1024, 64 * 1024 * 1024);
        break;
      case "--retry-after":
        a.retryAfterSeconds = int(take(), "--retry-after", 1, 3600);
        break;
      case "--ready-file":
        a.readyFile = take();
        break;
      case "-h":
      case "--help":
        a.help = true;
        break;
      default:
        throw new ApiUsageError(`${raw}: unknown flag; see taskfleet api --help`);
    }
  }
  if (Object.keys(queues).length === 0) {
    queues.high_priority = { exchange: "high_priority", routingKeyPrefix: "high" };
    queues.default = { exchange: "default", routingKeyPrefix: "default" };
  }
  if (Object.keys(priorities).length === 0) {
    if (queues.high_priority) priorities.high = "high_priority";
    if (queues.default) priorities.default = "default";
  }
  for (const [p, q] of Object.entries(priorities)) {
    if (!queues[q]) {
      throw new ApiUsageError(
        `--priority: "${p}=${q}" names no queue; queues are ${Object.keys(queues).join(", ")}`,
      );
    }
  }
  if (!queues[defaultQueue]) {
    throw new ApiUsageError(
      `--default-queue: "${defaultQueue}" is not a queue; queues are ${Object.keys(queues).join(", ")}`,
    );
  }
  if (shardQueue !== undefined && !queues[shardQueue]) {
    throw new ApiUsageError(
      `--shard-queue: "${shardQueue}" is not a queue; queues are ${Object.keys(queues).join(", ")}`,
    );
  }
  if (!a.help) {
    if (a.noAuth && a.tokensFile !== undefined) {
      throw new ApiUsageError(
        `${NO_AUTH_FLAG}: cannot be combined with --tokens-file (or TASKFLEET_API_TOKENS_FILE); choose one`,
      );
    }
    if (a.noAuth && !isLoopback(a.host)) {
      throw new ApiUsageError(
        `${NO_AUTH_FLAG}: refused with --host ${a.host}; without authentication the API listens only on a loopback address (127.0.0.1, ::1, localhost)`,
      );
    }
    if (!a.noAuth && a.tokensFile === undefined) {
      throw new ApiUsageError(
        `--tokens-file: missing; the API does not run without authentication. Pass --tokens-file <path> (or set TASKFLEET_API_TOKENS_FILE), with lines made by "taskfleet api token new <client-id> --tasks <globs>"; for a throwaway run on loopback only: ${NO_AUTH_FLAG}`,
      );
    }
    if (a.brokerUrl === "") {
      throw new ApiUsageError(
        "--broker: missing; pass --broker amqp://... or set TASKFLEET_BROKER_URL",
      );
    }
    if (a.backendUrl === "") {
      throw new ApiUsageError(
        "--backend: missing; pass --backend redis://... or set TASKFLEET_RESULT_BACKEND",
      );
    }
  }
  return {
    ...a,
    routing: { queues, priorities, defaultQueue, ...(shardQueue ? { shardQueue } : {}) },
  };
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Task names registered by the `app` a module exports, when the app lists them. */
async function appTaskNames(modulePath: string): Promise<string[]> {
  const mod = (await import(pathToFileURL(resolve(modulePath)).href)) as { app?: unknown };
  const app = mod.app as { tasks?: unknown; taskNames?: () => Iterable<string> } | undefined;
  if (!app)
    throw new ApiUsageError(
      `-A: ${modulePath} exports no "app"; export the app made with createApp()`,
    );
  if (typeof app.taskNames === "function") return [...app.taskNames()];
  if (app.tasks instanceof Map) return [...(app.tasks as Map<string, unknown>).keys()];
  if (app.tasks && typeof app.tasks === "object") return Object.keys(app.tasks);
  throw new ApiUsageError(
    `-A: the app in ${modulePath} does not list its tasks; use --allow-tasks instead`,
  );
}

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === "token") return runTokenCommand(argv.slice(1));
  if (argv[0] === "openapi") return printOpenApi();
  let args: ApiArgs;
  try {
    args = parseApiArgs(argv);
  } catch (err) {
    if (err instanceof ApiUsageError) {
      process.stderr.write(`taskfleet api: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (args.help) {
    process.stdout.write(API_USAGE);
    return 0;
  }
  let clients: ClientRegistry | null = null;
  if (args.tokensFile !== undefined) {
    try {
      clients = ClientRegistry.fromFile(args.tokensFile);
    } catch (err) {
      process.stderr.write(`taskfleet api: ${(err as Error).message}\n`);
      return 2;
    }
    if (clients.size === 0) {
      process.stderr.write(
        `taskfleet api: ${args.tokensFile} lists no client; add lines made by "taskfleet api token new <client-id> --tasks <globs>"\n`,
      );
      return 2;
    }
  } else {
    log({
      msg: `AUTHENTICATION IS OFF (${NO_AUTH_FLAG}): anyone who reaches ${args.host}:${args.port} may send any task and read any result; never use this outside a throwaway local run`,
      level: "warn",
    });
  }
  let allowed: Set<string> | undefined;
  if (args.allowTasks) allowed = new Set(args.allowTasks);
  if (args.app) {
    try {
      allowed = new Set([...(allowed ?? []), ...(await appTaskNames(args.app))]);
    } catch (err) {
      process.stderr.write(`taskfleet api: ${(err as Error).message}\n`);
      return 2;
    }
  }
  const gateway = createGateway({
    brokerUrl: args.brokerUrl,
    backendUrl: args.backendUrl,
    region: args.region,
  });
  const stateBackend = args.stateRedisUrl
    ? new ResultBackend({ url: args.stateRedisUrl })
    : undefined;
  const api = new TaskApi({
    gateway,
    clients,
    routing: args.routing,
    region: args.region,
    maxBodyBytes: args.maxBodyBytes,
    maxBatchBodyBytes: args.maxBatchBodyBytes,
    retryAfterSeconds: args.retryAfterSeconds,
    rateLimitPerSecond: args.rateLimitPerSecond,
    inFlight: { total: args.maxInFlight, perClient: args.maxInFlightPerClient },
    log,
    ...(stateBackend ? { state: new ApiState(() => stateBackend.connection()) } : {}),
    ...(allowed ? { allowedTasks: allowed } : {}),
  });
  try {
    await gateway.connect();
    if (stateBackend) await stateBackend.connection();
  } catch (err) {
    process.stderr.write(
      `taskfleet api: could not reach the broker or backend: ${(err as Error).message}\n`,
    );
    await gateway.close();
    await stateBackend?.close();
    return 1;
  }
  const port = await api.listen(args.port, args.host);
  const metricsPort = await api.listenMetrics(args.metricsPort, args.metricsHost ?? args.host);
  log({
    msg: "task API listening",
    url: `http://${args.host}:${port}`,
    metrics: `http://${args.metricsHost ?? args.host}:${metricsPort}/metrics`,
    region: args.region,
    clients: clients?.size ?? "authentication off",
  });
  if (args.readyFile) {
    const { writeFileSync } = await import("node:fs");
    writeFileSync(args.readyFile, `${port} ${metricsPort}\n`);
  }
  const onHup = (): void => {
    if (!clients || !args.tokensFile) return;
    try {
      const n = clients.reload(args.tokensFile);
      log({ msg: "tokens file reloaded", clients: n });
    } catch (err) {
      const text = err instanceof TokensFileError ? err.message : (err as Error).message;
      log({ msg: "tokens file NOT reloaded; the previous clients stay in force", error: text });
    }
  };
  process.on("SIGHUP", onHup);
  return new Promise<number>((done) => {
    let stopping = false;
    const stop = (sig: string): void => {
      if (stopping) {
        log({ msg: "second signal: exiting now", signal: sig });
        process.exit(1);
      }
      stopping = true;
      process.off("SIGHUP", onHup);
      log({ msg: "stopping: finishing requests in flight", signal: sig });
      void api
        .close()
        .then(() => stateBackend?.close())
        .then(
          () => {
            log({ msg: "stopped" });
            done(0);
          },
          (err: unknown) => {
            log({ msg: "error while stopping", error: (err as Error).message });
            done(1);
          },
        );
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
  });
}

function log(fields: Record<string, unknown>): void {
  process.stderr.write(
    JSON.stringify({ time: new Date().toISOString(), component: "api", ...fields }) + "\n",
  );
}
