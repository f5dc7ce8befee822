/**
 * The conventions the components promise, checked on their source: the type token matches the
 * file's path and class, every args field documents its @default, and the pure modules import
 * nothing from Pulumi.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const root = new URL("../../components/", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), "utf8");

const COMPONENTS: [path: string, token: string][] = [
  ["network/network.ts", "taskfleet:network:Network"],
  ["compute/computeCluster.ts", "taskfleet:compute:ComputeCluster"],
  ["broker/brokerCluster.ts", "taskfleet:broker:BrokerCluster"],
  ["federation/federation.ts", "taskfleet:federation:Federation"],
  ["workers/workerTier.ts", "taskfleet:workers:WorkerTier"],
  ["ingress/ingress.ts", "taskfleet:ingress:Ingress"],
  ["storage/storage.ts", "taskfleet:storage:Storage"],
  ["region.ts", "taskfleet:region:Region"],
];

const PURE = [
  "config/errors.ts",
  "config/read.ts",
  "config/regionConfig.ts",
  "config/stacks.ts",
  "config/stackValues.ts",
  "network/subnets.ts",
  "compute/nodePools.ts",
  "k8s/objects.ts",
  "storage/storagePlan.ts",
  "workers/workerManifests.ts",
  "ingress/apiManifests.ts",
  "federation/upstreams.ts",
  "broker/brokerManifests.ts",
  "regionPlan.ts",
];

/** Fields of `export interface <X>Args { ... }` with the comment right above each. */
function argsFields(source: string): { field: string; doc: string }[] {
  const m = /export interface \w+Args \{([\s\S]*?)\n\}/.exec(source);
  if (!m) throw new Error("no Args interface");
  const out: { field: string; doc: string }[] = [];
  const re = /(\/\*\*[\s\S]*?\*\/)\s*readonly (\w+)\??:|\n\s*readonly (\w+)\??:/g;
  for (let f = re.exec(m[1]!); f !== null; f = re.exec(m[1]!)) {
    out.push({ field: f[2] ?? f[3]!, doc: f[1] ?? "" });
  }
  return out;
}

describe.each(COMPONENTS)("%s", (path, token) => {
  const source = read(path);
  it(`registers as ${token}, the token matching its folder and class`, () => {
    expect(source).toContain(`TOKEN = "${token}"`);
    const [, layer, type] = token.split(":");
    const file = path.split("/").pop()!.replace(/\.ts$/, "");
    expect(file.toLowerCase()).toBe(type!.toLowerCase());
    expect(path.includes("/") ? path.split("/")[0] : "region").toBe(layer);
    expect(source).toContain(`export class ${type} extends pulumi.ComponentResource`);
    expect(source).toContain("this.registerOutputs(");
  });
  it("documents a @default on every args field", () => {
    const fields = argsFields(source);
    expect(fields.length).toBeGreaterThan(0);
    expect(fields.filter((f) => !f.doc.includes("@default")).map((f) => f.field)).toEqual([]);
  });
});

describe("pure modules", () => {
  it.each(PURE)("%s imports nothing from Pulumi", (path) => {
    expect(read(path)).not.toMatch(/from "@pulumi\//);
  });
});
