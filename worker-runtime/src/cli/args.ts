/** Celery-style worker flags, parsed and validated (pure). */
import { hostname as osHostname } from "node:os";
import { parseAutoscale, type AutoscaleLimits } from "../worker/autoscale.js";
import type { DeclareMode } from "../amqp/topology.js";
import { parseLogLevel, type LogLevel } from "../util/log.js";
import type { WorkerOptions } from "../worker/worker.js";

export class UsageError extends Error {
  override name = "UsageError";
}

export interface WorkerArgs {
  app: string;
  queues: string[] | undefined;
  concurrency: number | undefined;
  hostname: string;
  autoscale: AutoscaleLimits | undefined;
  prefetchMultiplier: number;
  events: boolean;
  loglevel: LogLevel;
  shutdownTimeoutSeconds: number;
  healthPort: number | undefined;
  healthHost: string;
  broker: string | undefined;
  resultBackend: string | undefined;
  declare: boolean;
  deadLetter: "republish" | "reject";
  delayQueues: "classic" | "quorum";
  /** Hard limit of tasks without one (--time-limit, TASKFLEET_TASK_TIME_LIMIT). */
  timeLimitSeconds: number | undefined;
  softTimeLimitSeconds: number | undefined;
  /** The broker's consumer_timeout (--consumer-timeout, TASKFLEET_CONSUMER_TIMEOUT). */
  consumerTimeoutSeconds: number;
  help: boolean;
}

/** Celery's node name expansion: %h = host name, %n = its first label, %d = the domain, %% = %. */
export function expandNodeName(pattern: string, host = osHostname()): string {
  const dot = host.indexOf(".");
  const name = dot < 0 ? host : host.slice(0, dot);
  const domain = dot < 0 ? "" : host.slice(dot + 1);
  return pattern.replace(/%([hnd%])/g, (_, k: string) =>
    k === "h" ? host : k === "n" ? name : k === "d" ? domain : "%",
  );
}

const FLAGS: Record<string, { key: keyof WorkerArgs | "ignore"; value: boolean }> = {
  "-A": { key: "app", value: true },
  "--app": { key: "app", value: true },
  "-Q": { key: "queues", value: true },
  "--queues": { key: "queues", value: true },
  "-c": { key: "concurrency", value: true },
  "--concurrency": { key: "concurrency", value: true },
  "-n": { key: "hostname", value: true },
  "--hostname": { key: "hostname", value: true },
  "--autoscale": { key: "autoscale", value: true },
  "--prefetch-multiplier": { key: "prefetchMultiplier", value: true },
  "-E": { key: "events", value: false },
  "--task-events": { key: "events", value: false },
  "--events": { key: "events", value: false },
  "-l": { key: "loglevel", value: true },
  "--loglevel": { key: "loglevel", value: true },
  "--shutdown-timeout": { key: "shutdownTimeoutSeconds", value: true },
  "--health-port": { key: "healthPort", value: true },
  "--health-host": { key: "healthHost", value: true },
  "-b": { key: "broker", value: true },
  "--broker": { key: "broker", value: true },
  "--result-backend": { key: "resultBackend", value: true },
  "--no-declare": { key: "declare", value: false },
  "--dead-letter": { key: "deadLetter", value: true },
  "--delay-queues": { key: "delayQueues", value: true },
  "--time-limit": { key: "timeLimitSeconds", value: true },
  "--soft-time-limit": { key: "softTimeLimitSeconds", value: true },
  "--consumer-timeout": { key: "consumerTimeoutSeconds", value: true },
  "-h": { key: "help", value: false },
  "--help": { key: "help", value: false },
  "-P": { key: "ignore", value: true },
  "--pool": { key: "ignore", value: true },
};

/** Seconds > 0 (Celery's time limits are floats). */
function seconds(flag: string, v: string): number {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(`${flag}: "${v}" is not allowed; use seconds > 0 (e.g. 300)`);
  }
  return n;
}

function int(flag: string, v: string, min: number): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n < min) {
    throw new UsageError(`${flag}: "${v}" is not allowed; use a whole number ≥ ${min}`);
  }
  return n;
}

export function parseWorkerArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): WorkerArgs {
  const raw = new Map<string, { flag: string; value: string }>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    let flag = a;
    let value: string | undefined;
    const eq = a.indexOf("=");
    if (a.startsWith("--") && eq > 0) {
      flag = a.slice(0, eq);
      value = a.slice(eq + 1);
    } else if (/^-[A-Za-z]./.test(a) && !a.startsWith("--")) {
      flag = a.slice(0, 2);
      value = a.slice(2);
    }
    const spec = FLAGS[flag];
    if (!spec)
      throw new UsageError(`unknown option "${a}"; run "taskfleet worker --help" for the options`);
    if (spec.value && value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`${flag} needs a value`);
    }
    if (!spec.value && value !== undefined && value !== "")
      throw new UsageError(`${flag} takes no value`);
    if (spec.key !== "ignore") raw.set(spec.key, { flag, value: value ?? "" });
  }
  const get = (k: keyof WorkerArgs): { flag: string; value: string } | undefined => raw.get(k);
  const help = raw.has("help");
  const app = get("app")?.value;
  if (!app && !help)
    throw new UsageError("-A/--app is required: the task module, e.g. -A ./tasks.js");
  const q = get("queues");
  const queues = q
    ? q.value
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;
  if (q && queues!.length === 0)
    throw new UsageError(
      `${q.flag}: "${q.value}" names no queue; use e.g. -Q high_priority,default`,
    );
  const c = get("concurrency");
  const as = get("autoscale");
  const pm = get("prefetchMultiplier");
  const st = get("shutdownTimeoutSeconds");
  const hp =
    get("healthPort") ??
    (env.TASKFLEET_HEALTH_PORT
      ? { flag: "TASKFLEET_HEALTH_PORT", value: env.TASKFLEET_HEALTH_PORT }
      : undefined);
  const ll = get("loglevel");
  const dl = get("deadLetter");
  if (dl && dl.value !== "republish" && dl.value !== "reject") {
    throw new UsageError(`${dl.flag}: "${dl.value}" is not allowed; use republish or reject`);
  }
  const dq = get("delayQueues");
  if (dq && dq.value !== "classic" && dq.value !== "quorum") {
    throw new UsageError(`${dq.flag}: "${dq.value}" is not allowed; use classic or quorum`);
  }
  const fromEnv = (
    k: keyof WorkerArgs,
    name: string,
  ): { flag: string; value: string } | undefined =>
    get(k) ??
    (env[name] !== undefined && env[name] !== "" ? { flag: name, value: env[name]! } : undefined);
  const tl = fromEnv("timeLimitSeconds", "TASKFLEET_TASK_TIME_LIMIT");
  const stl = get("softTimeLimitSeconds");
  const ct = fromEnv("consumerTimeoutSeconds", "TASKFLEET_CONSUMER_TIMEOUT");
  let shutdown = 30;
  if (st) {
    shutdown = Number(st.value);
    if (!Number.isFinite(shutdown) || shutdown < 0)
      throw new UsageError(`${st.flag}: "${st.value}" is not allowed; use seconds ≥ 0`);
  }
  let autoscale: AutoscaleLimits | undefined;
  try {
    autoscale = as ? parseAutoscale(as.value, as.flag) : undefined;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  let loglevel: LogLevel = "info";
  try {
    if (ll) loglevel = parseLogLevel(ll.value, ll.flag);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return {
    app: app ?? "",
    queues,
    concurrency: c ? int(c.flag, c.value, 1) : undefined,
    hostname: expandNodeName(get("hostname")?.value ?? "celery@%h"),
    autoscale,
    prefetchMultiplier: pm ? int(pm.flag, pm.value, 0) : 4,
    events: raw.has("events"),
    loglevel,
    shutdownTimeoutSeconds: shutdown,
    healthPort: hp ? int(hp.flag, hp.value, 0) : undefined,
    healthHost: get("healthHost")?.value ?? env.TASKFLEET_HEALTH_HOST ?? "127.0.0.1",
    broker: get("broker")?.value,
    resultBackend: get("resultBackend")?.value,
    declare: !raw.has("declare"),
    deadLetter: (dl?.value as "republish" | "reject" | undefined) ?? "republish",
    delayQueues: (dq?.value as "classic" | "quorum" | undefined) ?? "classic",
    timeLimitSeconds: tl ? seconds(tl.flag, tl.value) : undefined,
    softTimeLimitSeconds: stl ? seconds(stl.flag, stl.value) : undefined,
    consumerTimeoutSeconds: ct ? seconds(ct.flag, ct.value) : 1800,
    help,
  };
}

export const WORKER_HELP = `Usage: taskfleet worker -A <module> [options]

Runs a Celery-compatible worker for the tasks registered on the module's exported \`app\`.

  -A, --app <module>            task module (.js, .mjs or .ts) exporting \`app\` (createApp())
  -Q, --queues <a,b>            queues to consume (default: the app's default queue, "celery")
  -c, --concurrency <n>         tasks run at once (default: number of CPUs)
  -n, --hostname <name>         node name; %h host, %n host's first label, %d domain (default celery@%h)
      --autoscale=<max,min>     scale concurrency with the backlog (up at once, down after 30 s)
      --prefetch-multiplier <n> prefetch = concurrency (or autoscale max) × n; 0 = unlimited (default 4)
  -E, --task-events             send Celery events (celeryev) for Flower and \`celery events\`
  -l, --loglevel <level>        debug, info, warning, error (default info); logs are JSON lines
      --shutdown-timeout <s>    on SIGTERM/SIGINT let running tasks finish this long (default 30);
                                a second signal exits at once
      --health-port <port>      serve /healthz, /readyz, /metrics (env TASKFLEET_HEALTH_PORT)
      --health-host <addr>      address for that server (default 127.0.0.1; env TASKFLEET_HEALTH_HOST)
  -b, --broker <url[;url]>      broker URL(s) (default TASKFLEET_BROKER_URL or CELERY_BROKER_URL)
      --result-backend <url>    Redis URL (default TASKFLEET_RESULT_BACKEND or CELERY_RESULT_BACKEND)
      --no-declare              never declare queues; only check that they exist
      --dead-letter <mode>      poison messages: republish (to taskfleet.poison, default) or reject
                                (for queues with their own dead-letter exchange)
      --delay-queues <type>     countdown/retry delay queues: classic (default) or quorum (replicated,
                                for clusters)
      --time-limit <s>          hard time limit of tasks that set none (env TASKFLEET_TASK_TIME_LIMIT)
      --soft-time-limit <s>     soft time limit of tasks that set none
      --consumer-timeout <s>    the broker's consumer_timeout (default 1800, RabbitMQ's); every run is
                                capped to fit it, and a time limit that does not fit is refused
                                (env TASKFLEET_CONSUMER_TIMEOUT)
  -h, --help                    this help
`;

/** The Worker's options for parsed flags (what `taskfleet worker` runs). */
export function workerOptions(args: WorkerArgs, declareQueues: DeclareMode): WorkerOptions {
  return {
    ...(args.queues ? { queues: args.queues } : {}),
    ...(args.concurrency ? { concurrency: args.concurrency } : {}),
    ...(args.autoscale ? { autoscale: args.autoscale } : {}),
    ...(args.healthPort !== undefined ? { healthPort: args.healthPort } : {}),
    ...(args.timeLimitSeconds !== undefined ? { timeLimitSeconds: args.timeLimitSeconds } : {}),
    ...(args.softTimeLimitSeconds !== undefined
      ? { softTimeLimitSeconds: args.softTimeLimitSeconds }
      : {}),
    consumerTimeoutMs: args.consumerTimeoutSeconds * 1000,
    healthHost: args.healthHost,
    hostname: args.hostname,
    prefetchMultiplier: args.prefetchMultiplier,
    events: args.events,
    shutdownTimeoutMs: args.shutdownTimeoutSeconds * 1000,
    declareQueues: args.declare ? declareQueues : "passive",
    deadLetter: args.deadLetter,
    delayQueues: args.delayQueues,
    connectRounds: 10,
  };
}
