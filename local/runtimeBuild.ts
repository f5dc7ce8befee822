/**
 * A user's task module (`--tasks`) imports `@taskfleet/worker`, whose package entry is the
 * compiled `worker-runtime/dist/`. In a fresh checkout that folder does not exist yet, and after
 * a pull it may be older than the sources: build it then (a couple of seconds with tsc).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (e.name.endsWith(".ts")) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds the runtime's dist/ when missing or older than its sources; returns whether it built. */
export function ensureRuntimeBuilt(repoRoot: string, log: (line: string) => void): boolean {
  const pkg = join(repoRoot, "worker-runtime");
  const entry = join(pkg, "dist", "index.js");
  if (existsSync(entry) && statSync(entry).mtimeMs >= newestMtime(join(pkg, "src"))) return false;
  log("building @taskfleet/worker (worker-runtime/dist) for your task module's import...");
  execFileSync(
    process.execPath,
    [
      join(repoRoot, "node_modules", "typescript", "bin", "tsc"),
      "-p",
      join(pkg, "tsconfig.build.json"),
    ],
    { cwd: repoRoot, stdio: ["ignore", "inherit", "inherit"] },
  );
  return true;
}
