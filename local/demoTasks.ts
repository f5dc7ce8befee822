/**
 * The demo's task module, run by every worker pool of `npm run local` (`taskfleet worker -A
 * local/demoTasks.ts`). Tasks of mixed priority; some fail once and succeed on retry, a few fail
 * for good. Each result records the region of the worker that ran it (`TASKFLEET_REGION`, set by
 * the local target), which is how the summary counts tasks that crossed regions.
 *
 * It also exports `demoWorkload(i)`, the i-th task the demo sends; a user's module passed with
 * `--tasks` may export its own to get a demo run of its tasks.
 */
// Inside this repository the runtime is imported from its sources; a task module of your own
// imports the same from "@taskfleet/worker".
import { createApp, type TaskContext } from "../worker-runtime/src/app.js";
import type { WorkloadTask } from "./demo.js";

export const app = createApp();

const region = process.env.TASKFLEET_REGION ?? "unknown";

/** Error a flaky task raises on its first attempt (retried automatically). */
class TransientError extends Error {
  override name = "TransientError";
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** High priority: a payment authorisation, a few milliseconds of work. */
app.task(
  "demo.checkout",
  async (orderId: number, amountCents: number) => {
    await sleep(2);
    return { region, orderId, authorised: amountCents < 1_000_000 };
  },
  { queue: "high_priority" },
);

/** Default priority: CPU work of a fraction of a millisecond. */
app.task(
  "demo.thumbnail",
  async (imageId: number, size: number) => {
    let h = imageId;
    for (let i = 0; i < 2000; i++) h = (h * 31 + size + i) % 1_000_003;
    return { region, imageId, digest: h };
  },
  { queue: "default" },
);

/** Default priority: fails on its first attempt, succeeds on the retry. */
app.task(
  "demo.flaky",
  async (n: number, ctx: TaskContext) => {
    const retries = ctx.request.retries;
    if (retries === 0) throw new TransientError(`transient failure of item ${n}; will retry`);
    return { region, n, retries };
  },
  {
    queue: "default",
    autoretryFor: [TransientError],
    maxRetries: 3,
    retryBackoff: false,
    defaultRetryDelaySeconds: 1,
  },
);

/** Default priority: always fails (after one retry), so the summary shows real failures. */
app.task(
  "demo.broken",
  async (n: number) => {
    throw new TransientError(`item ${n} is broken and stays broken`);
  },
  {
    queue: "default",
    autoretryFor: [TransientError],
    maxRetries: 1,
    retryBackoff: false,
    defaultRetryDelaySeconds: 1,
  },
);

/**
 * The demo's mix: 25% high-priority checkouts, 67% default thumbnails, 6% flaky (one retry each),
 * 2% broken (one retry, then FAILURE).
 */
export function demoWorkload(i: number): WorkloadTask {
  const r = i % 100;
  if (r < 25) return { name: "demo.checkout", args: [i, (i * 37) % 20_000], priority: "high" };
  if (r < 92) return { name: "demo.thumbnail", args: [i, 128], priority: "default" };
  if (r < 98) return { name: "demo.flaky", args: [i], priority: "default" };
  return { name: "demo.broken", args: [i], priority: "default" };
}
