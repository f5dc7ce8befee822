/**
 * The local target for real: two regions (RabbitMQ from the broker generator's files, Redis, the
 * worker pools as `taskfleet worker` processes, the task API as `taskfleet api`), federated.
 *  - `npm run local -- --demo N --exit --json` as a child process: every task reaches a final
 *    state and the summary adds up; nothing is left running; the suite's own RabbitMQ (a service
 *    already on the machine) keeps working.
 *  - Cross-region delivery: with no workers in region A, tasks sent to A's API are run by B's
 *    workers through the federated queues, and A's API reports their results.
 *  - A crashed run (runner killed with SIGKILL) leaves its processes; `--down` stops exactly those
 *    and removes the folder.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { connect } from "amqplib";
import { tempDir } from "../support/tmp.js";
import { LocalTarget } from "../../local/target.js";
import { loadStack } from "../../local/stack.js";
import { REPO_ROOT } from "../../local/region.js";
import type { Summary } from "../../local/summary.js";
import { alive, type StateFile } from "../../local/stateDir.js";

const MAIN = join(REPO_ROOT, "local", "main.ts");
const DEMO_TASKS = join(REPO_ROOT, "local", "demoTasks.ts");

const tmp = tempDir("taskfleet-local-test-");
afterAll(() => tmp.cleanup());

/** The stack the tests run: the repository's dev stack. */
const STACK = "dev";

function runLocal(
  args: string[],
  timeoutMs = 240_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const t = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(`npm run local ${args.join(" ")} did not finish in ${timeoutMs} ms:\n${stderr}`),
      );
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("npm run local", () => {
  it("--demo 600 --exit --json: every task reaches a final state and the numbers add up", async () => {
    const stateDir = join(tmp.path, "demo");
    const r = await runLocal([
      "--stack",
      STACK,
      "--demo",
      "600",
      "--exit",
      "--json",
      "--state-dir",
      stateDir,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      regions: string[];
      summary: Summary;
      ingest: { seconds: number; tasksPerSecond: number };
      endpoints: Record<string, { amqpPorts: number[]; api: string; prometheus: string }>;
    };
    const s = out.summary;
    expect(out.regions).toHaveLength(2);
    expect(s.ok).toBe(true);
    expect(s.problems).toEqual([]);
    expect(s.tasks).toBe(600);
    expect(s.accepted).toBe(600);
    expect(s.finished).toBe(600);
    expect(s.states.SUCCESS + s.states.FAILURE + s.states.REVOKED).toBe(600);
    // The demo's mix: 2% always fail (after one retry), 6% fail once and then succeed.
    expect(s.states.FAILURE).toBe(12);
    expect(s.retries).toBe(12 + 36);
    expect(Object.values(s.byRegion).reduce((a, x) => a + x.submitted, 0)).toBe(600);
    expect(
      Object.values(s.byRegion).reduce((a, x) => a + x.ranHere, 0) + s.workerRegionUnknown,
    ).toBe(600);
    expect(s.byQueue).toEqual({ high_priority: 150, default: 450 });
    for (const reg of Object.values(s.byRegion)) {
      expect(Object.values(reg.queues).reduce((a, k) => a + k, 0)).toBe(reg.submitted);
    }
    expect(s.latencyMs.p50).toBeGreaterThan(0);
    // Ingest (every task accepted) ends before the last result; the demo sent batches.
    expect(out.ingest.seconds).toBeGreaterThan(0);
    expect(out.ingest.seconds).toBeLessThanOrEqual(s.durationSeconds);
    expect(out.ingest.tasksPerSecond).toBeGreaterThan(0);
    expect(r.stderr).toContain("(batches of 500)");
    expect(s.latencyMs.p99).toBeGreaterThanOrEqual(s.latencyMs.p50);
    expect(r.stderr).toContain("every task reached a final state; the numbers add up");
    // Nothing is left: the state folder is gone and the APIs no longer answer.
    expect(existsSync(stateDir)).toBe(false);
    for (const e of Object.values(out.endpoints)) {
      await expect(fetch(`${e.api}/healthz`)).rejects.toThrow();
      // Each region had its Prometheus (local/monitoring.ts), stopped with the rest.
      expect(e.prometheus).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      await expect(fetch(`${e.prometheus}/-/ready`)).rejects.toThrow();
    }
    // The RabbitMQ already running on this machine (the suite's) was not touched.
    const suiteAmqpPort = Number(new URL(inject("amqpUrl")).port);
    for (const e of Object.values(out.endpoints)) expect(e.amqpPorts).not.toContain(suiteAmqpPort);
    const conn = await connect(inject("amqpUrl"));
    await conn.close();
  }, 300_000);

  it("--tasks runs a user's module; --down stops exactly what a crashed run left behind", async () => {
    const stateDir = join(tmp.path, "crash");
    // A user's own module, importing the runtime by its package name as a user's project would
    // (it lives under the repository so that the package resolves).
    const userDir = join(REPO_ROOT, ".taskfleet", `test-user-${process.pid}-${Date.now()}`);
    mkdirSync(userDir, { recursive: true });
    const userTasks = join(userDir, "my-tasks.mjs");
    writeFileSync(
      userTasks,
      [
        'import { createApp } from "@taskfleet/worker";',
        "export const app = createApp();",
        'app.task("shop.total", async (a, b) => ({ total: a + b, region: process.env.TASKFLEET_REGION }), { queue: "default" });',
        "",
      ].join("\n"),
    );
    const child = spawn(
      process.execPath,
      ["--import", "tsx", MAIN, "--stack", STACK, "--tasks", userTasks, "--state-dir", stateDir],
      {
        cwd: REPO_ROOT,
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`the run did not come up:\n${stderr}`)), 180_000);
      child.stderr.on("data", (c: Buffer) => {
        stderr += c.toString();
        if (stderr.includes("press Ctrl-C")) {
          clearTimeout(t);
          resolve();
        }
      });
      child.on("exit", () => reject(new Error(`the run exited early:\n${stderr}`)));
    });
    const st = JSON.parse(readFileSync(join(stateDir, "state.json"), "utf8")) as StateFile;
    // The user's task runs (no demo workload in the module: the run sends no demo).
    expect(stderr).not.toContain("demo:");
    const eps = Object.values(st.endpoints as Record<string, { api: string; apiToken: string }>);
    const apis = eps.map((e) => e.api);
    const auth = { authorization: `Bearer ${eps[0]!.apiToken}` };
    // The API refuses callers without the run's token.
    expect((await fetch(`${apis[0]}/v1/tasks/x`)).status).toBe(401);
    expect(stderr).toContain(`API token         ${eps[0]!.apiToken}`);
    const sent = await fetch(`${apis[0]}/v1/tasks`, {
      method: "POST",
      headers: { "content-type": "application/json", ...auth },
      body: JSON.stringify({ name: "shop.total", args: [2, 40] }),
    });
    expect(sent.status).toBe(202);
    const { id } = (await sent.json()) as { id: string };
    let st2: { state: string; result?: { total: number } } = { state: "PENDING" };
    for (let i = 0; i < 100 && st2.state !== "SUCCESS"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      st2 = (await (
        await fetch(`${apis[0]}/v1/tasks/${id}`, { headers: auth })
      ).json()) as typeof st2;
    }
    expect(st2.result?.total).toBe(42);
    rmSync(userDir, { recursive: true, force: true });
    // two brokers, two Redis, two APIs and the stack's pools in each region
    expect(st.processes.length).toBeGreaterThanOrEqual(8);
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const left = st.processes.filter((p) => alive(p.pid));
    expect(left.length).toBe(st.processes.length);
    // A process that is not the run's (here: a sleep) is never touched, even if its pid is recorded.
    const bystander = spawn("sleep", ["60"], { stdio: "ignore" });
    const withBystander: StateFile = {
      ...st,
      processes: [...st.processes, { what: "bystander", pid: bystander.pid! }],
    };
    writeFileSync(join(stateDir, "state.json"), JSON.stringify(withBystander));
    const down = spawnSync(
      process.execPath,
      ["--import", "tsx", MAIN, "--down", "--state-dir", stateDir],
      {
        cwd: REPO_ROOT,
        encoding: "utf8",
        timeout: 120_000,
      },
    );
    expect(down.status, down.stderr).toBe(0);
    expect(down.stderr).toContain(
      `stopped ${st.processes.length} process(es) left by a previous run`,
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(st.processes.filter((p) => alive(p.pid))).toEqual([]);
    expect(alive(bystander.pid!)).toBe(true);
    bystander.kill();
    expect(existsSync(stateDir)).toBe(false);
  }, 300_000);
});

describe("cross-region delivery through federation", () => {
  it("runs tasks sent to region A's API on region B's workers when A has none, and A's API reports them (3-node clusters)", async () => {
    const stack = loadStack(REPO_ROOT, STACK);
    const target = await LocalTarget.start({
      stack,
      stateDir: join(tmp.path, "xregion"),
      // Three clustered nodes per region: cluster formation from the generator's fixed node
      // list, quorum queues on a cluster, and federation between two clusters.
      brokerNodes: 3,
      tasksModule: DEMO_TASKS,
      poolsFor: (region, pools) =>
        region === "local-a" || region === stack.config.region ? [] : pools,
    });
    try {
      const [a, b] = target.regions as [(typeof target.regions)[0], (typeof target.regions)[0]];
      expect(a.workers).toHaveLength(0);
      expect(a.nodes).toHaveLength(3);
      const cluster = JSON.parse(
        await a.nodes[0]!.ctl(["cluster_status", "--formatter", "json"]),
      ) as {
        running_nodes: string[];
      };
      expect([...cluster.running_nodes].sort()).toEqual(a.nodes.map((n) => n.nodeName).sort());
      expect(b.workers.length).toBeGreaterThan(0);
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const res = await fetch(`${a.apiUrl}/v1/tasks`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${a.apiToken}` },
          body: JSON.stringify({
            name: "demo.checkout",
            args: [i, 100],
            priority: i % 2 ? "high" : "default",
          }),
        });
        expect(res.status).toBe(202);
        const body = (await res.json()) as { id: string; region: string };
        expect(body.region).toBe(a.name);
        ids.push(body.id);
      }
      const deadline = Date.now() + 60_000;
      const results = new Map<string, { state: string; result?: { region?: string } }>();
      while (results.size < ids.length && Date.now() < deadline) {
        for (const id of ids) {
          if (results.has(id)) continue;
          const res = await fetch(`${a.apiUrl}/v1/tasks/${id}`, {
            headers: { authorization: `Bearer ${a.apiToken}` },
          });
          const st = (await res.json()) as {
            state: string;
            result?: { region?: string };
          };
          if (st.state === "SUCCESS" || st.state === "FAILURE") results.set(id, st);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(results.size).toBe(ids.length);
      for (const st of results.values()) {
        expect(st.state).toBe("SUCCESS");
        expect(st.result?.region).toBe(b.name);
      }
    } finally {
      await target.stop();
    }
  }, 300_000);
});
