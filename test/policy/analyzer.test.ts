/**
 * The policy pack as the Pulumi engine runs it: Pulumi's own policy runner
 * (`@pulumi/pulumi/cmd/run-policy-pack <engine> <pack dir>`, what `pulumi preview --policy-pack
 * policy` starts) loads the pack from `policy/` (its package.json `main`), which prints the port of
 * its analyzer gRPC server; the test then asks it over gRPC for its info and to analyze resources
 * and a stack, as the engine does.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import analyzerGrpc from "@pulumi/pulumi/proto/analyzer_grpc_pb.js";
import analyzerPb from "@pulumi/pulumi/proto/analyzer_pb.js";
import emptyPb from "google-protobuf/google/protobuf/empty_pb.js";
import structPb from "google-protobuf/google/protobuf/struct_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { T } from "../../policy/policies.js";

type Client = InstanceType<typeof analyzerGrpc.AnalyzerClient>;
type Diagnostic = { policy: string; message: string; level: string };

const LEVEL = Object.fromEntries(
  Object.entries(analyzerPb.EnforcementLevel).map(([k, v]) => [v, k.toLowerCase()]),
) as Record<number, string>;

let child: ChildProcess;
let client: Client;
let stderr = "";

beforeAll(async () => {
  const root = join(import.meta.dirname, "..", "..");
  const runner = join(root, "node_modules", "@pulumi", "pulumi", "cmd", "run-policy-pack");
  // The engine address is the runner's first argument; the pack does not call the engine.
  child = spawn(process.execPath, [runner, "127.0.0.1:1", join(root, "policy")], {
    cwd: join(root, "policy"),
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    const t = setTimeout(
      () => reject(new Error(`no port within 60 s; stderr:\n${stderr}`)),
      60_000,
    );
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /^(\d+)\s*$/m.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
    child.once("exit", (code) => reject(new Error(`policy pack exited (${code}):\n${stderr}`)));
  });
  client = new analyzerGrpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}, 90_000);

afterAll(() => {
  client?.close();
  child?.kill("SIGKILL");
});

function unary<Req, Res>(
  fn: (req: Req, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown,
  req: Req,
): Promise<Res> {
  return new Promise((resolve, reject) =>
    fn.call(client, req, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

function diagnostics(res: InstanceType<typeof analyzerPb.AnalyzeResponse>): Diagnostic[] {
  return res.getDiagnosticsList().map((d) => ({
    policy: d.getPolicyname(),
    message: d.getMessage(),
    level: LEVEL[d.getEnforcementlevel()]!,
  }));
}

async function analyze(
  type: string,
  name: string,
  props: Record<string, unknown>,
): Promise<Diagnostic[]> {
  const req = new analyzerPb.AnalyzeRequest();
  req.setType(type);
  req.setName(name);
  req.setUrn(`urn:pulumi:prod-us-east-1::taskfleet::${type}::${name}`);
  req.setProperties(structPb.Struct.fromJavaScript(props as never));
  req.setOptions(new analyzerPb.AnalyzerResourceOptions());
  return diagnostics(await unary(client.analyze, req));
}

describe("the policy pack served over the analyzer protocol", () => {
  it("describes itself: name taskfleet, version from policy/package.json, every policy mandatory", async () => {
    const info = await unary<
      InstanceType<typeof emptyPb.Empty>,
      InstanceType<typeof analyzerPb.AnalyzerInfo>
    >(client.getAnalyzerInfo, new emptyPb.Empty());
    expect(info.getName()).toBe("taskfleet");
    expect(info.getVersion()).toBe("0.1.0");
    expect(
      info.getPoliciesList().map((p) => [p.getName(), LEVEL[p.getEnforcementlevel()]]),
    ).toEqual([
      ["eks-public-endpoint-restricted", "mandatory"],
      ["broker-storage-ssd", "mandatory"],
      ["broker-odd-node-count", "mandatory"],
      ["broker-network-policy", "mandatory"],
      ["encryption-at-rest", "mandatory"],
      ["redis-tls-in-transit", "mandatory"],
      ["no-public-broker-or-redis-ingress", "mandatory"],
      ["imdsv2-required", "mandatory"],
      ["pods-restricted", "mandatory"],
      ["api-exposure", "mandatory"],
    ]);
  });

  it("reports a mandatory violation for a launch template without IMDSv2 and none for a good one", async () => {
    expect(
      await analyze(T.launchTemplate, "nodes", { metadataOptions: { httpTokens: "optional" } }),
    ).toEqual([
      {
        policy: "imdsv2-required",
        message: expect.stringContaining(
          'launch template nodes: metadataOptions.httpTokens is "optional"; set it to "required" (IMDSv2)',
        ),
        level: "mandatory",
      },
    ]);
    expect(
      await analyze(T.launchTemplate, "nodes", { metadataOptions: { httpTokens: "required" } }),
    ).toEqual([]);
  });

  it("runs the stack policies on the whole stack", async () => {
    const res = new analyzerPb.AnalyzerResource();
    res.setType(T.statefulSet);
    res.setName("tf-broker");
    res.setUrn(`urn:pulumi:prod-us-east-1::taskfleet::${T.statefulSet}::tf-broker`);
    const labels = { "app.kubernetes.io/component": "broker" };
    res.setProperties(
      structPb.Struct.fromJavaScript({
        metadata: { name: "tf-broker", namespace: "taskfleet", labels },
        spec: {
          replicas: 5,
          template: { metadata: { labels }, spec: { containers: [] } },
          volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { storageClassName: "gp3" } }],
        },
      }),
    );
    res.setOptions(new analyzerPb.AnalyzerResourceOptions());
    const req = new analyzerPb.AnalyzeStackRequest();
    req.setResourcesList([res]);
    const ds = diagnostics(await unary(client.analyzeStack, req));
    expect(ds.map((d) => [d.policy, d.level])).toEqual([["broker-network-policy", "mandatory"]]);
    expect(ds[0]!.message).toContain(
      "StatefulSet tf-broker (broker) has no NetworkPolicy selecting its pods",
    );
  });
});
