/** A one-line progress bar on a terminal (stderr); silent when stderr is not a TTY. */
export class ProgressBar {
  private readonly tty: boolean;
  private readonly startedAt = performance.now();
  private lastLen = 0;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    force = false,
  ) {
    this.tty = force || stream.isTTY === true;
  }

  update(p: { submitted: number; finished: number; total: number }): void {
    if (!this.tty || p.total === 0) return;
    const width = 30;
    const done = Math.round((p.finished / p.total) * width);
    const sent = Math.max(done, Math.round((p.submitted / p.total) * width));
    const bar = "#".repeat(done) + "+".repeat(sent - done) + ".".repeat(width - sent);
    const secs = (performance.now() - this.startedAt) / 1000;
    const rate = secs > 0 ? Math.round(p.finished / secs) : 0;
    const n = (x: number): string => x.toLocaleString("en-US");
    const line = `  [${bar}] ${n(p.finished)}/${n(p.total)} done, ${n(p.submitted)} sent, ${n(rate)} tasks/s`;
    this.stream.write(`\r${line}${" ".repeat(Math.max(0, this.lastLen - line.length))}`);
    this.lastLen = line.length;
  }

  end(): void {
    if (this.tty && this.lastLen > 0) this.stream.write("\n");
    this.lastLen = 0;
  }
}
