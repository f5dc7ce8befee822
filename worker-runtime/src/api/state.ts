/**
 * What the task API keeps in Redis beside the results: which client sent each task (only that
 * client reads its result) and the answers to `Idempotency-Key`s.
 *
 * Idempotency, for one client's key (kept 24 h):
 * - The first request claims the key with `SET NX` (one round trip, pipelined for batches), with
 *   a fresh task id and a lease as long as a publish can take; it publishes under that id and
 *   stores its answer (202 and the id) or that it failed.
 * - A repeat while the first is still in flight waits for it (polling, at most one lease) and
 *   answers what it answered. A repeat after a failure (503, timeout, a crashed API) or a lapsed
 *   lease takes the key over (compare-and-set) and publishes again under the *same* task id: the
 *   task keeps one id whatever happens. Only when the first publish's fate was unknown (no confirm
 *   in time) can the broker then hold two messages of that one task id; the worker runs each at
 *   least once, as for any redelivery.
 * - A repeat with another body is refused (422): a key names one request.
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

export interface StoredAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

interface IdemRecord {
  /** Fingerprint of the request (SHA-256 of its JSON). */
  fp: string;
  /** Task id every attempt of this key publishes under. */
  id: string;
  state: "pending" | "done" | "failed";
  /** Until when (epoch ms) a pending attempt is presumed alive. */
  lease: number;
  answer?: StoredAnswer;
  attempts: number;
}

export type Claim =
  /** This request owns the key: publish under `id`. */
  | { readonly kind: "owner"; readonly id: string; readonly retake: boolean }
  /** The key was answered before: answer the same. */
  | { readonly kind: "replay"; readonly answer: StoredAnswer }
  /** The key was used with another request body. */
  | { readonly kind: "mismatch" }
  /** Another attempt held the key for longer than a lease; try later. */
  | { readonly kind: "busy" };

export interface ApiStateOptions {
  /** Seconds an owner record lives past the task's countdown. @default 86400 (the results' expiry) */
  ownerTtlSeconds?: number;
  /** Seconds an idempotency key is remembered. @default 86400 */
  idempotencyTtlSeconds?: number;
  /** How long a pending attempt holds its key before a repeat may take over. @default 15000 */
  leaseMs?: number;
}

const CAS = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  return 1
end
return 0`;

const PREFIX = "taskfleet:api:";
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function fingerprint(body: unknown): string {
  return createHash("sha256").update(JSON.stringify(body)).digest("hex");
}

export class ApiState {
  readonly ownerTtlSeconds: number;
  readonly idempotencyTtlSeconds: number;
  readonly leaseMs: number;
  private readonly connect: () => Promise<Redis>;

  constructor(connect: () => Promise<Redis>, opts: ApiStateOptions = {}) {
    this.connect = connect;
    this.ownerTtlSeconds = opts.ownerTtlSeconds ?? 86400;
    this.idempotencyTtlSeconds = opts.idempotencyTtlSeconds ?? 86400;
    this.leaseMs = opts.leaseMs ?? 15_000;
  }

  private async redis(): Promise<Redis> {
    const r = await this.connect();
    if (!("taskfleetCas" in r)) r.defineCommand("taskfleetCas", { numberOfKeys: 1, lua: CAS });
    return r;
  }

  /** Records who sent each task (before it is published, so a 202 always has its owner). */
  async setOwners(
    items: readonly { id: string; client: string; countdownSeconds?: number }[],
  ): Promise<void> {
    const r = await this.redis();
    await Promise.all(
      items.map((i) =>
        r.set(
          `${PREFIX}owner:${i.id}`,
          i.client,
          "EX",
          this.ownerTtlSeconds + Math.ceil(i.countdownSeconds ?? 0),
        ),
      ),
    );
  }

  async ownerOf(id: string): Promise<string | null> {
    return (await this.redis()).get(`${PREFIX}owner:${id}`);
  }

  private key(client: string, key: string): string {
    return `${PREFIX}idem:${client}:${createHash("sha256").update(key).digest("hex")}`;
  }

  /** Claims idempotency keys (one round trip when all are new); `ids[i]` is used for a new key. */
  async claimMany(
    client: string,
    items: readonly { key: string; fp: string; id: string }[],
  ): Promise<Claim[]> {
    const r = await this.redis();
    const now = Date.now();
    const olds = await Promise.all(
      items.map((i) => {
        const rec: IdemRecord = {
          fp: i.fp,
          id: i.id,
          state: "pending",
          lease: now + this.leaseMs,
          attempts: 1,
        };
        const k = this.key(client, i.key);
        return r.call(
          "SET",
          k,
          JSON.stringify(rec),
          "EX",
          String(this.idempotencyTtlSeconds),
          "NX",
          "GET",
        ) as Promise<string | null>;
      }),
    );
    return Promise.all(
      items.map((i, n) =>
        olds[n] === null
          ? ({ kind: "owner", id: i.id, retake: false } as const)
          : this.resolve(r, this.key(client, i.key), olds[n]!, i),
      ),
    );
  }

  private async resolve(
    r: Redis,
    k: string,
    first: string,
    item: { fp: string; id: string },
  ): Promise<Claim> {
    const deadline = Date.now() + this.leaseMs + 1000;
    let raw: string | null = first;
    let wait = 10;
    for (;;) {
      if (raw === null) {
        // Expired meanwhile: claim it afresh.
        const rec: IdemRecord = {
          fp: item.fp,
          id: item.id,
          state: "pending",
          lease: Date.now() + this.leaseMs,
          attempts: 1,
        };
        const ok = await r.set(k, JSON.stringify(rec), "EX", this.idempotencyTtlSeconds, "NX");
        if (ok === "OK") return { kind: "owner", id: item.id, retake: false };
        raw = await r.get(k);
        continue;
      }
      const rec = JSON.parse(raw) as IdemRecord;
      if (rec.fp !== item.fp) return { kind: "mismatch" };
      if (rec.state === "done" && rec.answer) return { kind: "replay", answer: rec.answer };
      const now = Date.now();
      if (rec.state === "failed" || rec.lease <= now) {
        const next: IdemRecord = {
          ...rec,
          state: "pending",
          lease: now + this.leaseMs,
          attempts: rec.attempts + 1,
        };
        const cas = (r as unknown as Record<string, (...a: string[]) => Promise<number>>)
          .taskfleetCas!;
        if ((await cas.call(r, k, raw, JSON.stringify(next))) === 1) {
          return { kind: "owner", id: rec.id, retake: true };
        }
      } else if (now > deadline) {
        return { kind: "busy" };
      } else {
        await sleep(wait);
        wait = Math.min(wait * 2, 100);
      }
      raw = await r.get(k);
    }
  }

  /** Stores the outcome of the attempts that owned their keys. */
  async settleMany(
    client: string,
    items: readonly { key: string; fp: string; id: string; answer: StoredAnswer | null }[],
  ): Promise<void> {
    if (items.length === 0) return;
    const r = await this.redis();
    await Promise.all(
      items.map((i) => {
        const rec: IdemRecord = {
          fp: i.fp,
          id: i.id,
          state: i.answer ? "done" : "failed",
          lease: 0,
          attempts: 0,
          ...(i.answer ? { answer: i.answer } : {}),
        };
        return r.set(this.key(client, i.key), JSON.stringify(rec), "KEEPTTL", "XX");
      }),
    );
  }
}
