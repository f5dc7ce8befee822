/**
 * Child processes for local services: output goes to a log file (never to an inherited pipe, so a
 * test runner or CI reading our stdout is not held open by a daemon), and every child is ended
 * when this process exits.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { openSync, closeSync, readFileSync, existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "node:net";

const live = new Set<ChildProcess>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const c of live) {
      try {
        c.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
  });
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** File that receives stdout and stderr. */
  logFile: string;
  /**
   * Run the child in its own process group, so a Ctrl-C at the terminal reaches only the parent,
   * which then stops its children in order. @default false
   */
  detached?: boolean;
}

/** Starts `cmd` with output appended to `logFile`; the child is killed if this process exits. */
export function startLogged(
  cmd: string,
  args: readonly string[],
  opts: StartOptions,
): ChildProcess {
  hookExit();
  const fd = openSync(opts.logFile, "a");
  const child = spawn(cmd, args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: ["ignore", fd, fd],
    detached: opts.detached ?? false,
  });
  closeSync(fd);
  live.add(child);
  child.on("exit", () => live.delete(child));
  return child;
}

/** The last `lines` lines of a log file, for error messages. */
export function tail(file: string, lines = 20): string {
  if (!existsSync(file)) return "(no log)";
  return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
}

/** Resolves once a TCP connection to 127.0.0.1:port succeeds, or throws after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const up = await new Promise<boolean>((resolve) => {
      const s = connect({ host: "127.0.0.1", port });
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (up) return;
    await sleep(100);
  }
  throw new Error(`${what} did not accept connections on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

/** Waits for a child to exit, up to `timeoutMs`; returns whether it did. */
export function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), timeoutMs);
    child.once("exit", () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}
