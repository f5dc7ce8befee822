/**
 * Scenario 4: a 3-node cluster formed on this machine from the rendered files (fixed node list,
 * shared cookie). Quorum queues get replicas on all three nodes; killing the node that leads the
 * queue while a producer publishes with confirms loses no confirmed message.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type ChannelModel } from "amqplib";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { tempDir } from "../../support/tmp.js";
import type { RabbitMqNode } from "../../../local/services/index.js";
import type { BrokerSpec } from "../../../components/broker/index.js";
import { PASSWORDS, PostStartSidecar, nodeFromRenderedFiles, testSpec } from "./support.js";

let spec: BrokerSpec;
let nodes: RabbitMqNode[] = [];
let cleanup: () => void;
const conns: ChannelModel[] = [];

beforeAll(async () => {
  const tmp = tempDir("taskfleet-broker-cluster-");
  cleanup = tmp.cleanup;
  spec = testSpec({ nodes: 3 });
  const id = randomBytes(3).toString("hex");
  const names = [1, 2, 3].map((i) => `tfc${id}-${i}`);
  const cookie = randomBytes(16).toString("hex").toUpperCase();
  const formation = { kind: "fixed" as const, nodes: names.map((n) => `${n}@localhost`) };
  nodes = names.map(
    (name) => nodeFromRenderedFiles(spec, join(tmp.path, name), { name, cookie, formation }).node,
  );
  // The first node finds no peer and forms the cluster (and imports the definitions); the others
  // discover it from the same list and join.
  for (const n of nodes) await n.start();
  // Quorum queues declared while the cluster had one member get the others as replicas: each
  // node's post-start sidecar (the StatefulSet's script) grows them onto its own node.
  const sidecars = nodes.map((n) => new PostStartSidecar(n, spec));
  try {
    await Promise.all(sidecars.map((s) => s.waitForRuns(1)));
  } finally {
    await Promise.all(sidecars.map((s) => s.stop()));
  }
});

afterAll(async () => {
  await Promise.allSettled(conns.map((c) => c.close()));
  await Promise.allSettled(nodes.map((n) => n.stop()));
  cleanup?.();
});

async function members(queue: string): Promise<{ leader: string; members: string[] }> {
  const out = await nodes[1]!.ctl([
    "list_queues",
    "name",
    "leader",
    "members",
    "-q",
    "--formatter",
    "json",
  ]);
  const rows = JSON.parse(out) as Array<{ name: string; leader: string; members: string[] }>;
  const row = rows.find((r) => r.name === queue)!;
  return { leader: row.leader, members: [...row.members].sort() };
}

describe("scenario 4: a 3-node cluster from the rendered files", () => {
  it("forms one cluster of three with pause_minority", async () => {
    const status = await nodes[2]!.ctl(["cluster_status", "--formatter", "json"]);
    const s = JSON.parse(status) as { running_nodes: string[]; cluster_name: string };
    expect([...s.running_nodes].sort()).toEqual(nodes.map((n) => n.nodeName).sort());
    expect(s.cluster_name).toBe("taskfleet-us-east-1");
    const env = await nodes[1]!.ctl([
      "eval",
      "application:get_env(rabbit, cluster_partition_handling).",
    ]);
    expect(env.trim()).toBe("{ok,pause_minority}");
  });

  it("every quorum queue has a replica on all three nodes", async () => {
    for (const q of ["high_priority", "default", "high_priority.dead", "default.dead"]) {
      expect((await members(q)).members).toEqual(nodes.map((n) => n.nodeName).sort());
    }
  });

  it("killing the queue leader's node during confirmed publishing loses no confirmed message", async () => {
    const { leader } = await members("default");
    const victim = nodes.find((n) => n.nodeName === leader)!;
    const survivors = nodes.filter((n) => n !== victim);
    const producerConn = await connect(
      survivors[0]!.url(spec.users.producers, PASSWORDS.producers),
    );
    producerConn.on("error", () => undefined);
    conns.push(producerConn);
    const ch = await producerConn.createConfirmChannel();
    ch.on("error", () => undefined);

    const confirmed = new Set<number>();
    let nacked = 0;
    const window = 50;
    const started = Date.now();
    let killAt = 0;
    let killDone: Promise<void> | null = null;
    let victimDownAt = 0;
    let sent = 0;
    // Publish windows of 50 with confirms; kill the leader's node after 1,000 messages and keep
    // publishing until 3,000 are sent and the node has been dead for 3 s.
    while (sent < 3000 || victimDownAt === 0 || Date.now() - victimDownAt < 3000) {
      const batch: Promise<void>[] = [];
      for (let j = sent; j < sent + window; j++) {
        batch.push(
          new Promise((resolve) => {
            ch.publish(
              "default",
              `default.task-${j}`,
              Buffer.from(String(j)),
              { persistent: true },
              (err) => {
                if (err) nacked++;
                else confirmed.add(j);
                resolve();
              },
            );
          }),
        );
      }
      sent += window;
      await Promise.all(batch);
      if (killDone === null && sent >= 1000) {
        killAt = Date.now();
        killDone = victim.kill().then(() => {
          victimDownAt = Date.now();
        });
      }
      await sleep(10);
    }
    const killed = killDone !== null;
    const elapsed = Date.now() - started;
    const total = sent;
    console.log(
      `scenario 4: ${total} publishes, ${confirmed.size} confirmed, ${nacked} nacked; killed ${victim.nodeName} (leader) ` +
        `after ${killAt - started} ms, publishing took ${elapsed} ms`,
    );
    expect(killed).toBe(true);
    expect(confirmed.size).toBeGreaterThan(total / 3);

    const after = await members("default");
    expect(after.leader).not.toBe(leader);

    const consumerConn = await connect(survivors[1]!.url(spec.users.workers, PASSWORDS.workers));
    conns.push(consumerConn);
    const cc = await consumerConn.createChannel();
    await cc.prefetch(500);
    const seen = new Set<number>();
    let duplicates = 0;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`drained ${seen.size} of ${confirmed.size} confirmed`)),
        30_000,
      );
      void cc.consume("default", (m) => {
        if (!m) return;
        const n = Number(m.content.toString());
        if (seen.has(n)) duplicates++;
        seen.add(n);
        cc.ack(m);
        if ([...confirmed].every((c) => seen.has(c))) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await sleep(500);
    const lost = [...confirmed].filter((c) => !seen.has(c));
    console.log(
      `scenario 4: consumer drained ${seen.size} distinct, ${duplicates} duplicates, lost ${lost.length}`,
    );
    expect(lost).toEqual([]);
  });
});
