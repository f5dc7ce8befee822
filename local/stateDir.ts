/**
 * The state folder a local run owns (`.taskfleet/local/` by default): services' data and logs,
 * and `state.json`, which records the run's own pid and the pid of every process it started, so
 * that `--down` (or the next run) can stop what a crashed run left behind — and only that: a pid
 * is signalled only if the process still carries this folder's marker in its environment or
 * command line, so a recycled pid belonging to something else is never touched.
 */
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export const STATE_ENV = "TASKFLEET_LOCAL_STATE";

export interface StartedProcess {
  what: string;
  pid: number;
}

export interface StateFile {
  runnerPid: number;
  startedAt: string;
  stack: string;
  processes: StartedProcess[];
  /** Human-readable endpoints, for `cat state.json` while it runs. */
  endpoints?: Record<string, unknown>;
}

export class StateDir {
  readonly path: string;
  private state: StateFile | null = null;

  constructor(path: string) {
    this.path = path;
  }

  get file(): string {
    return join(this.path, "state.json");
  }

  read(): StateFile | null {
    if (!existsSync(this.file)) return null;
    try {
      return JSON.parse(readFileSync(this.file, "utf8")) as StateFile;
    } catch {
      return null;
    }
  }

  /** Creates the folder for a new run; refuses when another live run owns it. */
  claim(stack: string): void {
    const prev = this.read();
    if (
      prev &&
      prev.runnerPid !== process.pid &&
      alive(prev.runnerPid) &&
      ownedBy(prev.runnerPid, this.path, true)
    ) {
      throw new Error(
        `${this.path} belongs to a local run that is still going (pid ${prev.runnerPid}); stop it with Ctrl-C, or pass --state-dir <another folder>`,
      );
    }
    mkdirSync(this.path, { recursive: true });
    this.state = {
      runnerPid: process.pid,
      startedAt: new Date().toISOString(),
      stack,
      processes: [],
    };
    this.save();
  }

  record(what: string, pid: number | undefined | null): void {
    if (!this.state || pid === undefined || pid === null) return;
    this.state.processes.push({ what, pid });
    this.save();
  }

  setEndpoints(endpoints: Record<string, unknown>): void {
    if (!this.state) return;
    this.state.endpoints = endpoints;
    this.save();
  }

  private save(): void {
    writeFileSync(this.file, JSON.stringify(this.state, null, 2) + "\n");
  }

  /** Removes the folder (after everything in it stopped). */
  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

/** Whether `pid` is a running process (a zombie, exited but not yet reaped, is not). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // state is the first field after the parenthesised command name
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/**
 * Whether `pid` belongs to the run that owns `dir`: its environment carries `STATE_ENV=dir`, its
 * working directory is inside the folder (Redis rewrites its environment and command line for its
 * process title, but keeps its cwd), or its command line mentions the folder. `runner` accepts the runner itself (whose command line is
 * `local/main.ts` and whose env may not carry the marker).
 */
export function ownedBy(pid: number, dir: string, runner = false): boolean {
  try {
    try {
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      if (cwd === dir || cwd.startsWith(`${dir}/`)) return true;
    } catch {
      // not readable: fall through to the other marks
    }
    const env = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
    if (env.includes(`${STATE_ENV}=${dir}`)) return true;
    const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    if (cmd.includes(dir)) return true;
    return runner && cmd.includes("local/main.ts");
  } catch {
    return false;
  }
}

export interface DownReport {
  found: boolean;
  stopped: StartedProcess[];
  skipped: StartedProcess[];
}

/**
 * Stops every recorded process that still runs and still belongs to this folder (TERM, then KILL
 * after `graceMs`), then removes the folder. Refuses while the run that owns it is alive.
 */
export async function down(dir: string, graceMs = 10_000): Promise<DownReport> {
  const sd = new StateDir(dir);
  const st = sd.read();
  if (!existsSync(dir)) return { found: false, stopped: [], skipped: [] };
  if (
    st &&
    st.runnerPid !== process.pid &&
    alive(st.runnerPid) &&
    ownedBy(st.runnerPid, dir, true)
  ) {
    throw new Error(
      `${dir} belongs to a local run that is still going (pid ${st.runnerPid}); stop that run with Ctrl-C (or kill ${st.runnerPid}) first`,
    );
  }
  const stopped: StartedProcess[] = [];
  const skipped: StartedProcess[] = [];
  const procs = st?.processes ?? [];
  for (const p of procs) {
    if (alive(p.pid) && ownedBy(p.pid, dir)) {
      try {
        process.kill(p.pid, "SIGTERM");
        stopped.push(p);
      } catch {
        skipped.push(p);
      }
    } else skipped.push(p);
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && stopped.some((p) => alive(p.pid))) await sleep(100);
  for (const p of stopped) {
    if (alive(p.pid)) {
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
  }
  sd.remove();
  return { found: true, stopped, skipped };
}
