/**
 * The rendered TLS listeners on a real node: AMQPS with the rendered ssl_options (server
 * certificate from a test CA, peer verification on), management over HTTPS.
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { request } from "node:https";
import { connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "amqplib";
import { tempDir } from "../../support/tmp.js";
import {
  freePort,
  freePorts,
  installedRabbitmqVersion,
  RabbitMqNode,
  startLogged,
  waitExit,
  waitForPort,
} from "../../../local/services/index.js";
import {
  brokerPlugins,
  renderBrokerFiles,
  type BrokerSpec,
} from "../../../components/broker/index.js";
import { PASSWORDS, testSpec } from "./support.js";

const EXPORTER = join(
  import.meta.dirname,
  "../../../components/monitoring/exporter/federation-exporter.mjs",
);

let node: RabbitMqNode;
let spec: BrokerSpec;
let ca: Buffer;
let ports: { amqp: number; amqps: number; mgmt: number; prom: number };
let cleanup: () => void;
let tmpPath: string;
const exporters: ChildProcess[] = [];

function makeCerts(dir: string): void {
  const ssl = (args: string[]): void => {
    execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  };
  ssl([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=taskfleet-test-ca",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
  ]);
  ssl([
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=localhost",
    "-keyout",
    "tls.key",
    "-out",
    "tls.csr",
  ]);
  writeFileSync(join(dir, "san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  ssl([
    "x509",
    "-req",
    "-in",
    "tls.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    "san.ext",
    "-out",
    "tls.crt",
  ]);
}

beforeAll(async () => {
  const tmp = tempDir("taskfleet-broker-tls-");
  cleanup = tmp.cleanup;
  tmpPath = tmp.path;
  makeCerts(tmp.path);
  ca = readFileSync(join(tmp.path, "ca.crt"));
  const [amqp, amqps, mgmt, prom] = await freePorts(4);
  ports = { amqp: amqp!, amqps: amqps!, mgmt: mgmt!, prom: prom! };
  spec = testSpec({
    tls: {
      enabled: true,
      caCertFile: join(tmp.path, "ca.crt"),
      certFile: join(tmp.path, "tls.crt"),
      keyFile: join(tmp.path, "tls.key"),
      // keep the plain listener: the node helper waits on it to know the node is up
      disablePlainListener: false,
    },
  });
  const dir = join(tmp.path, "node");
  const files = renderBrokerFiles(
    spec,
    { passwords: PASSWORDS },
    {
      definitionsFile: join(tmp.path, "definitions.json"),
      version: installedRabbitmqVersion(),
      listeners: {
        bindAddress: "127.0.0.1",
        amqpPort: ports.amqp,
        amqpsPort: ports.amqps,
        managementPort: ports.mgmt,
        prometheusPort: ports.prom,
      },
    },
  );
  writeFileSync(join(tmp.path, "definitions.json"), files["definitions.json"]);
  node = new RabbitMqNode({
    dir,
    extraConfig: files["rabbitmq.conf"],
    plugins: brokerPlugins(),
    writeListeners: false,
    amqpPort: ports.amqp,
    managementPort: ports.mgmt,
    prometheusPort: ports.prom,
  });
  await node.start();
  await awaitTlsHandshake(ports.amqps, ca, 60_000);
});

/**
 * The node helper waits on the plain listener; the TLS listener starts beside it, and on a loaded
 * machine its first handshakes can outlast RabbitMQ's handshake timeout. Wait until one completes.
 */
async function awaitTlsHandshake(port: number, caCert: Buffer, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = tlsConnect({ host: "127.0.0.1", port, ca: [caCert], servername: "localhost" });
      s.once("secureConnect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`no TLS handshake on port ${port} in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

afterAll(async () => {
  for (const c of exporters) {
    c.kill("SIGTERM");
    if (!(await waitExit(c, 5_000))) c.kill("SIGKILL");
  }
  await node?.stop();
  cleanup?.();
});

describe("rendered TLS listeners", () => {
  it("a producer publishes over AMQPS, verifying the server against the CA", async () => {
    const conn = await connect(
      `amqps://${spec.users.producers}:${PASSWORDS.producers}@localhost:${ports.amqps}`,
      { ca: [ca] },
    );
    try {
      const ch = await conn.createConfirmChannel();
      ch.publish("default", "default.tls", Buffer.from("over tls"));
      await ch.waitForConfirms();
    } finally {
      await conn.close();
    }
    const worker = await connect(node.url(spec.users.workers, PASSWORDS.workers));
    try {
      const m = await (await worker.createChannel()).get("default", { noAck: true });
      expect(m && m.content.toString()).toBe("over tls");
    } finally {
      await worker.close();
    }
  });

  it("a client that does not trust the CA is refused by its own TLS check", async () => {
    await expect(
      connect(`amqps://${spec.users.producers}:${PASSWORDS.producers}@localhost:${ports.amqps}`),
    ).rejects.toThrow(/self-signed certificate|unable to verify|certificate/i);
  });

  it("management answers over HTTPS with the same certificate", async () => {
    const auth = Buffer.from(`${spec.users.monitoring}:${PASSWORDS.monitoring}`).toString("base64");
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: "localhost",
          port: ports.mgmt,
          path: "/api/overview",
          ca,
          headers: { authorization: `Basic ${auth}` },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(200);
  });

  // What the Region deploys with TLS on: the federation exporter reads the management API over
  // HTTPS and trusts the broker's CA through NODE_EXTRA_CA_CERTS (Node's fetch honours it).
  async function exporterScrapeSuccess(extraCa: boolean): Promise<string | undefined> {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      RABBITMQ_MANAGEMENT_URL: `https://localhost:${ports.mgmt}`,
      RABBITMQ_USERNAME: spec.users.monitoring,
      RABBITMQ_PASSWORD: PASSWORDS.monitoring,
      EXPORTER_PORT: String(port),
      EXPORTER_HOST: "127.0.0.1",
    };
    delete env.NODE_EXTRA_CA_CERTS;
    if (extraCa) env.NODE_EXTRA_CA_CERTS = join(tmpPath, "ca.crt");
    const child = startLogged(process.execPath, [EXPORTER], {
      logFile: join(tmpPath, `exporter-${port}.log`),
      env,
    });
    exporters.push(child);
    await waitForPort(port, 15_000, "federation exporter");
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return /^taskfleet_federation_exporter_scrape_success (\d)$/m.exec(text)?.[1];
  }

  it("the federation exporter reads management over HTTPS when given the CA through NODE_EXTRA_CA_CERTS", async () => {
    expect(await exporterScrapeSuccess(true)).toBe("1");
    expect(await exporterScrapeSuccess(false)).toBe("0");
  });
});
