/**
 * Results JSON cannot carry as such (issue 11, item 2): NaN and ±Infinity are written as Python's
 * json writes them (literals Celery reads back), a bigint keeps every digit, and what cannot be
 * encoded at all is stored once as FAILURE with kombu's EncodeError, as Celery does. Python reads
 * each result with `AsyncResult.get()`.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { App, AsyncResult, TaskError } from "../../worker-runtime/src/index.js";
import type { Worker } from "../../worker-runtime/src/worker/worker.js";
import { deleteQueues, sleep, startWorker, testApp, uniqueQueue, until } from "./helpers.js";

const execFileP = promisify(execFile);

/** What Python's Celery client reads for each id: the value's repr, or the exception. */
async function pythonReads(ids: string[]): Promise<Record<string, string>> {
  const py = `
import json, sys
from celery import Celery
app = Celery("t", backend=sys.argv[1])
out = {}
for tid in sys.argv[2:]:
    try:
        out[tid] = repr(app.AsyncResult(tid).get(timeout=10))
    except Exception as e:
        out[tid] = "%s.%s%r" % (type(e).__module__, type(e).__name__, e.args)
print(json.dumps(out))
`;
  const { stdout } = await execFileP("/usr/bin/python3", ["-c", py, inject("redisUrl"), ...ids], {
    timeout: 60_000,
  });
  return JSON.parse(stdout) as Record<string, string>;
}

describe("results JSON cannot carry as such", () => {
  const queue = uniqueQueue("enc");
  let app: App;
  let worker: Worker;
  const runs = new Map<string, number>();
  const count = (name: string): void => void runs.set(name, (runs.get(name) ?? 0) + 1);
  const errbacks: string[] = [];
  beforeAll(async () => {
    app = testApp(queue);
    app.task("enc.nan", () => {
      count("nan");
      return { nan: NaN, inf: Infinity, ninf: -Infinity, list: [1, NaN] };
    });
    app.task("enc.big", () => {
      count("big");
      return { big: 2n ** 70n, neg: -(2n ** 64n) - 1n, small: 5n };
    });
    app.task("enc.circular", () => {
      count("circular");
      const a: Record<string, unknown> = { name: "loop" };
      a.self = a;
      return a;
    });
    app.task("enc.set", () => {
      count("set");
      return new Set([1, 2]);
    });
    app.task("enc.fn", () => {
      count("fn");
      return { f: () => 1 };
    });
    app.task("enc.errback", (id: string) => void errbacks.push(id));
    worker = await startWorker(app);
  });
  afterAll(async () => {
    await worker?.stop();
    await app?.close();
    await deleteQueues(queue);
  });

  it("stores NaN and ±Infinity as Python's json literals, once; Python reads nan and inf", async () => {
    const r = await app.sendTask("enc.nan");
    const v = (await r.get({ timeoutMs: 10_000 })) as Record<string, unknown>;
    expect(v).toEqual({ nan: NaN, inf: Infinity, ninf: -Infinity, list: [1, NaN] });
    await sleep(1500);
    expect(runs.get("nan")).toBe(1);
    const py = await pythonReads([r.id]);
    expect(py[r.id]).toBe("{'nan': nan, 'inf': inf, 'ninf': -inf, 'list': [1, nan]}");
  });

  it("keeps every digit of a bigint; Python reads the exact int and taskfleet a bigint", async () => {
    const r = await app.sendTask("enc.big");
    expect(await r.get({ timeoutMs: 10_000 })).toEqual({
      big: 2n ** 70n,
      neg: -(2n ** 64n) - 1n,
      small: 5,
    });
    const py = await pythonReads([r.id]);
    expect(py[r.id]).toBe(
      "{'big': 1180591620717411303424, 'neg': -18446744073709551617, 'small': 5}",
    );
  });

  it("stores FAILURE EncodeError (kombu.exceptions) for what cannot be encoded, runs it once and calls errbacks", async () => {
    const errback = {
      task: "enc.errback",
      args: [],
      kwargs: {},
      options: {},
      subtask_type: null,
      immutable: false,
    };
    const rs: Record<string, AsyncResult> = {};
    for (const name of ["circular", "set", "fn"])
      rs[name] = await app.sendTask(`enc.${name}`, [], {}, { errbacks: [errback] });
    const errs: Record<string, TaskError> = {};
    for (const [name, r] of Object.entries(rs))
      errs[name] = (await r.get({ timeoutMs: 10_000 }).catch((e: unknown) => e)) as TaskError;
    for (const e of Object.values(errs)) {
      expect(e.name).toBe("EncodeError");
      expect(e.excModule).toBe("kombu.exceptions");
    }
    expect(errs.circular!.message).toBe("ValueError('Circular reference detected')");
    expect(errs.set!.message).toBe("TypeError('Object of type Set is not JSON serializable')");
    expect(errs.fn!.message).toBe("TypeError('Object of type function is not JSON serializable')");
    await until(() => errbacks.length === 3, 10_000, "three errbacks");
    expect(errbacks.sort()).toEqual(
      Object.values(rs)
        .map((r) => r.id)
        .sort(),
    );
    await sleep(1500);
    expect([runs.get("circular"), runs.get("set"), runs.get("fn")]).toEqual([1, 1, 1]);
    const py = await pythonReads([rs.circular!.id]);
    expect(py[rs.circular!.id]).toBe(
      `kombu.exceptions.EncodeError("ValueError('Circular reference detected')",)`,
    );
  });
});
