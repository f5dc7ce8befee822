#!/usr/bin/env node
// One idempotent setup step, run by `npm test`, `npm run local` and `npm run bench`:
//  1. npm dependencies: installed (npm ci) when node_modules is missing or older than the lock file;
//  2. system services the tests and the local target run (Debian packages): installed with apt when
//     running as root, otherwise named in one paragraph with the command that installs them.
// Plain JavaScript with no dependencies: it runs before anything is installed.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const depsOnly = process.argv.includes("--deps-only");
const quiet = process.argv.includes("--quiet");
const log = (msg) => {
  if (!quiet) process.stderr.write(`[setup] ${msg}\n`);
};

function lockHash() {
  const h = createHash("sha256");
  for (const f of ["package.json", "package-lock.json", "worker-runtime/package.json"]) {
    const p = join(root, f);
    if (existsSync(p)) h.update(f).update(readFileSync(p));
  }
  return h.digest("hex");
}

function ensureDeps() {
  const marker = join(root, "node_modules", ".taskfleet-deps");
  const want = lockHash();
  if (existsSync(marker) && readFileSync(marker, "utf8") === want) return;
  // A fresh checkout gets exactly the lock file (npm ci); an existing node_modules is updated in
  // place (npm install), so a run does not delete modules another process is using.
  const fresh = !existsSync(join(root, "node_modules"));
  const hasLock = existsSync(join(root, "package-lock.json"));
  const args =
    fresh && hasLock ? ["ci", "--no-audit", "--no-fund"] : ["install", "--no-audit", "--no-fund"];
  log(`installing npm dependencies: npm ${args.join(" ")}`);
  const r = spawnSync("npm", args, { cwd: root, stdio: "inherit" });
  if (r.status !== 0) {
    process.stderr.write(
      `[setup] npm ${args[0]} failed (exit ${r.status}); see the output above.\n`,
    );
    process.exit(r.status ?? 1);
  }
  writeFileSync(marker, want);
}

function ok(cmd, args) {
  try {
    execFileSync(cmd, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
const onPath = (bin) => ok("sh", ["-c", `command -v ${bin}`]);
const RABBIT_BIN = "/usr/lib/rabbitmq/bin/rabbitmq-server";

/** Debian package name → how to tell that what we need from it is here. */
const SYSTEM_PACKAGES = [
  {
    pkg: "rabbitmq-server",
    why: "RabbitMQ 3.10 with the federation, shovel, consistent-hash and prometheus plugins",
    present: () => existsSync(RABBIT_BIN) && onPath("erl"),
  },
  { pkg: "redis-server", why: "Redis 7 (result backend)", present: () => onPath("redis-server") },
  {
    pkg: "python3-celery",
    why: "Python Celery 5, the peer for wire-compatibility tests",
    present: () => ok("/usr/bin/python3", ["-c", "import celery"]),
  },
  {
    pkg: "python3-redis",
    why: "Celery's Redis result backend client",
    present: () => ok("/usr/bin/python3", ["-c", "import redis"]),
  },
  {
    pkg: "prometheus",
    why: "Prometheus and promtool (alert rules; the local target's monitoring)",
    present: () => onPath("promtool") && existsSync("/usr/bin/prometheus"),
  },
  {
    pkg: "prometheus-alertmanager",
    why: "Alertmanager and amtool (alert routing; the local target's Alertmanager)",
    present: () => existsSync("/usr/bin/prometheus-alertmanager") && onPath("amtool"),
  },
  {
    pkg: "prometheus-redis-exporter",
    why: "redis_exporter, the result backend's exporter on the local target",
    present: () => existsSync("/usr/bin/prometheus-redis-exporter"),
  },
  {
    pkg: "prometheus-node-exporter",
    why: "node-exporter, whose metric names the cluster alert rules use",
    present: () => existsSync("/usr/bin/prometheus-node-exporter"),
  },
];

function ensureSystem() {
  let missing = SYSTEM_PACKAGES.filter((p) => !p.present());
  if (missing.length === 0) return;
  const names = missing.map((p) => p.pkg);
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (isRoot && onPath("apt-get")) {
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    const install = () =>
      spawnSync("apt-get", ["install", "-y", "-q", ...names], { stdio: "inherit", env }).status;
    log(`installing system packages: apt-get install -y ${names.join(" ")}`);
    if (install() !== 0) {
      log("apt-get install failed; refreshing package lists (apt-get update) and trying again");
      spawnSync("apt-get", ["update", "-q"], { stdio: "inherit", env });
      install();
    }
    missing = SYSTEM_PACKAGES.filter((p) => !p.present());
    if (missing.length === 0) return;
  }
  const list = missing.map((p) => `${p.pkg} (${p.why})`).join(", ");
  const cmd = `sudo apt-get update && sudo apt-get install -y ${missing.map((p) => p.pkg).join(" ")}`;
  const reason = !isRoot
    ? "Setup installs them itself only when it runs as root with apt-get; this is not root. "
    : !onPath("apt-get")
      ? "Setup installs them itself with apt-get, which this machine does not have. "
      : "apt-get could not install them (see its output above). ";
  process.stderr.write(
    `taskfleet setup: missing system packages: ${list}. ` +
      reason +
      `Install them with: ${cmd}\n` +
      "Then run the command again. The tests and `npm run local` start their own RabbitMQ and Redis " +
      "processes from these packages; no system service needs to be running.\n",
  );
  process.exit(1);
}

ensureDeps();
if (!depsOnly) ensureSystem();
