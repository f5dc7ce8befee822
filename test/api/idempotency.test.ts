/**
 * `Idempotency-Key` against real RabbitMQ and Redis: a repeat within 24 h answers the first answer
 * (same task id) and the broker holds one task — also when the repeats arrive while the first is
 * still being published, after the first got a 503, and after the first attempt's API stopped
 * answering (its lease lapsed); a key reused for another body is refused; keys are per client;
 * a batch's tasks are keyed one by one.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { ApiFixture, holdingGateway } from "./support.js";

let fx: ApiFixture;
afterEach(() => fx?.stop());
const key = (k: string): { headers: Record<string, string> } => ({
  headers: { "idempotency-key": `${fx.tag}-${k}` },
});

describe("Idempotency-Key", () => {
  it("answers a repeat with the first answer and stores one task; another body is a 422", async () => {
    fx = await new ApiFixture().start();
    const a = await fx.post({ name: "pay.charge", args: [42] }, key("k1"));
    const b = await fx.post({ name: "pay.charge", args: [42] }, key("k1"));
    expect(a.status).toBe(202);
    expect(b).toMatchObject({ status: 202, json: a.json });
    const other = await fx.post({ name: "pay.charge", args: [43] }, key("k1"));
    expect(other.status).toBe(422);
    expect(other.json).toEqual({
      error: "idempotency_key_reused",
      field: "Idempotency-Key",
      message:
        "Idempotency-Key: this key was used for another request body within 24 h; use a new key for a new request",
    });
    // Keys are per client: bob's k1 is another task.
    const bob = await fx.post({ name: "bob.charge" }, { client: "bob", ...key("k1") });
    expect(bob.status).toBe(202);
    expect(bob.json.id).not.toBe(a.json.id);
    const bad = await fx.post({ name: "x" }, { headers: { "idempotency-key": "" } });
    expect(bad.status).toBe(400);
    expect(bad.json.field).toBe("Idempotency-Key");
    expect((await fx.drain(fx.queues.default)).sort()).toEqual(
      [a.json.id as string, bob.json.id as string].sort(),
    );
  });

  it("answers repeats that arrive while the first is being published with its id, once it is confirmed", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    fx = await new ApiFixture().start({
      wrapGateway: (g) => holdingGateway(g, () => gate, seen),
    });
    const body = { name: "pay.charge", args: [1] };
    const first = fx.post(body, key("race"));
    await sleep(100);
    const repeats = Array.from({ length: 10 }, () => fx.post(body, key("race")));
    await sleep(200);
    release();
    const answers = await Promise.all([first, ...repeats]);
    expect(answers.map((a) => a.status)).toEqual(Array(11).fill(202));
    expect(new Set(answers.map((a) => a.json.id)).size).toBe(1);
    expect(seen).toHaveLength(1);
    expect(await fx.drain(fx.queues.default)).toEqual([answers[0]!.json.id]);
  });

  it("publishes a repeat after a 503 under the first attempt's task id", async () => {
    const seen: string[] = [];
    fx = await new ApiFixture().start({
      wrapGateway: (g) => holdingGateway(g, () => Promise.resolve(), seen),
    });
    for (let i = 0; i < 5; i++)
      expect((await fx.post({ name: "fill", queue: "tiny" })).status).toBe(202);
    const body = { name: "pay.charge", queue: "tiny" };
    const refused = await fx.post(body, key("after-503"));
    expect(refused.status).toBe(503);
    const firstId = seen[seen.length - 1]!;
    await fx.drain(fx.queues.tiny);
    const retried = await fx.post(body, key("after-503"));
    expect(retried.status).toBe(202);
    expect(retried.json.id).toBe(firstId);
    expect(await fx.drain(fx.queues.tiny)).toEqual([firstId]);
    expect((await fx.post(body, key("after-503"))).json.id).toBe(firstId);
    expect(await fx.drain(fx.queues.tiny)).toEqual([]);
  });

  it("takes over a key whose first attempt stopped answering (lease lapsed), under the same task id", async () => {
    const seen: string[] = [];
    let calls = 0;
    fx = await new ApiFixture().start({
      leaseMs: 300,
      // The first publish never returns in time (a hung API); later ones go through.
      wrapGateway: (g) =>
        holdingGateway(g, () => (++calls === 1 ? sleep(3000) : Promise.resolve()), seen),
    });
    const body = { name: "pay.charge", args: [7] };
    const hung = fx.post(body, key("lease"));
    await sleep(500);
    const retried = await fx.post(body, key("lease"));
    expect(retried.status).toBe(202);
    expect(retried.json.id).toBe(seen[0]);
    expect(seen).toEqual([seen[0], seen[0]]);
    // The hung attempt finishes later under the same id: one task id, at most two deliveries of it.
    expect((await hung).json.id).toBe(seen[0]);
    expect(new Set(await fx.drain(fx.queues.default))).toEqual(new Set([seen[0]]));
  });

  it("keys a batch's tasks one by one: a repeat replays the accepted ones and sends the refused ones", async () => {
    fx = await new ApiFixture().start();
    const tasks = Array.from({ length: 8 }, (_, i) => ({ name: "bulk", args: [i], queue: "tiny" }));
    const first = await fx.batch(tasks, key("batch"));
    expect(first.status).toBe(207);
    const firstIds = (first.json.tasks as { status: number; id?: string }[]).map((t) =>
      t.status === 202 ? t.id : undefined,
    );
    expect(firstIds.filter(Boolean)).toHaveLength(5);
    const held1 = await fx.drain(fx.queues.tiny);
    const second = await fx.batch(tasks, key("batch"));
    expect(second.status).toBe(202);
    const ids = (second.json.tasks as { id: string }[]).map((t) => t.id);
    firstIds.forEach((id, i) => {
      if (id !== undefined) expect(ids[i]).toBe(id);
    });
    const held2 = await fx.drain(fx.queues.tiny);
    expect(new Set([...held1, ...held2])).toEqual(new Set(ids));
    expect(held1.length + held2.length).toBe(8);
  });
});
