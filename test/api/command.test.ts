/**
 * `taskfleet api` as users run it: flags with exact error messages (no tokens file: refuses to
 * start), `taskfleet api token new`, and the real command through the package's bin against the
 * shared RabbitMQ and Redis — an allow-list from a task module (`-A`), readiness, the tokens file
 * reloaded on SIGHUP while requests keep flowing, and a graceful stop on SIGTERM.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { connect } from "amqplib";
import { afterAll, describe, expect, inject, it } from "vitest";
import { parseApiArgs, ApiUsageError } from "../../worker-runtime/src/api/command.js";
import { ClientRegistry, sha256Hex } from "../../worker-runtime/src/api/auth.js";
import { tempDir } from "../support/tmp.js";
import { tokenOf, tokensFileText } from "./support.js";

const execFileP = promisify(execFile);

const REPO = join(import.meta.dirname, "..", "..");
const BIN = join(REPO, "worker-runtime", "bin", "taskfleet.mjs");
const tmp = tempDir("taskfleet-api-cmd-");
afterAll(() => tmp.cleanup());

const env = {
  TASKFLEET_BROKER_URL: "amqp://x",
  TASKFLEET_RESULT_BACKEND: "redis://y",
  TASKFLEET_API_TOKENS_FILE: "/etc/taskfleet/tokens",
};

describe("taskfleet api flags", () => {
  it("defaults to the seed's queues and priorities and reads URLs from the environment", () => {
    const a = parseApiArgs([], env);
    expect(a).toMatchObject({
      port: 8080,
      host: "127.0.0.1",
      metricsPort: 9464,
      tokensFile: "/etc/taskfleet/tokens",
      noAuth: false,
      rateLimitPerSecond: 1000,
      maxInFlight: 20000,
      maxInFlightPerClient: 10000,
      region: "local",
      brokerUrl: "amqp://x",
      backendUrl: "redis://y",
    });
    expect(a.routing).toEqual({
      queues: {
        high_priority: { exchange: "high_priority", routingKeyPrefix: "high" },
        default: { exchange: "default", routingKeyPrefix: "default" },
      },
      priorities: { high: "high_priority", default: "default" },
      defaultQueue: "default",
    });
  });

  it("refuses bad flags with exact messages", () => {
    const cases: [string[], NodeJS.ProcessEnv, string][] = [
      [
        ["--queue", "a=b"],
        env,
        '--queue: "a=b" is not a queue route; write <queue>=<exchange>:<routing key prefix>, e.g. high_priority=high_priority:high',
      ],
      [
        ["--priority", "urgent=nowhere"],
        env,
        '--priority: "urgent=nowhere" names no queue; queues are high_priority, default',
      ],
      [
        ["--shard-queue", "x"],
        env,
        '--shard-queue: "x" is not a queue; queues are high_priority, default',
      ],
      [
        ["--port", "70000"],
        env,
        '--port: "70000" is not allowed; use a whole number from 0 to 65535',
      ],
      [
        [],
        { TASKFLEET_API_TOKENS_FILE: "t" },
        "--broker: missing; pass --broker amqp://... or set TASKFLEET_BROKER_URL",
      ],
      [
        ["--broker", "amqp://x", "--tokens-file", "t"],
        {},
        "--backend: missing; pass --backend redis://... or set TASKFLEET_RESULT_BACKEND",
      ],
      [
        [],
        { ...env, TASKFLEET_API_TOKENS_FILE: "" },
        '--tokens-file: missing; the API does not run without authentication. Pass --tokens-file <path> (or set TASKFLEET_API_TOKENS_FILE), with lines made by "taskfleet api token new <client-id> --tasks <globs>"; for a throwaway run on loopback only: --dangerously-disable-auth',
      ],
      [
        ["--dangerously-disable-auth", "--host", "0.0.0.0"],
        { ...env, TASKFLEET_API_TOKENS_FILE: "" },
        "--dangerously-disable-auth: refused with --host 0.0.0.0; without authentication the API listens only on a loopback address (127.0.0.1, ::1, localhost)",
      ],
      [
        ["--dangerously-disable-auth"],
        env,
        "--dangerously-disable-auth: cannot be combined with --tokens-file (or TASKFLEET_API_TOKENS_FILE); choose one",
      ],
      [["--verbose"], env, "--verbose: unknown flag; see taskfleet api --help"],
    ];
    for (const [argv, e, msg] of cases) {
      expect(() => parseApiArgs(argv, e)).toThrow(ApiUsageError);
      expect(() => parseApiArgs(argv, e)).toThrow(msg);
    }
  });
});

describe("taskfleet api token new", () => {
  it("prints a new token once and the tokens-file line holding only its SHA-256", async () => {
    const { stdout } = await execFileP(process.execPath, [
      BIN,
      "api",
      "token",
      "new",
      "ci-reports",
      "--tasks",
      "reports.*,billing.invoice",
    ]);
    const m =
      /^Token for client "ci-reports" \(shown only now; keep it in a secret store\):\n {2}(tf_[A-Za-z0-9_-]{43})\nLine for the tokens file \(add it, then send the API SIGHUP or restart it\):\n {2}(ci-reports [0-9a-f]{64} reports\.\*,billing\.invoice)\n$/.exec(
        stdout,
      );
    expect(m, stdout).not.toBeNull();
    const [, token, line] = m!;
    expect(line).toBe(`ci-reports ${sha256Hex(token!)} reports.*,billing.invoice`);
    expect(ClientRegistry.fromText(line!).authenticate(token!)?.id).toBe("ci-reports");
    await expect(execFileP(process.execPath, [BIN, "api", "token", "new", "x"])).rejects.toThrow(
      "--tasks: missing; name the tasks this client may send",
    );
  });
});

describe("taskfleet api command", () => {
  it("serves with an allow-list from -A, is ready, and stops gracefully on SIGTERM", async () => {
    const ready = join(tmp.path, "ready");
    const queue = `apicmd-${process.pid}`;
    const conn = await connect(inject("amqpUrl"));
    const ch = await conn.createChannel();
    await ch.assertQueue(queue, { durable: false, autoDelete: false });
    await ch.bindQueue(queue, "amq.topic", `${queue}.#`);
    const tokens = join(tmp.path, "tokens");
    // Only alice at first; bob is added while the API runs.
    writeFileSync(tokens, tokensFileText().split("\n")[0]!);
    const child = spawn(
      process.execPath,
      [
        BIN,
        "api",
        "--port",
        "0",
        "--ready-file",
        ready,
        "--region",
        "test-r",
        "-A",
        join(REPO, "local", "demoTasks.ts"),
        "--tokens-file",
        tokens,
        "--metrics-port",
        "0",
        "--queue",
        `default=amq.topic:${queue}`,
      ],
      {
        cwd: REPO,
        env: {
          ...process.env,
          TASKFLEET_BROKER_URL: inject("amqpUrl"),
          TASKFLEET_RESULT_BACKEND: inject("redisUrl"),
        },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    try {
      for (let i = 0; i < 300 && !existsSync(ready); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(existsSync(ready), stderr).toBe(true);
      const [port, metricsPort] = readFileSync(ready, "utf8").trim().split(" ");
      const base = `http://127.0.0.1:${port}`;
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).status).toBe(200);
      const send = (who: "alice" | "bob", name: string): Promise<Response> =>
        fetch(`${base}/v1/tasks`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${tokenOf(who)}` },
          body: JSON.stringify({ name }),
        });
      expect((await send("bob", "demo.flaky")).status).toBe(401);
      // SIGHUP reloads the file; requests sent meanwhile are all answered.
      writeFileSync(tokens, tokensFileText().replace("bob.*", "demo.*"));
      const during = Array.from({ length: 40 }, () => send("alice", "demo.checkout"));
      child.kill("SIGHUP");
      expect((await Promise.all(during)).map((r) => r.status)).toEqual(Array(40).fill(202));
      let bob = 401;
      for (let i = 0; i < 50 && bob === 401; i++) {
        bob = (await send("bob", "demo.flaky")).status;
        if (bob === 401) await new Promise((r) => setTimeout(r, 100));
      }
      expect(bob).toBe(202);
      // A broken file is refused and the clients in force stay.
      writeFileSync(tokens, "bob not-a-hash demo.*");
      child.kill("SIGHUP");
      await new Promise((r) => setTimeout(r, 500));
      expect((await send("bob", "demo.flaky")).status).toBe(202);
      expect(stderr).toContain("tokens file NOT reloaded; the previous clients stay in force");
      const res = await send("alice", "demo.nope");
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        error: "bad_request",
        field: "name",
        message:
          'name: "demo.nope" is not a task this API accepts; known tasks: demo.broken, demo.checkout, demo.flaky, demo.thumbnail',
      });
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    // Every 202 is a task in the queue: 40 during the reload and bob's.
    expect((await ch.checkQueue(queue)).messageCount).toBeGreaterThanOrEqual(41);
    await ch.deleteQueue(queue);
    await conn.close();
    expect(stderr).toContain('"msg":"stopped"');
  });
});
