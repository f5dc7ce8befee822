/**
 * The CI workflow: on pull requests a `pulumi preview --diff` with the policy pack for exactly the
 * production stacks in `stacks/`, commented on the pull request; on main a `pulumi up` per region,
 * the result-store primary first, each region after the one before.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const ROOT = join(import.meta.dirname, "..", "..");
const read = (p: string): Record<string, unknown> =>
  parse(readFileSync(join(ROOT, p), "utf8")) as Record<string, unknown>;

type Job = {
  if?: string;
  needs?: string | string[];
  uses?: string;
  with?: Record<string, unknown>;
  permissions?: Record<string, string>;
  strategy?: { "fail-fast"?: boolean; matrix: { include: { stack: string; region: string }[] } };
  steps?: { uses?: string; with?: Record<string, unknown>; run?: string }[];
};

const preview = read(".github/workflows/preview.yml") as {
  on: Record<string, unknown>;
  jobs: Record<string, Job>;
};
const upWorkflow = read(".github/workflows/pulumi-up.yml") as {
  on: { workflow_call: { inputs: Record<string, unknown> } };
  jobs: Record<string, Job>;
};

/** Production stacks, from `stacks/Pulumi.prod-*.yaml`. */
function prodStacks(): { stack: string; config: Record<string, unknown> }[] {
  const dir = join(ROOT, "stacks");
  return readdirSync(dir)
    .filter((f) => /^Pulumi\.prod-.+\.yaml$/.test(f))
    .sort()
    .map((f) => ({
      stack: f.slice("Pulumi.".length, -".yaml".length),
      config:
        (parse(readFileSync(join(dir, f), "utf8")) as { config?: Record<string, unknown> })
          .config ?? {},
    }));
}

/** True when a `role: primary` appears anywhere under `value` (the Global Datastore role). */
function declaresPrimary(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(declaresPrimary);
  if (typeof value === "object" && value !== null) {
    return Object.entries(value).some(
      ([k, v]) => (k === "role" && v === "primary") || declaresPrimary(v),
    );
  }
  return false;
}

function pulumiStep(job: Job) {
  const step = (job.steps ?? []).find((s) => s.uses?.startsWith("pulumi/actions@"));
  if (!step) throw new Error("no pulumi/actions step");
  return step;
}

/** The `pulumi up` jobs in the order `needs` chains them. */
function upChain(): { job: string; stack: string; region: string }[] {
  const ups = Object.entries(preview.jobs).filter(
    ([, j]) => j.uses === "./.github/workflows/pulumi-up.yml",
  );
  const first = ups.filter(([, j]) => j.needs === undefined);
  expect(first).toHaveLength(1);
  const chain = [first[0]!];
  for (;;) {
    const next = ups.filter(
      ([, j]) =>
        j.needs === chain.at(-1)![0] ||
        (Array.isArray(j.needs) && j.needs.includes(chain.at(-1)![0])),
    );
    if (next.length === 0) break;
    expect(next).toHaveLength(1);
    chain.push(next[0]!);
  }
  expect(chain).toHaveLength(ups.length);
  return chain.map(([job, j]) => ({
    job,
    stack: String(j.with!.stack),
    region: String(j.with!.region),
  }));
}

describe("preview workflow", () => {
  it("runs on pull requests and on pushes to main", () => {
    expect(preview.on).toEqual({
      pull_request: { branches: ["main"] },
      push: { branches: ["main"] },
    });
  });

  it("previews exactly the production stacks in stacks/, each in its own AWS region", () => {
    const stacks = prodStacks();
    expect(stacks.length).toBeGreaterThanOrEqual(3);
    const names = stacks.map((s) => s.stack);
    const job = preview.jobs.preview!;
    const matrix = job.strategy!.matrix.include;
    expect(matrix.map((m) => m.stack).sort()).toEqual(names);
    for (const m of matrix) {
      expect(m.region).toBe(m.stack.replace(/^prod-/, ""));
      expect(stacks.find((s) => s.stack === m.stack)!.config["taskfleet:region"]).toBe(m.region);
    }
    expect(job.strategy!["fail-fast"]).toBe(false);
  });

  it("runs pulumi preview --diff with the policy pack and comments on the pull request", () => {
    const job = preview.jobs.preview!;
    expect(job.if).toBe("github.event_name == 'pull_request'");
    expect(job.permissions).toMatchObject({ "pull-requests": "write", "id-token": "write" });
    const step = pulumiStep(job);
    expect(step.with).toMatchObject({
      command: "preview",
      "stack-name": "${{ vars.PULUMI_ORG }}/${{ matrix.stack }}",
      diff: true,
      policyPacks: "policy",
      "comment-on-pr": true,
      "github-token": "${{ secrets.GITHUB_TOKEN }}",
    });
    const aws = job.steps!.find((s) =>
      s.uses?.startsWith("aws-actions/configure-aws-credentials@"),
    );
    expect(aws?.with?.["aws-region"]).toBe("${{ matrix.region }}");
    expect(job.steps!.some((s) => s.run?.startsWith("npm ci"))).toBe(true);
  });

  it("on main runs pulumi up for every production stack, one after another, the result-store primary first", () => {
    const chain = upChain();
    const stacks = prodStacks();
    const names = stacks.map((s) => s.stack);
    expect(chain.map((c) => c.stack).sort()).toEqual(names);
    for (const c of chain) expect(c.region).toBe(c.stack.replace(/^prod-/, ""));
    const primaries = stacks
      .filter((s) => declaresPrimary(s.config["taskfleet:storage"]))
      .map((s) => s.stack);
    expect(primaries).toHaveLength(1);
    expect(chain[0]!.stack).toBe(primaries[0]);
    expect(preview.jobs[chain[0]!.job]!.if).toBe(
      "github.event_name == 'push' && github.ref == 'refs/heads/main'",
    );
  });

  it("the called up workflow runs pulumi up with the policy pack on the given stack", () => {
    expect(Object.keys(upWorkflow.on.workflow_call.inputs).sort()).toEqual(["region", "stack"]);
    const job = upWorkflow.jobs.up!;
    expect(pulumiStep(job).with).toMatchObject({
      command: "up",
      "stack-name": "${{ vars.PULUMI_ORG }}/${{ inputs.stack }}",
      policyPacks: "policy",
    });
  });

  it("points at a policy pack that exists: PulumiPolicy.yaml, a versioned package and a mandatory pack", () => {
    expect(read("policy/PulumiPolicy.yaml").runtime).toBe("nodejs");
    const pkg = JSON.parse(readFileSync(join(ROOT, "policy/package.json"), "utf8")) as {
      version: string;
      main: string;
    };
    expect(pkg.version).toMatch(/^\d+\.\d+\.\d+$/);
    // Pulumi's policy runner `require`s `main`; analyzer.test.ts runs it that way.
    expect(existsSync(join(ROOT, "policy", pkg.main))).toBe(true);
    const index = readFileSync(join(ROOT, "policy/index.ts"), "utf8");
    expect(index).toMatch(/new PolicyPack\("taskfleet", \{\s*enforcementLevel: "mandatory"/);
    expect(existsSync(join(ROOT, "policy/policies.ts"))).toBe(true);
  });
});
