/**
 * Flags of `npm run local`. Pure: argv in, options out; errors name the flag as written, the value
 * and what is allowed.
 */
import { resolve } from "node:path";

export interface LocalOptions {
  /** Stack whose description the local target runs. @default "dev" */
  stack: string;
  /** Folder the run owns (services' data, logs, pids). @default ".taskfleet/local" */
  stateDir: string;
  /** RabbitMQ nodes per region (1, or an odd cluster size). @default 1 */
  brokerNodes: number;
  /** Tasks in the demo workload; 0 runs no demo. @default 20000 (0 with --tasks and no workload) */
  demo: number | undefined;
  /** Tasks per batch request of the demo; 1 = one request per task (`--one-by-one`). @default 500 */
  batchSize: number;
  /** Exit after the demo instead of staying up. */
  exit: boolean;
  /** Print the summary as JSON on stdout (progress and logs go to stderr). */
  json: boolean;
  /** A user's task module (absolute path) run by the workers instead of the demo's. */
  tasks: string | undefined;
  /** Clean up a state folder left by a crashed run, then exit. */
  down: boolean;
  help: boolean;
}

export const DEFAULT_DEMO_TASKS = 20_000;
export const MAX_DEMO_TASKS = 1_000_000;
export const DEFAULT_BATCH_SIZE = 500;

export class UsageError extends Error {
  override name = "UsageError";
}

export const USAGE = `npm run local -- [flags]

Starts two federated regions on this machine (RabbitMQ, Redis, worker pools, task API per region),
runs a demo workload through both task APIs, prints a summary, then stays up until Ctrl-C.

  --stack <name|file>   stack description to run: stacks/Pulumi.<name>.yaml, or a .yaml path [dev]
  --state-dir <path>    folder this run owns: data, logs, pids               [.taskfleet/local]
  --broker-nodes <n>    RabbitMQ nodes per region: 1, 3 or 5 (clustered)     [1]
  --demo <n>            tasks in the demo workload, 0 for none               [${DEFAULT_DEMO_TASKS}]
  --batch-size <n>      tasks per POST /v1/tasks/batch of the demo (1-1000)  [${DEFAULT_BATCH_SIZE}]
  --one-by-one          the demo sends one POST /v1/tasks per task (= --batch-size 1)
  --exit                exit after the demo instead of staying up
  --json                print the summary as JSON on stdout
  --tasks <module>      run your own task module (.js/.mjs/.ts exporting app) instead of the demo's
  --down                stop what a crashed run left in the state folder and remove it
  --help                this text
`;

function value(argv: readonly string[], i: number, flag: string): string {
  const v = argv[i + 1];
  if (v === undefined || v.startsWith("--")) {
    throw new UsageError(`${flag}: missing value; see --help`);
  }
  return v;
}

function count(raw: string, flag: string, min: number, max: number): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(
      `${flag}: "${raw}" is not allowed; use a whole number from ${min} to ${max}`,
    );
  }
  return n;
}

export function parseArgs(argv: readonly string[], cwd = process.cwd()): LocalOptions {
  const o: LocalOptions = {
    stack: "dev",
    stateDir: resolve(cwd, ".taskfleet/local"),
    brokerNodes: 1,
    demo: undefined,
    batchSize: DEFAULT_BATCH_SIZE,
    exit: false,
    json: false,
    tasks: undefined,
    down: false,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i]!;
    const eq = raw.indexOf("=");
    const flag = raw.startsWith("--") && eq > 0 ? raw.slice(0, eq) : raw;
    const inline = raw.startsWith("--") && eq > 0 ? raw.slice(eq + 1) : undefined;
    const take = (): string => {
      if (inline !== undefined) return inline;
      const v = value(argv, i, flag);
      i++;
      return v;
    };
    switch (flag) {
      case "--stack": {
        const v = take();
        if (/\.ya?ml$/.test(v)) o.stack = resolve(cwd, v);
        else if (!/^[A-Za-z0-9._-]+$/.test(v)) {
          throw new UsageError(
            `--stack: "${v}" is not a stack name; use letters, digits, ".", "_" or "-" (e.g. dev), or the path of a stack file ending in .yaml`,
          );
        } else o.stack = v;
        break;
      }
      case "--state-dir":
        o.stateDir = resolve(cwd, take());
        break;
      case "--broker-nodes": {
        const v = take();
        if (!["1", "3", "5"].includes(v)) {
          throw new UsageError(`--broker-nodes: "${v}" is not allowed; use 1, 3 or 5`);
        }
        o.brokerNodes = Number(v);
        break;
      }
      case "--demo":
        o.demo = count(take(), "--demo", 0, MAX_DEMO_TASKS);
        break;
      case "--tasks":
        o.tasks = resolve(cwd, take());
        break;
      case "--batch-size":
        o.batchSize = count(take(), "--batch-size", 1, 1000);
        break;
      case "--one-by-one":
        if (inline !== undefined) throw new UsageError(`${flag}: takes no value`);
        o.batchSize = 1;
        break;
      case "--exit":
      case "--json":
      case "--down":
      case "--help":
        if (inline !== undefined) throw new UsageError(`${flag}: takes no value`);
        if (flag === "--exit") o.exit = true;
        else if (flag === "--json") o.json = true;
        else if (flag === "--down") o.down = true;
        else o.help = true;
        break;
      case "-h":
        o.help = true;
        break;
      default:
        throw new UsageError(
          `${raw}: unknown flag; flags are --stack, --state-dir, --broker-nodes, --demo, --batch-size, --one-by-one, --exit, --json, --tasks, --down, --help`,
        );
    }
  }
  return o;
}
