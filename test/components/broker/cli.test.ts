import { execFile } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "../../support/tmp.js";

const execFileP = promisify(execFile);
const REPO = resolve(import.meta.dirname, "../../..");
const FIXTURES = join(REPO, "test/fixtures/broker");
const BIN = join(REPO, "worker-runtime/bin/taskfleet.mjs");

const tmp = tempDir("taskfleet-broker-cli-");
afterAll(() => tmp.cleanup());

async function taskfleet(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [BIN, ...args], {
      cwd: REPO,
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("taskfleet broker render", () => {
  it("writes the three files for the stack's region, with env passwords and placeholders", async () => {
    const out = join(tmp.path, "eu");
    const r = await taskfleet(
      ["broker", "render", "--stack", "fixture-eu", "--out", out, "--stacks-dir", FIXTURES],
      {
        TASKFLEET_BROKER_PASSWORD_WORKERS: "workers-from-env",
        TASKFLEET_BROKER_UPSTREAM_PASSWORD_US_EAST_1: "us-fed-secret",
      },
    );
    expect(r.stderr).toBe(
      "note: random passwords for producers, federation, monitoring (set TASKFLEET_BROKER_PASSWORD_<ROLE> to choose); see credentials.env\n" +
        "note: federation upstream password placeholder CHANGE-ME for ap-southeast-1 (set TASKFLEET_BROKER_UPSTREAM_PASSWORD_<REGION>)\n",
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      `wrote ${["rabbitmq.conf", "enabled_plugins", "definitions.json", "credentials.env"].map((f) => join(out, f)).join(", ")} for region eu-west-1\n`,
    );
    const conf = readFileSync(join(out, "rabbitmq.conf"), "utf8");
    expect(conf).toContain("cluster_name = taskfleet-eu-west-1\n");
    expect(conf).toContain("listeners.tcp.default = 5672\n");
    const defs = JSON.parse(readFileSync(join(out, "definitions.json"), "utf8")) as {
      parameters: Array<{ name: string; value: { uri?: string } }>;
      queues: Array<{ name: string }>;
    };
    expect(defs.queues.map((q) => q.name)).toEqual([
      "high_priority",
      "high_priority.dead",
      "default.shard.0",
      "default.shard.1",
      "default.dead",
    ]);
    expect(defs.parameters.filter((p) => p.value.uri).map((p) => [p.name, p.value.uri])).toEqual([
      [
        "us-east-1",
        "amqps://taskfleet-federation:us-fed-secret@broker.us-east-1.example.com:5671/%2F",
      ],
      [
        "ap-southeast-1",
        "amqp://taskfleet-federation:CHANGE-ME@broker.ap-southeast-1.federation.invalid:5672/%2F",
      ],
    ]);
    const creds = readFileSync(join(out, "credentials.env"), "utf8");
    expect(creds).toContain(
      "# user taskfleet-workers\nTASKFLEET_BROKER_PASSWORD_WORKERS=workers-from-env\n",
    );
    expect(creds).toMatch(/TASKFLEET_BROKER_PASSWORD_PRODUCERS=[A-Za-z0-9_-]{24}\n/);
    expect(statSync(join(out, "credentials.env")).mode & 0o777).toBe(0o600);
    expect(statSync(join(out, "definitions.json")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(out, "enabled_plugins"), "utf8")).toContain("rabbitmq_federation,");
  });

  it.each([
    [
      ["--stack", "fixture-even"],
      "taskfleet:broker.nodes: 4 is even; use an odd count from 3 to 7 (5 recommended)\n",
    ],
    [
      ["--stack", "fixture-selflink"],
      'taskfleet:broker.federation[0].region: "us-east-1" is this broker\'s own region; a link must name another region\n',
    ],
    [
      ["--stack", "fixture-noconfig"],
      `${join(FIXTURES, "Pulumi.fixture-noconfig.yaml")}: has no config: mapping\n`,
    ],
    [
      ["--stack", "nope"],
      `--stack: "nope" has no stack file ${join(FIXTURES, "Pulumi.nope.yaml")}; known stacks: fixture-eu, fixture-even, fixture-noconfig, fixture-selflink\n`,
    ],
  ])("refuses %j with a clear message and exit code 2", async (args, message) => {
    const r = await taskfleet([
      "broker",
      "render",
      ...args,
      "--out",
      join(tmp.path, "x"),
      "--stacks-dir",
      FIXTURES,
    ]);
    expect(r.stderr).toBe(message);
    expect(r.code).toBe(2);
  });

  it("explains missing arguments", async () => {
    const r = await taskfleet(["broker", "render", "--stack", "fixture-eu"]);
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toBe("--out: missing");
    const r2 = await taskfleet(["broker", "draw"]);
    expect(r2.stderr.split("\n")[0]).toBe('unknown broker command "draw"');
  });
});
