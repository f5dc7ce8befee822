/**
 * `POST /v1/tasks/batch` against real RabbitMQ and Redis: up to 1,000 tasks answered 202 with
 * their ids once every one is confirmed, a partial refusal answered per task (bad input, another
 * client's task, a full queue) with every accepted id in the broker and nothing else, and the
 * envelope's limits.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiFixture } from "./support.js";

const fx = new ApiFixture();
beforeAll(() => fx.start({ retryAfterSeconds: 3, maxBodyBytes: 4096 }));
afterAll(() => fx.stop());

describe("POST /v1/tasks/batch", () => {
  it("answers 202 with 1,000 ids, in order, once the broker holds all of them", async () => {
    const tasks = Array.from({ length: 1000 }, (_, i) => ({ name: "bulk.item", args: [i] }));
    const r = await fx.batch(tasks);
    expect(r.status).toBe(202);
    const answered = r.json.tasks as { id: string; region: string; queue: string }[];
    expect(answered).toHaveLength(1000);
    expect(new Set(answered.map((t) => t.id)).size).toBe(1000);
    expect(answered[0]).toEqual({ id: answered[0]!.id, region: "fx", queue: "default" });
    const held = await fx.drain(fx.queues.default);
    expect(held).toEqual(answered.map((t) => t.id));
  });

  it("answers a partial refusal per task (207) and the broker holds exactly the accepted ones", async () => {
    const tasks = [
      { name: "ok.one" },
      { name: "ok.two", countdown: -5 },
      { name: "bob.private" },
      ...Array.from({ length: 8 }, (_, i) => ({ name: "full.item", args: [i], queue: "tiny" })),
    ];
    const r = await fx.batch(tasks, { client: "alice" });
    expect(r.status).toBe(207);
    expect(r.headers.get("retry-after")).toBe("3");
    const per = r.json.tasks as Record<string, unknown>[];
    expect(per).toHaveLength(tasks.length);
    expect(per[0]).toMatchObject({ status: 202, queue: "default" });
    expect(per[1]).toEqual({
      status: 400,
      error: "bad_request",
      field: "tasks[1].countdown",
      message: "tasks[1].countdown: -5 is not a delay; use a number of seconds from 0 to 2592000",
    });
    expect(per[2]).toMatchObject({ status: 202 }); // alice may send any task
    const full = per.slice(3);
    const fullAccepted = full.filter((p) => p.status === 202);
    const fullRefused = full.filter((p) => p.status === 503);
    expect(fullAccepted.length).toBe(5); // x-max-length 5
    expect(fullRefused.length).toBe(3);
    for (const p of fullRefused) expect(p).toMatchObject({ error: "not_stored", reason: "nack" });
    expect(r.json).toMatchObject({ region: "fx", accepted: 7, refused: 4 });
    const accepted = per.filter((p) => p.status === 202).map((p) => p.id);
    const held = [...(await fx.drain(fx.queues.default)), ...(await fx.drain(fx.queues.tiny))];
    expect(new Set(held)).toEqual(new Set(accepted));
  });

  it("refuses a task bigger than a single POST may be (413 for that task only)", async () => {
    const r = await fx.batch([{ name: "small" }, { name: "big", args: ["x".repeat(5000)] }]);
    expect(r.status).toBe(207);
    const per = r.json.tasks as Record<string, unknown>[];
    expect(per[0]).toMatchObject({ status: 202 });
    expect(per[1]).toEqual({
      status: 413,
      error: "payload_too_large",
      field: "tasks[1]",
      message:
        "tasks[1]: 5026 bytes; a task may have at most 4096 bytes (store big inputs elsewhere and pass a reference)",
    });
    expect(await fx.drain(fx.queues.default)).toEqual([per[0]!.id]);
  });

  it("refuses a bad envelope as a whole with 400 naming tasks", async () => {
    const cases: [unknown, string][] = [
      [
        { tasks: [] },
        'tasks: [] is not a list of tasks; send {"tasks": [task, ...]} with 1 to 1000 task objects',
      ],
      [
        { tasks: "x" },
        'tasks: "x" is not a list of tasks; send {"tasks": [task, ...]} with 1 to 1000 task objects',
      ],
      [
        { tasks: [1] },
        'tasks: [1] is not a list of tasks; send {"tasks": [task, ...]} with 1 to 1000 task objects',
      ],
      [
        [{ name: "a" }],
        'body: [{"name":"a"}] is not a batch; send {"tasks": [task, ...]} with 1 to 1000 task objects',
      ],
      [
        { tasks: [{ name: "a" }], extra: 1 },
        'extra: unknown field; the body is {"tasks": [task, ...]}',
      ],
    ];
    for (const [body, message] of cases) {
      const r = await fx.request("POST", "/v1/tasks/batch", { body });
      expect(r.status).toBe(400);
      expect(r.json.message).toBe(message);
    }
    const tooMany = await fx.batch(Array.from({ length: 1001 }, () => ({ name: "a" })));
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.field).toBe("tasks");
    expect(await fx.drain(fx.queues.default)).toEqual([]);
  });
});
