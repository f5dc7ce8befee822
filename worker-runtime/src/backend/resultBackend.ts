/**
 * Celery's Redis result backend: `celery-task-meta-<id>` JSON values written with SETEX
 * (`result_expires`, default 86400 s) and PUBLISHed on a channel named like the key, so Python
 * `AsyncResult.get()` and taskfleet read each other's results. The write is one server-side
 * script (check, SETEX, PUBLISH): a stored SUCCESS is never overwritten, atomically, which is
 * Celery's `_store_result` guard without its read-then-write race.
 */
import { Redis, type RedisOptions } from "ioredis";
import {
  buildMeta,
  decodeMeta,
  encodeMeta,
  READY_STATES,
  type BuildMetaInput,
  type ResultMeta,
} from "../protocol/result.js";
import type { JsonMode } from "../protocol/json.js";
import { parseRedisUrl, redact, type RedisTarget } from "./redisUrl.js";

export interface ResultBackendOptions {
  /** `redis://[:password@]host[:port][,host:port...][/db]`. */
  url: string;
  /** Seconds results live; 0 keeps them forever (SET instead of SETEX). @default 86400 */
  resultExpiresSeconds?: number;
  /** Celery's `global_keyprefix`. @default "" */
  keyPrefix?: string;
  /** @default "tagged" */
  jsonMode?: JsonMode;
  /** Connect timeout per host. @default 5000 */
  connectTimeoutMs?: number;
}

export class ResultTimeoutError extends Error {
  override name = "TimeoutError";
}

/**
 * The result store is a Redis Cluster node. A standalone client (this one, and Python Celery's
 * Redis backend) gets `MOVED` for every key held by another shard, so most results would fail;
 * refusing at connect makes a worker fail to start and the API's /readyz answer 503 instead.
 */
export class ClusterModeError extends Error {
  override name = "ClusterModeError";
}

// KEYS[1] = key; ARGV[1] = value, ARGV[2] = expiry seconds (0 = none). Returns 1 if written.
const STORE_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, meta = pcall(cjson.decode, cur)
  if ok and type(meta) == 'table' and meta['status'] == 'SUCCESS' then return 0 end
end
local ttl = tonumber(ARGV[2])
if ttl and ttl > 0 then
  redis.call('SETEX', KEYS[1], ttl, ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('PUBLISH', KEYS[1], ARGV[1])
return 1
`;

type Waiter = (meta: ResultMeta) => void;

export class ResultBackend {
  readonly target: RedisTarget;
  readonly resultExpiresSeconds: number;
  readonly keyPrefix: string;
  private readonly jsonMode: JsonMode;
  private readonly url: string;
  private readonly connectTimeoutMs: number;
  private client: Redis | null = null;
  private connecting: Promise<Redis> | null = null;
  private sub: Redis | null = null;
  private subConnecting: Promise<Redis> | null = null;
  private readonly waiters = new Map<string, Set<Waiter>>();
  private hostIndex = 0;
  private closed = false;

  constructor(opts: ResultBackendOptions) {
    this.url = opts.url;
    this.target = parseRedisUrl(opts.url);
    const exp = opts.resultExpiresSeconds ?? 86400;
    if (!Number.isInteger(exp) || exp < 0) {
      throw new Error(
        `resultExpiresSeconds: ${exp} is not allowed; use a whole number of seconds ≥ 0 (86400 = one day)`,
      );
    }
    this.resultExpiresSeconds = exp;
    this.keyPrefix = opts.keyPrefix ?? "";
    this.jsonMode = opts.jsonMode ?? "tagged";
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
  }

  keyFor(taskId: string): string {
    return `${this.keyPrefix}celery-task-meta-${taskId}`;
  }

  private options(i: number): RedisOptions {
    const h = this.target.hosts[i]!;
    return {
      host: h.host,
      port: h.port,
      db: this.target.db,
      ...(this.target.username ? { username: this.target.username } : {}),
      ...(this.target.password ? { password: this.target.password } : {}),
      ...(this.target.tls ? { tls: {} } : {}),
      lazyConnect: true,
      connectTimeout: this.connectTimeoutMs,
      enableAutoPipelining: true,
      maxRetriesPerRequest: 2,
      retryStrategy: (times) => (times > 3 ? null : Math.min(times * 200, 1000)),
    };
  }

  /**
   * Connects to the first host that answers and is a master (or the first that answers, when
   * none reports master), trying the hosts in turn starting after the last one that failed.
   */
  private async open(): Promise<Redis> {
    const n = this.target.hosts.length;
    const errors: string[] = [];
    let fallback: Redis | null = null;
    for (let k = 0; k < n; k++) {
      const i = (this.hostIndex + k) % n;
      const c = new Redis(this.options(i));
      let lastError: Error | null = null;
      c.on("error", (e: Error) => {
        lastError ??= e;
      });
      try {
        await c.connect();
        const info = String(await c.call("INFO", "cluster"));
        if (/^cluster_enabled:1\s*$/m.test(info)) {
          const h = this.target.hosts[i]!;
          throw new ClusterModeError(
            `result backend ${redact(this.url)}: ${h.host}:${h.port} is a Redis Cluster node (cluster_enabled:1); taskfleet and Python Celery read and write results with a standalone Redis client, which cannot follow the cluster's MOVED redirects, so most keys would fail; use a Redis without cluster mode (ElastiCache: cluster mode disabled, replicas for availability)`,
          );
        }
        const role = (await c.call("ROLE")) as unknown[];
        if (role[0] === "master" || n === 1) {
          this.hostIndex = i;
          fallback?.disconnect();
          return c;
        }
        if (!fallback) fallback = c;
        else c.disconnect();
      } catch (err) {
        if (err instanceof ClusterModeError) {
          c.disconnect();
          fallback?.disconnect();
          throw err;
        }
        const h = this.target.hosts[i]!;
        errors.push(`${h.host}:${h.port}: ${(lastError ?? (err as Error)).message}`);
        c.disconnect();
      }
    }
    if (fallback) return fallback;
    throw new Error(`result backend ${redact(this.url)}: no host answered (${errors.join("; ")})`);
  }

  /** The connected client, for companions that keep their own keys beside the results (the task API). */
  connection(): Promise<Redis> {
    return this.redis();
  }

  private async redis(): Promise<Redis> {
    if (this.closed) throw new Error("result backend is closed");
    if (this.client && this.client.status !== "end") return this.client;
    this.connecting ??= this.open().then(
      (c) => {
        this.client = c;
        this.connecting = null;
        c.on("end", () => {
          if (this.client === c) this.client = null;
          this.hostIndex = (this.hostIndex + 1) % this.target.hosts.length;
        });
        c.defineCommand("taskfleetStore", { numberOfKeys: 1, lua: STORE_SCRIPT });
        return c;
      },
      (err: unknown) => {
        this.connecting = null;
        throw err;
      },
    );
    return this.connecting;
  }

  /** Checks that a host answers. */
  async connect(): Promise<void> {
    await this.redis();
  }

  /** Round trip to the store (PING); throws when it does not answer. */
  async ping(): Promise<void> {
    await (await this.redis()).ping();
  }

  /**
   * Stores a task's state. Returns false when a SUCCESS was already stored (nothing written).
   */
  async store(input: BuildMetaInput): Promise<boolean> {
    const meta = buildMeta(input);
    return this.storeMeta(meta);
  }

  /** Throws {@link EncodeError} (before any I/O) when the meta cannot be encoded. */
  async storeMeta(meta: ResultMeta): Promise<boolean> {
    const value = encodeMeta(meta, this.jsonMode);
    const c = await this.redis();
    try {
      const r = await (
        c as unknown as { taskfleetStore(k: string, v: string, ttl: number): Promise<number> }
      ).taskfleetStore(this.keyFor(meta.task_id), value, this.resultExpiresSeconds);
      return r === 1;
    } catch (err) {
      // A replica (after a failover, or the only host that answered): choose a host again.
      if (/^READONLY/.test((err as Error).message)) this.dropClient(c);
      throw err;
    }
  }

  private dropClient(c: Redis): void {
    if (this.client !== c) return;
    this.client = null;
    this.hostIndex = (this.hostIndex + 1) % this.target.hosts.length;
    c.disconnect();
  }

  /** The stored meta, or null (PENDING) when there is none. */
  async getMeta(taskId: string): Promise<ResultMeta | null> {
    const c = await this.redis();
    const v = await c.getBuffer(this.keyFor(taskId));
    return v ? decodeMeta(v) : null;
  }

  private async subscriber(): Promise<Redis> {
    if (this.sub) return this.sub;
    this.subConnecting ??= (async () => {
      const base = await this.redis();
      const s = base.duplicate({
        enableAutoPipelining: false,
        maxRetriesPerRequest: null,
        retryStrategy: (t) => Math.min(t * 200, 2000),
      });
      s.on("error", () => undefined);
      s.on("messageBuffer", (ch: Buffer, msg: Buffer) => {
        const set = this.waiters.get(ch.toString());
        if (!set) return;
        let meta: ResultMeta;
        try {
          meta = decodeMeta(msg);
        } catch {
          return;
        }
        for (const w of [...set]) w(meta);
      });
      this.sub = s;
      return s;
    })();
    return this.subConnecting;
  }

  /**
   * Waits until the task reaches a ready state (SUCCESS, FAILURE, REVOKED) and returns its meta.
   * Subscribes to the key's channel first, then reads the key, so no write is missed; polls as a
   * safety net while waiting.
   */
  async waitForReady(taskId: string, timeoutMs?: number, pollMs = 500): Promise<ResultMeta> {
    const key = this.keyFor(taskId);
    const sub = await this.subscriber();
    return new Promise<ResultMeta>((resolve, reject) => {
      let done = false;
      let last: ResultMeta | null = null;
      const finish = (meta: ResultMeta | null, err?: Error): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearInterval(poll);
        const set = this.waiters.get(key);
        set?.delete(onMeta);
        if (set && set.size === 0) {
          this.waiters.delete(key);
          void sub.unsubscribe(key).catch(() => undefined);
        }
        if (err) reject(err);
        else resolve(meta!);
      };
      const onMeta: Waiter = (meta) => {
        last = meta;
        if (READY_STATES.has(meta.status)) finish(meta);
      };
      let set = this.waiters.get(key);
      if (!set) {
        set = new Set();
        this.waiters.set(key, set);
      }
      set.add(onMeta);
      const check = (): void => {
        this.getMeta(taskId).then(
          (m) => m && onMeta(m),
          () => undefined,
        );
      };
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              finish(
                null,
                new ResultTimeoutError(
                  `task ${taskId} did not finish within ${timeoutMs} ms (state ${last?.status ?? "PENDING"})`,
                ),
              );
            }, timeoutMs);
      const poll = setInterval(check, pollMs);
      sub.subscribe(key).then(check, (err: unknown) => finish(null, err as Error));
    });
  }

  /** Closes the connections; safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const cs = [this.client, this.sub];
    this.client = null;
    this.sub = null;
    await Promise.all(
      cs.map(async (c) => {
        if (!c) return;
        try {
          await c.quit();
        } catch {
          c.disconnect();
        }
      }),
    );
  }
}
