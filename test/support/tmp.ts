/** Temporary folders for a test, removed by the returned cleanup. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function tempDir(prefix = "taskfleet-"): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return {
    path,
    cleanup: () => {
      if (!process.env.TASKFLEET_KEEP_TEST_DIRS) rmSync(path, { recursive: true, force: true });
    },
  };
}
