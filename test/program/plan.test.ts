import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import YAML from "yaml";
import { run } from "../../cli/plan.js";
import { tempDir } from "../support/tmp.js";

const STACKS = new URL("../../stacks/", import.meta.url).pathname;
const cleanups: (() => void)[] = [];
function tmp(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t.path;
}

function captureStderr(): { text: () => string; restore: () => void } {
  let buf = "";
  const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    buf += String(chunk);
    return true;
  });
  return { text: () => buf, restore: () => spy.mockRestore() };
}

describe("taskfleet plan", () => {
  afterEach(() => vi.restoreAllMocks());
  afterAll(() => cleanups.forEach((c) => c()));

  it("writes every resource with type, name, parent and inputs, the Kubernetes objects as YAML, and the outputs", async () => {
    const out = tmp();
    const log = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    expect(await run(["--stack", "prod-eu-west-1", "--out", out])).toBe(0);
    log.mockRestore();
    const resources = JSON.parse(readFileSync(join(out, "resources.json"), "utf8")) as {
      type: string;
      name: string;
      parent: string | null;
      inputs: Record<string, unknown>;
    }[];
    expect(resources.find((r) => r.type === "taskfleet:region:Region")).toMatchObject({
      name: "taskfleet",
      parent: "taskfleet-prod-eu-west-1",
    });
    const sts = resources.find(
      (r) => r.type === "kubernetes:apps/v1:StatefulSet" && r.name === "taskfleet-broker",
    );
    expect(sts?.parent).toBe("taskfleet-broker");
    // Secrets never reach the files in clear.
    const text = readFileSync(join(out, "resources.json"), "utf8");
    expect(text).not.toContain("mock-taskfleet-broker-workers-password");
    expect(text).toContain("[secret]");
    const docs = YAML.parseAllDocuments(readFileSync(join(out, "kubernetes.yaml"), "utf8")).map(
      (d) => d.toJS() as { kind: string },
    );
    expect(docs.filter((d) => d.kind === "ScaledObject")).toHaveLength(2);
    expect(docs.filter((d) => d.kind === "StatefulSet").length).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(readFileSync(join(out, "outputs.json"), "utf8"))).toMatchObject({
      region: "eu-west-1",
      brokerFederationPassword: "[secret]",
    });
  });

  it("records each resource's provider, dependsOn, protect and ignoreChanges, and the rules it ran", async () => {
    const out = tmp();
    const log = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    expect(await run(["--stack", "prod-us-east-1", "--out", out])).toBe(0);
    log.mockRestore();
    const resources = JSON.parse(readFileSync(join(out, "resources.json"), "utf8")) as {
      type: string;
      name: string;
      provider: string | null;
      dependsOn: string[];
      protect: boolean;
      ignoreChanges: string[];
    }[];
    const one = (type: string, name: string) =>
      resources.find((r) => r.type === type && r.name === name)!;
    const scaler = one(
      "kubernetes:keda.sh/v1alpha1:ScaledObject",
      "taskfleet-workers-default-scaler",
    );
    expect(scaler.provider).toBe("pulumi:providers:kubernetes::taskfleet-compute-k8s");
    expect(scaler.dependsOn).toContain("kubernetes:helm.sh/v3:Release::taskfleet-compute-keda");
    expect(scaler.protect).toBe(false);
    expect(
      one(
        "aws:elasticache/globalReplicationGroup:GlobalReplicationGroup",
        "taskfleet-storage-global",
      ).ignoreChanges,
    ).toEqual(["primaryReplicationGroupId"]);
    expect(one("aws:ec2/vpc:Vpc", "taskfleet-network-vpc").provider).toBe(
      "pulumi:providers:aws::aws-us-east-1",
    );
    const rules = JSON.parse(readFileSync(join(out, "rules.json"), "utf8")) as {
      rules: { id: string; source: string }[];
      findings: unknown[];
    };
    expect(rules.rules.map((r) => r.id)).toContain("crd-before-custom-resources");
    expect(rules.findings).toEqual([]);
  });

  it("exits 1 with the validation message on bad config, writing nothing", async () => {
    const dir = tmp();
    const out = join(tmp(), "plan");
    for (const f of [
      "Pulumi.prod-us-east-1.yaml",
      "Pulumi.prod-eu-west-1.yaml",
      "Pulumi.prod-ap-southeast-1.yaml",
    ])
      copyFileSync(join(STACKS, f), join(dir, f));
    const doc = YAML.parse(readFileSync(join(dir, "Pulumi.prod-eu-west-1.yaml"), "utf8")) as {
      config: Record<string, Record<string, unknown>>;
    };
    doc.config["taskfleet:broker"]!.nodes = 4;
    writeFileSync(join(dir, "Pulumi.prod-eu-west-1.yaml"), YAML.stringify(doc));
    const err = captureStderr();
    const code = await run(["--stack", "prod-eu-west-1", "--out", out, "--stacks-dir", dir]);
    err.restore();
    expect(code).toBe(1);
    expect(err.text()).toMatch(/^taskfleet:broker\.nodes: 4 /);
    expect(existsSync(out)).toBe(false);
  });

  it("writes the plan and exits 1 listing the cloud rules' findings (a 4-CPU broker on 4-vCPU nodes)", async () => {
    const dir = tmp();
    const out = join(tmp(), "plan");
    for (const f of [
      "Pulumi.prod-us-east-1.yaml",
      "Pulumi.prod-eu-west-1.yaml",
      "Pulumi.prod-ap-southeast-1.yaml",
    ])
      copyFileSync(join(STACKS, f), join(dir, f));
    const file = join(dir, "Pulumi.prod-us-east-1.yaml");
    const doc = YAML.parse(readFileSync(file, "utf8")) as {
      config: Record<string, Record<string, unknown>>;
    };
    doc.config["taskfleet:brokerCluster"]!.cpu = "4";
    writeFileSync(file, YAML.stringify(doc));
    const err = captureStderr();
    const log = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const code = await run(["--stack", "prod-us-east-1", "--out", out, "--stacks-dir", dir]);
    log.mockRestore();
    err.restore();
    expect(code).toBe(1);
    expect(err.text()).toContain("plan prod-us-east-1: 1 of the cloud rules' checks failed:\n");
    expect(err.text()).toContain(
      "  [pod-fits-node] kubernetes:apps/v1:StatefulSet::taskfleet-broker spec.template.spec.containers[].resources.requests: pod taskfleet-broker requests 4200m CPU",
    );
    const rules = JSON.parse(readFileSync(join(out, "rules.json"), "utf8")) as {
      findings: { rule: string }[];
    };
    expect(rules.findings.map((f) => f.rule)).toEqual(["pod-fits-node"]);
  });

  it("exits 1 naming the stack key and allowed values for a bad region setting", async () => {
    const dir = tmp();
    writeFileSync(
      join(dir, "Pulumi.bad.yaml"),
      YAML.stringify({
        config: {
          "taskfleet:region": "eu-west-1",
          "taskfleet:brokerCluster": { volumeType: "st1" },
        },
      }),
    );
    const err = captureStderr();
    const code = await run(["--stack", "bad", "--out", join(dir, "out"), "--stacks-dir", dir]);
    err.restore();
    expect(code).toBe(1);
    expect(err.text()).toBe(
      'taskfleet:brokerCluster.volumeType: "st1" is not allowed; use one of "gp3", "io2"\n',
    );
  });

  it("exits 1 for a stack that does not exist, listing the stacks", async () => {
    const err = captureStderr();
    const code = await run(["--stack", "prod-mars-1", "--out", tmp()]);
    err.restore();
    expect(code).toBe(1);
    expect(err.text()).toContain(
      "stacks: dev, prod-ap-southeast-1, prod-eu-west-1, prod-us-east-1",
    );
  });
});
