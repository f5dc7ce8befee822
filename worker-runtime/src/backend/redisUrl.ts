/**
 * Redis result-backend URLs, Celery style plus several hosts (seed S29):
 * `redis://[:password@]host[:port][,host2[:port]...][/db]`, `rediss://` for TLS,
 * `?password=...` accepted too. Pure.
 */
export interface RedisEndpoint {
  host: string;
  port: number;
}

export interface RedisTarget {
  hosts: RedisEndpoint[];
  username: string | undefined;
  password: string | undefined;
  db: number;
  tls: boolean;
}

export function parseRedisUrl(url: string, field = "result backend"): RedisTarget {
  const m = /^(rediss?):\/\/(?:([^@/]*)@)?([^/?]*)(?:\/(\d*))?(?:\?(.*))?$/.exec(url.trim());
  if (!m) {
    throw new Error(
      `${field}: "${redact(url)}" is not a Redis URL; use redis://[:password@]host[:port][,host:port...][/db]`,
    );
  }
  const [, scheme, auth, hostList, dbText, query] = m;
  let username: string | undefined;
  let password: string | undefined;
  if (auth) {
    const i = auth.indexOf(":");
    if (i >= 0) {
      username = decodeURIComponent(auth.slice(0, i)) || undefined;
      password = decodeURIComponent(auth.slice(i + 1)) || undefined;
    } else {
      password = decodeURIComponent(auth) || undefined;
    }
  }
  const params = new URLSearchParams(query ?? "");
  password = params.get("password") ?? password;
  const hosts = (hostList ?? "")
    .split(",")
    .filter((h) => h.length > 0)
    .map((h) => {
      const hm = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(h);
      if (!hm) throw new Error(`${field}: host "${h}" in "${redact(url)}" is not host[:port]`);
      return { host: hm[1]!.replace(/^\[|\]$/g, ""), port: hm[2] ? Number(hm[2]) : 6379 };
    });
  if (hosts.length === 0) hosts.push({ host: "localhost", port: 6379 });
  const db = dbText ? Number(dbText) : Number(params.get("db") ?? 0);
  return { hosts, username, password, db, tls: scheme === "rediss" };
}

/** The URL with its password replaced by `***`, for logs and errors. */
export function redact(url: string): string {
  return url
    .replace(/\/\/([^@/]*):([^@/]*)@/, "//$1:***@")
    .replace(/([?&]password=)[^&]*/, "$1***");
}
