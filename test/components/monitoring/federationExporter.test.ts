/**
 * taskfleet's federation exporter against real RabbitMQ 3.10 nodes: a downstream node federates
 * a queue from an upstream node (queue federation, as the production stacks configure), the
 * exporter reads the downstream's management API and reports the link as running; when the
 * upstream node stops, the link is reported down; with a wrong password the exporter reports
 * that it cannot read the API.
 */
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  RabbitMqNode,
  freePort,
  startLogged,
  waitExit,
  waitForPort,
} from "../../../local/services/index.js";
import { tempDir } from "../../support/tmp.js";

const SCRIPT = join(
  import.meta.dirname,
  "../../../components/monitoring/exporter/federation-exporter.mjs",
);
const dir = tempDir("taskfleet-fedexp-");
const upstream = new RabbitMqNode({ dir: join(dir.path, "up") });
const downstream = new RabbitMqNode({ dir: join(dir.path, "down") });
const exporters: ChildProcess[] = [];

async function startExporter(password: string): Promise<number> {
  const port = await freePort();
  const child = startLogged(process.execPath, [SCRIPT], {
    logFile: join(dir.path, `exporter-${port}.log`),
    env: {
      ...process.env,
      RABBITMQ_MANAGEMENT_URL: downstream.managementUrl(),
      RABBITMQ_USERNAME: "guest",
      RABBITMQ_PASSWORD: password,
      EXPORTER_PORT: String(port),
      EXPORTER_HOST: "127.0.0.1",
    },
  });
  exporters.push(child);
  await waitForPort(port, 15_000, "federation exporter");
  return port;
}

async function metrics(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4");
  return res.text();
}

async function until(what: string, f: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await f()) return;
    await sleep(500);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const LINK =
  'taskfleet_federation_link_up{upstream="up",type="queue",name="tf-fed-q",vhost="/",node="';

beforeAll(async () => {
  await Promise.all([upstream.start(), downstream.start()]);
  await downstream.ctl([
    "set_parameter",
    "federation-upstream",
    "up",
    JSON.stringify({ uri: upstream.url(), "reconnect-delay": 1 }),
  ]);
  await downstream.ctl([
    "set_policy",
    "--apply-to",
    "queues",
    "tf-fed",
    "^tf-fed-q$",
    JSON.stringify({ "federation-upstream-set": "all" }),
  ]);
  await downstream.ctl([
    "eval",
    'rabbit_amqqueue:declare(rabbit_misc:r(<<"/">>, queue, <<"tf-fed-q">>), true, false, [], none, <<"test">>).',
  ]);
}, 180_000);

afterAll(async () => {
  for (const c of exporters) {
    c.kill("SIGTERM");
    if (!(await waitExit(c, 5_000))) c.kill("SIGKILL");
  }
  await Promise.allSettled([upstream.stop(), downstream.stop()]);
  dir.cleanup();
}, 120_000);

describe("federation exporter (real nodes)", () => {
  it("reports a running queue link as up, then as down when the upstream stops", async () => {
    const port = await startExporter("guest");
    await until("the link to run", async () =>
      (await metrics(port)).includes(`${downstream.nodeName}"} 1`),
    );
    const up = await metrics(port);
    expect(up).toContain(`${LINK}${downstream.nodeName}"} 1\n`);
    expect(up).toContain("taskfleet_federation_links 1\n");
    expect(up).toContain("taskfleet_federation_exporter_scrape_success 1\n");
    await upstream.stop();
    await until("the link to be reported down", async () =>
      (await metrics(port)).includes(`${LINK}${downstream.nodeName}"} 0\n`),
    );
    expect(await metrics(port)).toContain("taskfleet_federation_exporter_scrape_success 1\n");
  });

  it("reports that it cannot read the management API with a wrong password", async () => {
    const port = await startExporter("wrong");
    const text = await metrics(port);
    expect(text).toContain("taskfleet_federation_exporter_scrape_success 0\n");
    expect(text).toContain("taskfleet_federation_links 0\n");
    expect(text).not.toContain("taskfleet_federation_link_up{");
  });
});
