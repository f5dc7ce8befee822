/**
 * The demo's summary: pure arithmetic over what the demo driver recorded per task, plus the checks
 * that the numbers add up (the exit status of `--exit` depends on them).
 */

export const FINAL_STATES = ["SUCCESS", "FAILURE", "REVOKED"] as const;
export type FinalState = (typeof FINAL_STATES)[number];

/** What the driver knows about one task of the workload. */
export interface TaskRecord {
  /** Region whose API accepted it. */
  region: string;
  /** Queue the API routed it to. */
  queue: string;
  name: string;
  id?: string;
  /** ms (monotonic) when the first POST was sent. */
  submittedAt: number;
  /** ms when the final result was seen. */
  finishedAt?: number;
  state?: FinalState;
  /** Region of the worker that stored the final result, when known. */
  workerRegion?: string;
  /** Retries before the final state, when known. */
  retries?: number;
  /** 503 answers (full queue) before a 202. */
  refusals: number;
}

export interface Summary {
  tasks: number;
  accepted: number;
  finished: number;
  unfinished: number;
  states: Record<FinalState, number>;
  durationSeconds: number;
  tasksPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** Per region: tasks its API accepted (also per queue) and tasks its workers ran. */
  byRegion: Record<string, { submitted: number; ranHere: number; queues: Record<string, number> }>;
  byQueue: Record<string, number>;
  crossRegion: number;
  /** Tasks whose worker region is not known (their result does not record it). */
  workerRegionUnknown: number;
  failures: number;
  retries: number;
  refusedThenRetried: number;
  /** Each check that failed, as a sentence; empty when everything adds up. */
  problems: string[];
  ok: boolean;
}

/** The q-quantile (0..1) of sorted numbers, nearest-rank. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx]!;
}

const round = (n: number, d = 1): number => Math.round(n * 10 ** d) / 10 ** d;

export function summarize(
  records: readonly TaskRecord[],
  regions: readonly string[],
  startedAt: number,
  endedAt: number,
): Summary {
  const states: Record<FinalState, number> = { SUCCESS: 0, FAILURE: 0, REVOKED: 0 };
  const byRegion: Summary["byRegion"] = {};
  for (const r of regions) byRegion[r] = { submitted: 0, ranHere: 0, queues: {} };
  const byQueue: Record<string, number> = {};
  const lat: number[] = [];
  let accepted = 0;
  let crossRegion = 0;
  let unknown = 0;
  let retries = 0;
  let refused = 0;
  let lastFinish = startedAt;
  for (const t of records) {
    const reg = (byRegion[t.region] ??= { submitted: 0, ranHere: 0, queues: {} });
    reg.submitted++;
    reg.queues[t.queue] = (reg.queues[t.queue] ?? 0) + 1;
    byQueue[t.queue] = (byQueue[t.queue] ?? 0) + 1;
    if (t.id !== undefined) accepted++;
    if (t.refusals > 0) refused++;
    if (t.state === undefined) continue;
    states[t.state]++;
    retries += t.retries ?? 0;
    if (t.finishedAt !== undefined) {
      lat.push(t.finishedAt - t.submittedAt);
      lastFinish = Math.max(lastFinish, t.finishedAt);
    }
    if (t.workerRegion === undefined) unknown++;
    else {
      (byRegion[t.workerRegion] ??= { submitted: 0, ranHere: 0, queues: {} }).ranHere++;
      if (t.workerRegion !== t.region) crossRegion++;
    }
  }
  lat.sort((a, b) => a - b);
  const finished = states.SUCCESS + states.FAILURE + states.REVOKED;
  const end = finished === records.length ? lastFinish : endedAt;
  const durationSeconds = Math.max(0.001, (end - startedAt) / 1000);
  const problems: string[] = [];
  if (accepted !== records.length) {
    problems.push(
      `${records.length - accepted} of ${records.length} tasks were never accepted (no 202)`,
    );
  }
  if (finished !== records.length) {
    problems.push(`${records.length - finished} of ${records.length} tasks reached no final state`);
  }
  const submitted = Object.values(byRegion).reduce((a, r) => a + r.submitted, 0);
  if (submitted !== records.length) {
    problems.push(`per-region submissions add up to ${submitted}, not ${records.length}`);
  }
  const queued = Object.values(byQueue).reduce((a, n) => a + n, 0);
  if (queued !== records.length) {
    problems.push(`per-queue counts add up to ${queued}, not ${records.length}`);
  }
  const ran = Object.values(byRegion).reduce((a, r) => a + r.ranHere, 0);
  if (ran + unknown !== finished) {
    problems.push(
      `tasks run per region (${ran}) plus unknown (${unknown}) is not the ${finished} finished`,
    );
  }
  return {
    tasks: records.length,
    accepted,
    finished,
    unfinished: records.length - finished,
    states,
    durationSeconds: round(durationSeconds, 2),
    tasksPerSecond: round(finished / durationSeconds, 0),
    latencyMs: {
      p50: round(quantile(lat, 0.5)),
      p90: round(quantile(lat, 0.9)),
      p99: round(quantile(lat, 0.99)),
      max: round(lat[lat.length - 1] ?? 0),
    },
    byRegion,
    byQueue,
    crossRegion,
    workerRegionUnknown: unknown,
    failures: states.FAILURE,
    retries,
    refusedThenRetried: refused,
    problems,
    ok: problems.length === 0,
  };
}

/** The summary as a person reads it. */
export function formatSummary(s: Summary): string {
  const lines: string[] = [];
  const n = (x: number): string => x.toLocaleString("en-US");
  lines.push(
    `${n(s.finished)} of ${n(s.tasks)} tasks finished in ${s.durationSeconds} s: ${n(s.tasksPerSecond)} tasks/s`,
  );
  lines.push(
    `enqueue-to-result latency: p50 ${s.latencyMs.p50} ms, p90 ${s.latencyMs.p90} ms, p99 ${s.latencyMs.p99} ms, max ${s.latencyMs.max} ms`,
  );
  lines.push(
    `states: ${n(s.states.SUCCESS)} succeeded, ${n(s.states.FAILURE)} failed, ${n(s.states.REVOKED)} revoked; ${n(s.retries)} retries`,
  );
  for (const [r, c] of Object.entries(s.byRegion)) {
    const perQueue = Object.entries(c.queues)
      .map(([q, k]) => `${q} ${n(k)}`)
      .join(", ");
    lines.push(
      `  region ${r.padEnd(10)} submitted ${n(c.submitted).padStart(8)}   ran ${n(c.ranHere).padStart(8)}   (submitted per queue: ${perQueue})`,
    );
  }
  for (const [q, c] of Object.entries(s.byQueue)) {
    lines.push(`  queue  ${q.padEnd(14)} ${n(c).padStart(8)}`);
  }
  lines.push(
    `crossed regions (a worker in the other region ran it): ${n(s.crossRegion)}` +
      (s.workerRegionUnknown > 0 ? ` (${n(s.workerRegionUnknown)} with no region recorded)` : ""),
  );
  if (s.refusedThenRetried > 0) {
    lines.push(
      `answered 503 (queue full) and sent again after Retry-After: ${n(s.refusedThenRetried)}`,
    );
  }
  lines.push(
    s.ok
      ? "every task reached a final state; the numbers add up"
      : `PROBLEMS: ${s.problems.join("; ")}`,
  );
  return lines.join("\n");
}
