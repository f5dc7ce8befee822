import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../support/tmp.js";

const root = join(import.meta.dirname, "..", "..");

/** A PATH holding only the listed commands, so setup sees a machine without the others. */
function restrictedPath(dir: string, commands: string[]): string {
  const bin = join(dir, "bin");
  mkdirSync(bin);
  for (const c of commands) {
    const found = spawnSync("sh", ["-c", `command -v ${c}`], { encoding: "utf8" }).stdout.trim();
    if (found) symlinkSync(found, join(bin, c));
  }
  symlinkSync(process.execPath, join(bin, "node"));
  return bin;
}

describe("scripts/setup.mjs", () => {
  it("is idempotent: with everything present it installs nothing and exits 0", () => {
    const r = spawnSync(process.execPath, [join(root, "scripts/setup.mjs")], {
      cwd: root,
      encoding: "utf8",
    });
    expect(r.status).toBe(0);
    expect(r.stderr).not.toContain("installing system packages");
  });

  it("without apt-get names each missing package and the install command, exits 1, no stack trace", () => {
    const tmp = tempDir();
    try {
      // No redis-server, no promtool, no apt-get on this PATH; sh is needed for `command -v`.
      const path = restrictedPath(tmp.path, ["sh", "erl", "npm"]);
      const r = spawnSync(process.execPath, [join(root, "scripts/setup.mjs")], {
        cwd: root,
        encoding: "utf8",
        env: { PATH: path, HOME: tmp.path },
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain("taskfleet setup: missing system packages: redis-server (Redis 7");
      expect(r.stderr).toContain("prometheus (Prometheus and promtool (alert rules;");
      expect(r.stderr).toContain("prometheus-alertmanager (Alertmanager and amtool");
      expect(r.stderr).toContain(
        "sudo apt-get update && sudo apt-get install -y redis-server prometheus prometheus-alertmanager",
      );
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(r.stderr.trim().split("\n").length).toBeLessThanOrEqual(3);
    } finally {
      tmp.cleanup();
    }
  });

  it("--deps-only skips the system check", () => {
    const tmp = tempDir();
    try {
      const path = restrictedPath(tmp.path, ["sh", "npm"]);
      const r = spawnSync(process.execPath, [join(root, "scripts/setup.mjs"), "--deps-only"], {
        cwd: root,
        encoding: "utf8",
        env: { PATH: path, HOME: tmp.path },
      });
      expect(r.status).toBe(0);
    } finally {
      tmp.cleanup();
    }
  });
});

describe("scripts/node22.mjs", () => {
  it("runs a command on Node 22.12 or newer even when started by an older node", () => {
    const r = spawnSync(
      "/usr/bin/env",
      ["node", join(root, "scripts/node22.mjs"), "-p", "process.versions.node"],
      { encoding: "utf8", env: { ...process.env, PATH: `/usr/local/bin:/usr/bin:/bin` } },
    );
    expect(r.status).toBe(0);
    const [maj, min] = r.stdout.trim().split(".").map(Number) as [number, number];
    expect(maj > 22 || (maj === 22 && min >= 12)).toBe(true);
  });

  it("passes the child's exit code through", () => {
    const r = spawnSync(process.execPath, [
      join(root, "scripts/node22.mjs"),
      "-e",
      "process.exit(7)",
    ]);
    expect(r.status).toBe(7);
  });
});
