/**
 * Property-based fuzzing of the task API (fast-check) against real RabbitMQ and Redis: random
 * methods, paths, headers, tokens and bodies (JSON of any shape, task-like objects with random
 * field values, batches, broken JSON). The API answers every one with a 2xx or a 4xx that names
 * what was wrong — never a 5xx, never a crash — and every task it answered 202 for is in the broker,
 * and nothing else is.
 */
import { request } from "node:http";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiFixture, tokenOf } from "./support.js";

const fx = new ApiFixture();
beforeAll(() => fx.start({ rateLimitPerSecond: 0 }));
afterAll(() => fx.stop());

interface Raw {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | undefined;
}

function send(r: Raw): Promise<{ status: number; text: string }> {
  const u = new URL(fx.base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method: r.method,
        path: r.path,
        headers: r.headers,
        // A new connection per request: a pooled socket the server just closed is a client artefact.
        agent: false,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on("error", reject);
    req.end(r.body);
  });
}

const scalar = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(
    -1,
    0,
    1e308,
    2_592_001,
    "2001-01-01T00:00:00Z",
    "2999-01-01T00:00:00Z",
    "k".repeat(300),
  ),
);
const value = fc.oneof(
  scalar,
  fc.jsonValue({ maxDepth: 4 }),
  fc.array(scalar),
  fc.dictionary(fc.string(), scalar),
);
const name = fc.oneof(
  fc.constantFrom("demo.ok", "bob.sync", "alice.report", "x", "_a:b-c.d"),
  fc.string({ maxLength: 210 }),
);
const task = fc.record(
  {
    name,
    args: value,
    kwargs: value,
    queue: fc.oneof(fc.constant("default"), value),
    priority: fc.oneof(fc.constant("default"), value),
    key: value,
    countdown: fc.oneof(fc.double({ min: -10, max: 3e6 }), value),
    expires: fc.oneof(fc.integer({ min: -10, max: 3e6 }), value),
    colour: value,
  },
  { requiredKeys: [] },
);
const deep = fc
  .integer({ min: 30, max: 2000 })
  .map((n) => `{"name":"demo.ok","args":${"[".repeat(n)}${"]".repeat(n)}}`);
const body = fc.oneof(
  task.map((t) => JSON.stringify(t)),
  fc.array(task, { maxLength: 12 }).map((tasks) => JSON.stringify({ tasks })),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string(),
  deep,
  fc.constantFrom(
    "",
    "{",
    '{"__proto__":{"x":1},"name":"a"}',
    '{"name":"a","constructor":{"prototype":{}}}',
  ),
);
const path = fc.oneof(
  fc.constantFrom(
    "/v1/tasks",
    "/v1/tasks/batch",
    "/v1/openapi.json",
    "/healthz",
    "/readyz",
    "/metrics",
    "/",
  ),
  fc.string({ maxLength: 80 }).map((s) => `/v1/tasks/${encodeURIComponent(s)}`),
  fc.stringMatching(/^\/[A-Za-z0-9._~%/-]{0,60}(\?[A-Za-z0-9=&%]{0,20})?$/),
  fc.constantFrom(
    "/v1/tasks/%zz",
    "/v1/tasks/..%2f..",
    "/v1/tasks/" + "a".repeat(300),
    "//v1//tasks",
  ),
);
const auth = fc.oneof(
  fc.constant(`Bearer ${tokenOf("alice")}`),
  fc.constant(`Bearer ${tokenOf("bob")}`),
  fc.constant(undefined),
  fc.constantFrom("Bearer", "Bearer x", "Basic YTpi", `bearer  ${tokenOf("alice")}`),
  fc.stringMatching(/^[\x20-\x7e]{0,40}$/),
);
/** Mostly well-formed tasks, so that a good share of requests is accepted. */
const goodTask = fc.record(
  {
    name: fc.constantFrom("demo.ok", "bob.sync", "alice.report"),
    args: fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 4 }),
    kwargs: fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), {
      maxKeys: 3,
    }),
    countdown: fc.integer({ min: 0, max: 100 }),
    expires: fc.integer({ min: 200, max: 3600 }),
    junk: value,
  },
  { requiredKeys: ["name"] },
);
const likely: fc.Arbitrary<Raw> = fc
  .record({
    batch: fc.boolean(),
    tasks: fc.array(fc.oneof({ arbitrary: goodTask, weight: 4 }, { arbitrary: task, weight: 1 }), {
      minLength: 1,
      maxLength: 20,
    }),
    who: fc.constantFrom("alice", "bob"),
    idem: fc.option(fc.constantFrom("k1", "k2", "k3"), { nil: undefined }),
  })
  .map((r) => ({
    method: "POST",
    path: r.batch ? "/v1/tasks/batch" : "/v1/tasks",
    body: JSON.stringify(r.batch ? { tasks: r.tasks } : r.tasks[0]),
    headers: {
      authorization: `Bearer ${tokenOf(r.who)}`,
      "content-type": "application/json",
      ...(r.idem ? { "idempotency-key": r.idem } : {}),
    },
  }));
const anything: fc.Arbitrary<Raw> = fc
  .record({
    method: fc.constantFrom(
      "GET",
      "POST",
      "POST",
      "POST",
      "PUT",
      "DELETE",
      "PATCH",
      "OPTIONS",
      "HEAD",
    ),
    path,
    auth,
    contentType: fc.oneof(
      fc.constantFrom(
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "application/x-www-form-urlencoded",
        "APPLICATION/JSON",
      ),
      fc.stringMatching(/^[\x20-\x7e]{0,30}$/),
      fc.constant(undefined),
    ),
    idem: fc.option(
      fc.oneof(fc.stringMatching(/^[\x21-\x7e]{1,20}$/), fc.stringMatching(/^[\x20-\x7e]{0,300}$/)),
      { nil: undefined },
    ),
    body: fc.option(body, { nil: undefined, freq: 5 }),
  })
  .map((r) => ({
    method: r.method,
    path: r.path,
    body: r.method === "GET" || r.method === "HEAD" ? undefined : r.body,
    headers: {
      ...(r.auth !== undefined ? { authorization: r.auth } : {}),
      ...(r.contentType !== undefined ? { "content-type": r.contentType } : {}),
      ...(r.idem !== undefined ? { "idempotency-key": r.idem } : {}),
    },
  }));

const raw = fc.oneof({ arbitrary: anything, weight: 3 }, { arbitrary: likely, weight: 1 });

describe("fuzzing the task API", () => {
  it("answers only 2xx or 4xx, names the field of a 400, and every 202 task is in the broker", async () => {
    const accepted = new Set<string>();
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(raw, async (r) => {
        const a = await send(r);
        statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
        expect([r, a.status, a.text], "a 5xx or an unknown status").toSatisfy(
          () => (a.status >= 200 && a.status < 300) || (a.status >= 400 && a.status < 500),
        );
        if (r.method === "HEAD" || a.text === "") return;
        const json = JSON.parse(a.text) as Record<string, unknown>;
        if (a.status === 400) expect(typeof json.field).toBe("string");
        if (a.status === 202 && typeof json.id === "string") accepted.add(json.id);
        for (const t of (a.status === 202 || a.status === 207) && Array.isArray(json.tasks)
          ? (json.tasks as Record<string, unknown>[])
          : []) {
          if ((t.status === undefined || t.status === 202) && typeof t.id === "string")
            accepted.add(t.id);
          if (t.status === 400) expect(typeof t.field).toBe("string");
        }
      }),
      { numRuns: 600 },
    );
    // Some of everything was tried.
    for (const s of [202, 207, 400, 401, 403, 404, 415])
      expect(statuses.get(s) ?? 0, `status ${s}`).toBeGreaterThan(0);
    expect(accepted.size).toBeGreaterThan(0);
    expect(new Set(await fx.drain(fx.queues.default))).toEqual(accepted);
    expect(
      (await send({ method: "GET", path: "/healthz", headers: {}, body: undefined })).status,
    ).toBe(200);
  });
});
