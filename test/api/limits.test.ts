/**
 * Limits against real RabbitMQ and Redis: requests per client per second and tasks being
 * published at once (in all and per client) answer 429 with Retry-After at once — another client
 * is not held up, and nothing waits in a queue of parked publishes.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { ApiFixture, holdingGateway } from "./support.js";

let fx: ApiFixture;
afterEach(() => fx?.stop());

describe("limits", () => {
  it("limits requests per client per second with 429 and Retry-After; other clients go on", async () => {
    fx = await new ApiFixture().start({ rateLimitPerSecond: 5 });
    const bob = await Promise.all(
      Array.from({ length: 12 }, () => fx.post({ name: "bob.x" }, { client: "bob" })),
    );
    const alice = await fx.post({ name: "alice.x" }, { client: "alice" });
    const limited = bob.filter((a) => a.status === 429);
    expect(bob.filter((a) => a.status === 202)).toHaveLength(5);
    expect(limited).toHaveLength(7);
    for (const a of limited) {
      expect(Number(a.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(a.json).toMatchObject({ error: "too_many_requests" });
    }
    expect(alice.status).toBe(202);
    expect(await fx.drain(fx.queues.default)).toHaveLength(6);
    // The probes are never limited.
    const probes = await Promise.all(
      Array.from({ length: 10 }, () => fx.request("GET", "/healthz", { client: null })),
    );
    expect(probes.every((p) => p.status === 200)).toBe(true);
  });

  it("caps tasks being published per client and in all: over the cap is a 429 at once", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    fx = await new ApiFixture().start({
      inFlight: { total: 5, perClient: 3 },
      retryAfterSeconds: 2,
      wrapGateway: (g) => holdingGateway(g, () => gate),
    });
    const bobs = Array.from({ length: 3 }, () => fx.post({ name: "bob.x" }, { client: "bob" }));
    await sleep(200);
    const t0 = Date.now();
    const over = await fx.post({ name: "bob.x" }, { client: "bob" });
    expect(Date.now() - t0).toBeLessThan(2000); // answered at once, not parked
    expect(over.status).toBe(429);
    expect(over.headers.get("retry-after")).toBe("2");
    expect(over.json).toEqual({
      error: "too_many_requests",
      message:
        'client "bob" has 3 tasks being published and may have at most 3; retry after the Retry-After seconds',
    });
    const alices = Array.from({ length: 2 }, () => fx.post({ name: "a.x" }, { client: "alice" }));
    await sleep(200);
    const full = await fx.batch([{ name: "a.y" }], { client: "alice" });
    expect(full.status).toBe(429);
    expect(full.json.message).toBe(
      "the API is publishing 5 tasks, its limit is 5; retry after the Retry-After seconds",
    );
    release();
    const answered = await Promise.all([...bobs, ...alices]);
    expect(answered.every((a) => a.status === 202)).toBe(true);
    expect(fx.api.limiter.inFlight).toBe(0);
    expect((await fx.post({ name: "bob.x" }, { client: "bob" })).status).toBe(202);
    expect(await fx.drain(fx.queues.default)).toHaveLength(6);
  });
});
