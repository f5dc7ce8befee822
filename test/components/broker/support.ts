/** Boots real RabbitMQ nodes from the broker generator's rendered files, for the broker suites. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RabbitMqNode } from "../../../local/services/index.js";
import {
  renderBrokerFiles,
  resolveBrokerSpec,
  type BrokerFiles,
  type BrokerSpec,
  type ClusterFormation,
} from "../../../components/broker/index.js";
import type { BrokerCredentials } from "../../../components/broker/definitions.js";

export const PASSWORDS = Object.freeze({
  workers: "worker-secret-1",
  producers: "producer-secret-1",
  federation: "federation-secret-1",
  monitoring: "monitoring-secret-1",
});

/** Small disk limit: test machines have little free disk compared with a broker host. */
export const TEST_DISK_FREE_LIMIT_GIB = 0.1;

export function testSpec(input: Record<string, unknown>, region = "us-east-1"): BrokerSpec {
  return resolveBrokerSpec(
    { diskFreeLimitGiB: TEST_DISK_FREE_LIMIT_GIB, ...input },
    "taskfleet:broker",
    region,
  );
}

/**
 * Renders the files for `spec` into `dir` (listeners left to the node, which picks free ports)
 * and returns a node that boots from them.
 */
export function nodeFromRenderedFiles(
  spec: BrokerSpec,
  dir: string,
  opts: {
    name?: string;
    cookie?: string;
    formation?: ClusterFormation;
    credentials?: BrokerCredentials;
    amqpPort?: number;
    distPort?: number;
  } = {},
): { node: RabbitMqNode; files: BrokerFiles } {
  mkdirSync(dir, { recursive: true });
  const definitionsFile = join(dir, "definitions.json");
  const files = renderBrokerFiles(spec, opts.credentials ?? { passwords: PASSWORDS }, {
    listeners: false,
    definitionsFile,
    ...(opts.formation ? { formation: opts.formation } : {}),
  });
  writeFileSync(definitionsFile, files["definitions.json"]);
  writeFileSync(join(dir, "rendered-rabbitmq.conf"), files["rabbitmq.conf"]);
  const plugins = /^\[(.*)\]\.\n$/.exec(files.enabled_plugins)![1]!.split(",");
  const node = new RabbitMqNode({
    dir,
    extraConfig: files["rabbitmq.conf"],
    plugins,
    ...(opts.name ? { name: opts.name } : {}),
    ...(opts.cookie ? { cookie: opts.cookie } : {}),
    ...(opts.amqpPort ? { amqpPort: opts.amqpPort } : {}),
    ...(opts.distPort ? { distPort: opts.distPort } : {}),
  });
  return { node, files };
}

/** Resolves `{ code, message }` of the AMQP error `fn` fails with, or throws if it succeeds. */
export async function amqpError(
  fn: () => Promise<unknown>,
): Promise<{ code: number; message: string }> {
  try {
    await fn();
  } catch (err) {
    const e = err as { code?: number; message: string };
    return { code: e.code ?? -1, message: e.message };
  }
  throw new Error("expected an AMQP error");
}
