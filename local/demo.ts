/**
 * The demo workload: sends tasks through the task APIs of every region over HTTP with each
 * region's bearer token (keep-alive, a bounded number in flight) — in batches of `batchSize`
 * through `POST /v1/tasks/batch` by default, or one request per task — follows their results on the
 * result backend's channels (Celery's Redis backend PUBLISHes every stored result on
 * `celery-task-meta-<id>`), and records per task what the summary needs. A 503 or 429 (queue full,
 * API busy) is sent again after its `Retry-After` — for a batch, only the tasks it refused — so
 * every task is either accepted or reported as not accepted.
 */
import { Agent, request } from "node:http";
import { Redis } from "ioredis";
import { FINAL_STATES, type FinalState, type TaskRecord } from "./summary.js";

/** One task of a workload, as sent to `POST /v1/tasks`. */
export interface WorkloadTask {
  name: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  priority?: string;
  queue?: string;
  key?: string;
  countdown?: number;
}

/** Makes the i-th task of a workload (a task module may export one as `demoWorkload`). */
export type Workload = (i: number) => WorkloadTask;

export interface DemoApi {
  region: string;
  /** Base URL, e.g. http://127.0.0.1:8123 */
  url: string;
  /** Bearer token of a client that may send the workload's tasks. */
  token: string;
  /** Share of the workload sent to this API (relative weight). */
  weight: number;
}

export interface DemoOptions {
  apis: readonly DemoApi[];
  /** Redis URLs whose result channels are followed (every region's backend; duplicates are fine). */
  resultRedisUrls: readonly string[];
  count: number;
  workload: Workload;
  /** Tasks per `POST /v1/tasks/batch`; 1 sends one `POST /v1/tasks` per task. @default 500 */
  batchSize?: number;
  /** Requests in flight at once. @default 64 one by one, 8 in batches */
  concurrency?: number;
  /** Give up waiting when no task finished for this long. @default 60000 */
  idleTimeoutMs?: number;
  onProgress?: (p: { submitted: number; finished: number; total: number }) => void;
}

export interface DemoResult {
  records: TaskRecord[];
  startedAt: number;
  /** When the last task was accepted (202): the end of ingest. */
  acceptedAt: number;
  endedAt: number;
}

interface PostAnswer {
  status: number;
  body: Record<string, unknown>;
  retryAfter: number;
}

function post(agent: Agent, api: DemoApi, path: string, body: string): Promise<PostAnswer> {
  const u = new URL(path, api.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: "POST",
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          authorization: `Bearer ${api.token}`,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          let parsed: Record<string, unknown> = {};
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
          } catch {
            // not JSON: keep {}
          }
          resolve({
            status: res.statusCode ?? 0,
            body: parsed,
            retryAfter: Number(res.headers["retry-after"] ?? 1) || 1,
          });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Statuses after which the same task is sent again (after Retry-After). */
const RETRYABLE = new Set([503, 429, 409]);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Reads the worker's region from a stored result: the demo tasks return `{ region }`. */
export function workerRegionOf(meta: Record<string, unknown>): string | undefined {
  const r = meta.result;
  if (r && typeof r === "object" && !Array.isArray(r)) {
    const reg = (r as Record<string, unknown>).region;
    if (typeof reg === "string") return reg;
  }
  const w = meta.worker;
  if (typeof w === "string" && w.includes("@")) return w.slice(w.lastIndexOf("@") + 1);
  return undefined;
}

function retriesOf(meta: Record<string, unknown>): number | undefined {
  if (typeof meta.retries === "number") return meta.retries;
  const r = meta.result;
  if (r && typeof r === "object" && !Array.isArray(r)) {
    const n = (r as Record<string, unknown>).retries;
    if (typeof n === "number") return n;
  }
  return undefined;
}

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency ?? 64 });
  const records: TaskRecord[] = [];
  const byId = new Map<string, TaskRecord>();
  /** Results seen before the 202 that names their id reached us. */
  const early = new Map<string, { at: number; meta: Record<string, unknown> }>();
  let finished = 0;
  let lastFinishAt = performance.now();
  let submitted = 0;
  /** RETRY results seen per task id (the worker stores one before each retry). */
  const retrySeen = new Map<string, number>();

  const finish = (rec: TaskRecord, at: number, meta: Record<string, unknown>): void => {
    if (rec.state !== undefined) return;
    rec.state = meta.status as FinalState;
    rec.finishedAt = at;
    const wr = workerRegionOf(meta);
    if (wr !== undefined) rec.workerRegion = wr;
    const n = retriesOf(meta);
    if (n !== undefined) rec.retries = n;
    finished++;
    lastFinishAt = at;
  };

  const subs = [...new Set(o.resultRedisUrls)].map((u) => new Redis(u, { lazyConnect: true }));
  await Promise.all(subs.map((s) => s.connect()));
  for (const s of subs) {
    s.on("pmessage", (_p: string, _ch: string, message: string) => {
      const at = performance.now();
      let meta: Record<string, unknown>;
      try {
        meta = JSON.parse(message) as Record<string, unknown>;
      } catch {
        return;
      }
      const status = meta.status;
      const id = meta.task_id;
      if (typeof id !== "string") return;
      if (status === "RETRY") {
        retrySeen.set(id, (retrySeen.get(id) ?? 0) + 1);
        return;
      }
      if (!FINAL_STATES.includes(status as FinalState)) return;
      const rec = byId.get(id);
      if (rec) finish(rec, at, meta);
      else if (!early.has(id)) early.set(id, { at, meta });
    });
    await s.psubscribe("celery-task-meta-*");
  }

  const total = o.count;
  const weights = o.apis.map((a) => a.weight);
  const wsum = weights.reduce((a, b) => a + b, 0);
  const pickApi = (i: number): DemoApi => {
    // Deterministic interleave by weight: task i goes to the API whose cumulative share covers it.
    const slot = ((i * 7919) % 1000) / 1000;
    let acc = 0;
    for (const a of o.apis) {
      acc += a.weight / wsum;
      if (slot < acc) return a;
    }
    return o.apis[o.apis.length - 1]!;
  };

  const startedAt = performance.now();
  let acceptedAt = startedAt;
  let next = 0;
  const progress = setInterval(() => o.onProgress?.({ submitted, finished, total }), 200);
  const newRecord = (i: number): { rec: TaskRecord; task: WorkloadTask; api: DemoApi } => {
    const task = o.workload(i);
    const api = pickApi(i);
    const rec: TaskRecord = {
      region: api.region,
      queue: task.queue ?? task.priority ?? "default",
      name: task.name,
      submittedAt: performance.now(),
      refusals: 0,
    };
    records.push(rec);
    return { rec, task, api };
  };
  const accepted = (rec: TaskRecord, body: Record<string, unknown>): void => {
    const id = String(body.id);
    rec.id = id;
    if (typeof body.queue === "string") rec.queue = body.queue;
    byId.set(id, rec);
    const e = early.get(id);
    if (e) {
      early.delete(id);
      finish(rec, e.at, e.meta);
    }
    submitted++;
    acceptedAt = performance.now();
  };
  /** POSTs with retries of connection errors (the API restarting); other answers are returned. */
  const send = async (api: DemoApi, path: string, body: string): Promise<PostAnswer> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await post(agent, api, path, body);
      } catch (err) {
        if (attempt >= 5) throw err;
        await sleep(200 * (attempt + 1));
      }
    }
  };
  const oneByOne = async (): Promise<void> => {
    while (next < total) {
      const { rec, task, api } = newRecord(next++);
      const body = JSON.stringify(task);
      for (let attempt = 0; ; attempt++) {
        const ans = await send(api, "/v1/tasks", body);
        if (ans.status === 202) {
          accepted(rec, ans.body);
          break;
        }
        if (RETRYABLE.has(ans.status) && attempt < 100) {
          rec.refusals++;
          await sleep(ans.retryAfter * 1000);
          continue;
        }
        throw new Error(
          `POST ${api.url}/v1/tasks answered ${ans.status}: ${JSON.stringify(ans.body)} for ${body}`,
        );
      }
    }
  };
  const sendBatch = async (
    api: DemoApi,
    items: { rec: TaskRecord; task: WorkloadTask }[],
  ): Promise<void> => {
    let pending = items;
    for (let attempt = 0; pending.length > 0; attempt++) {
      const ans = await send(
        api,
        "/v1/tasks/batch",
        JSON.stringify({ tasks: pending.map((p) => p.task) }),
      );
      const per = Array.isArray(ans.body.tasks)
        ? (ans.body.tasks as Record<string, unknown>[])
        : [];
      const again: typeof pending = [];
      if (ans.status === 202 || ans.status === 207) {
        pending.forEach((p, i) => {
          const t = per[i] ?? {};
          const status = ans.status === 202 ? 202 : Number(t.status);
          if (status === 202) accepted(p.rec, t);
          else if (RETRYABLE.has(status)) {
            p.rec.refusals++;
            again.push(p);
          } else {
            throw new Error(
              `POST ${api.url}/v1/tasks/batch refused a task with ${status}: ${JSON.stringify(t)} for ${JSON.stringify(p.task)}`,
            );
          }
        });
      } else if (RETRYABLE.has(ans.status)) {
        for (const p of pending) p.rec.refusals++;
        again.push(...pending);
      } else {
        throw new Error(
          `POST ${api.url}/v1/tasks/batch answered ${ans.status}: ${JSON.stringify(ans.body).slice(0, 500)}`,
        );
      }
      if (again.length > 0 && attempt >= 100) {
        throw new Error(`${again.length} tasks still refused by ${api.url} after 100 attempts`);
      }
      pending = again;
      if (pending.length > 0) await sleep(ans.retryAfter * 1000);
    }
  };
  const batchSize = o.batchSize ?? 500;
  const inBatches = async (): Promise<void> => {
    while (next < total) {
      const start = next;
      const end = Math.min(total, start + batchSize);
      next = end;
      const groups = new Map<DemoApi, { rec: TaskRecord; task: WorkloadTask }[]>();
      for (let i = start; i < end; i++) {
        const { rec, task, api } = newRecord(i);
        const g = groups.get(api) ?? [];
        g.push({ rec, task });
        groups.set(api, g);
      }
      await Promise.all([...groups].map(([api, items]) => sendBatch(api, items)));
    }
  };
  const sender = batchSize > 1 ? inBatches : oneByOne;
  try {
    const concurrency = o.concurrency ?? (batchSize > 1 ? 8 : 64);
    await Promise.all(Array.from({ length: concurrency }, sender));
    const idle = o.idleTimeoutMs ?? 60_000;
    while (finished < records.length && performance.now() - lastFinishAt < idle) {
      await new Promise((r) => setTimeout(r, 100));
    }
    // Anything the channels did not show (a missed message) is looked up once through the API.
    for (const rec of records) {
      if (rec.state !== undefined || rec.id === undefined) continue;
      const api = o.apis.find((a) => a.region === rec.region)!;
      const res = await fetch(`${api.url}/v1/tasks/${rec.id}`, {
        headers: { authorization: `Bearer ${api.token}` },
      });
      const st = (await res.json()) as Record<string, unknown>;
      if (FINAL_STATES.includes(st.state as FinalState)) {
        finish(rec, performance.now(), { ...st, status: st.state });
      }
    }
    for (const rec of records) {
      const n = rec.id === undefined ? undefined : retrySeen.get(rec.id);
      if (n !== undefined) rec.retries = Math.max(rec.retries ?? 0, n);
    }
  } finally {
    clearInterval(progress);
    o.onProgress?.({ submitted, finished, total });
    agent.destroy();
    await Promise.allSettled(subs.map((s) => s.quit()));
  }
  return { records, startedAt, acceptedAt, endedAt: performance.now() };
}
