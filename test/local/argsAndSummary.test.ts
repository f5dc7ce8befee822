/** Pure parts of the local target: its flags and the demo summary's arithmetic and checks. */
import { describe, expect, it } from "vitest";
import { parseArgs, UsageError } from "../../local/args.js";
import { summarize, quantile, type TaskRecord } from "../../local/summary.js";
import {
  apiRoutingArgs,
  localBrokerSpec,
  localPools,
  localRegionNames,
  type StackDescription,
} from "../../local/stack.js";
import { parseRegionConfig } from "../../components/config/regionConfig.js";

describe("npm run local flags", () => {
  it("has defaults and reads every flag", () => {
    const d = parseArgs([], "/repo");
    expect(d).toMatchObject({
      stack: "dev",
      stateDir: "/repo/.taskfleet/local",
      brokerNodes: 1,
      batchSize: 500,
      exit: false,
      json: false,
      down: false,
    });
    expect(d.demo).toBeUndefined();
    const o = parseArgs(
      [
        "--stack",
        "staging",
        "--state-dir",
        "st",
        "--broker-nodes",
        "3",
        "--demo=5000",
        "--exit",
        "--json",
        "--tasks",
        "./t.js",
      ],
      "/repo",
    );
    expect(o).toMatchObject({
      stack: "staging",
      stateDir: "/repo/st",
      brokerNodes: 3,
      demo: 5000,
      exit: true,
      json: true,
      tasks: "/repo/t.js",
    });
    expect(parseArgs(["--stack", "my/own.yaml"], "/repo").stack).toBe("/repo/my/own.yaml");
    expect(parseArgs(["--one-by-one"]).batchSize).toBe(1);
    expect(parseArgs(["--batch-size", "1000"]).batchSize).toBe(1000);
  });

  it("refuses bad flags with a message naming the flag, the value and what is allowed", () => {
    const cases: [string[], string][] = [
      [["--broker-nodes", "2"], '--broker-nodes: "2" is not allowed; use 1, 3 or 5'],
      [["--demo", "-5"], '--demo: "-5" is not allowed; use a whole number from 0 to 1000000'],
      [["--demo", "--exit"], "--demo: missing value; see --help"],
      [["--demo", "lots"], '--demo: "lots" is not allowed; use a whole number from 0 to 1000000'],
      [
        ["--stack", "a b"],
        '--stack: "a b" is not a stack name; use letters, digits, ".", "_" or "-" (e.g. dev), or the path of a stack file ending in .yaml',
      ],
      [["--exit=yes"], "--exit: takes no value"],
      [
        ["--batch-size", "1001"],
        '--batch-size: "1001" is not allowed; use a whole number from 1 to 1000',
      ],
      [
        ["--turbo"],
        "--turbo: unknown flag; flags are --stack, --state-dir, --broker-nodes, --demo, --batch-size, --one-by-one, --exit, --json, --tasks, --down, --help",
      ],
    ];
    for (const [argv, msg] of cases) {
      expect(() => parseArgs(argv)).toThrow(UsageError);
      expect(() => parseArgs(argv)).toThrow(msg);
    }
  });
});

function rec(p: Partial<TaskRecord>): TaskRecord {
  return { region: "a", queue: "default", name: "t", submittedAt: 0, refusals: 0, ...p };
}

describe("demo summary", () => {
  it("adds up counts, latency quantiles and cross-region runs", () => {
    const records: TaskRecord[] = [
      rec({ id: "1", state: "SUCCESS", finishedAt: 10, workerRegion: "a" }),
      rec({ id: "2", state: "SUCCESS", finishedAt: 20, workerRegion: "b", queue: "high_priority" }),
      rec({ id: "3", state: "FAILURE", finishedAt: 30, workerRegion: "a", retries: 1 }),
      rec({
        id: "4",
        region: "b",
        state: "SUCCESS",
        finishedAt: 40,
        workerRegion: "b",
        retries: 1,
        refusals: 2,
      }),
    ];
    const s = summarize(records, ["a", "b"], 0, 100);
    expect(s).toMatchObject({
      tasks: 4,
      accepted: 4,
      finished: 4,
      unfinished: 0,
      states: { SUCCESS: 3, FAILURE: 1, REVOKED: 0 },
      byRegion: {
        a: { submitted: 3, ranHere: 2, queues: { default: 2, high_priority: 1 } },
        b: { submitted: 1, ranHere: 2, queues: { default: 1 } },
      },
      byQueue: { default: 3, high_priority: 1 },
      crossRegion: 1,
      failures: 1,
      retries: 2,
      refusedThenRetried: 1,
      latencyMs: { p50: 20, p99: 40, max: 40 },
      durationSeconds: 0.04,
      tasksPerSecond: 100,
      ok: true,
      problems: [],
    });
  });

  it("is not ok when a task was never accepted or never finished", () => {
    const s = summarize(
      [
        rec({ id: "1", state: "SUCCESS", finishedAt: 5, workerRegion: "a" }),
        rec({ id: "2" }),
        rec({}),
      ],
      ["a", "b"],
      0,
      50,
    );
    expect(s.ok).toBe(false);
    expect(s.problems).toEqual([
      "1 of 3 tasks were never accepted (no 202)",
      "2 of 3 tasks reached no final state",
    ]);
  });

  it("takes nearest-rank quantiles", () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([quantile(xs, 0.5), quantile(xs, 0.99), quantile([], 0.5)]).toEqual([50, 99, 0]);
  });
});

describe("local plan from a stack description", () => {
  const config = parseRegionConfig({
    region: "us-east-1",
    environment: "dev",
    cluster: { mode: "existing", kubeconfig: "k" },
  });
  const stack: StackDescription = {
    name: "t",
    file: "t.yaml",
    config,
    brokerInput: { sharding: { enabled: true, classes: ["default"], shardCount: 2 } },
  };

  it("links each region to the other over loopback with federated queues for every class", () => {
    expect(localRegionNames(config)).toEqual(["local-a", "local-b"]);
    const spec = localBrokerSpec(stack, "local-a", 3, {
      region: "local-b",
      amqpPorts: [6001, 6002, 6003],
    });
    expect(spec.region).toBe("local-a");
    expect(spec.nodes).toBe(3);
    expect(spec.federation).toEqual([
      expect.objectContaining({
        region: "local-b",
        uris: ["amqp://127.0.0.1:6001", "amqp://127.0.0.1:6002", "amqp://127.0.0.1:6003"],
        queues: ["high_priority", "default"],
        ackMode: "on-confirm",
      }),
    ]);
  });

  it("runs the stack's pools on the class queues (shards included) and routes the API the same way", () => {
    const spec = localBrokerSpec(stack, "local-a", 1, { region: "local-b", amqpPorts: [6001] });
    const pools = localPools(config, spec);
    expect(
      pools.map((p) => [
        p.pool.name,
        p.pool.concurrency,
        p.pool.maxConcurrency,
        p.pool.minConcurrency,
        p.queues,
      ]),
    ).toEqual([
      ["high_priority", 10, 50, 10, ["high_priority"]],
      ["default", 20, 50, 10, ["default.shard.0", "default.shard.1"]],
    ]);
    expect(apiRoutingArgs(spec, pools)).toEqual([
      "--queue",
      "high_priority=high_priority:high",
      "--queue",
      "default=default:default",
      "--priority",
      "high=high_priority",
      "--priority",
      "default=default",
      "--default-queue",
      "default",
      "--shard-queue",
      "default",
    ]);
  });
});
