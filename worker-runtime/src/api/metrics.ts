/**
 * A small Prometheus text-format registry for the task API: counters and histograms with labels,
 * rendered in the exposition format 0.0.4. No dependency; the API needs only these two kinds.
 */

type Labels = Readonly<Record<string, string>>;

function labelKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escapeLabel(labels[k] ?? "")}"`)
    .join(",");
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function braces(key: string, extra?: string): string {
  const inner = [key, extra].filter((s) => s !== undefined && s !== "").join(",");
  return inner === "" ? "" : `{${inner}}`;
}

interface Metric {
  render(): string;
}

export class Counter implements Metric {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }

  /** The current value for exactly these labels (0 when never incremented). */
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const [k, v] of this.values) lines.push(`${this.name}${braces(k)} ${v}`);
    return lines.join("\n");
  }
}

export class Gauge implements Metric {
  private value = 0;
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  set(v: number): void {
    this.value = v;
  }
  add(by: number): void {
    this.value += by;
  }
  render(): string {
    return [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} gauge`,
      `${this.name} ${this.value}`,
    ].join("\n");
  }
}

export class Histogram implements Metric {
  private readonly series = new Map<string, { buckets: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly bounds: readonly number[],
  ) {}

  observe(value: number, labels: Labels = {}): void {
    const k = labelKey(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { buckets: this.bounds.map(() => 0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    for (let i = 0; i < this.bounds.length; i++) {
      if (value <= (this.bounds[i] ?? Infinity)) s.buckets[i] = (s.buckets[i] ?? 0) + 1;
    }
    s.sum += value;
    s.count += 1;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of this.series) {
      this.bounds.forEach((b, i) =>
        lines.push(`${this.name}_bucket${braces(k, `le="${b}"`)} ${s.buckets[i] ?? 0}`),
      );
      lines.push(`${this.name}_bucket${braces(k, 'le="+Inf"')} ${s.count}`);
      lines.push(`${this.name}_sum${braces(k)} ${s.sum}`);
      lines.push(`${this.name}_count${braces(k)} ${s.count}`);
    }
    return lines.join("\n");
  }
}

/** The task API's metrics. Names are part of the contract (alert rules and dashboards use them). */
export class ApiMetrics {
  readonly requests = new Counter(
    "taskfleet_api_requests_total",
    "HTTP requests handled by the task API, by route, method and status code.",
  );
  readonly publishSeconds = new Histogram(
    "taskfleet_api_publish_duration_seconds",
    "Time from receiving a task to the broker's publisher confirm, in seconds.",
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  );
  readonly published = new Counter(
    "taskfleet_api_published_total",
    "Tasks the broker confirmed, by queue (each one answered with 202).",
  );
  readonly publishRejected = new Counter(
    "taskfleet_api_publish_rejected_total",
    "Tasks the broker refused (nack, returned or unroutable), answered with 503.",
  );
  readonly inFlight = new Gauge(
    "taskfleet_api_requests_in_flight",
    "HTTP requests being handled right now.",
  );
  readonly authFailures = new Counter(
    "taskfleet_api_auth_failures_total",
    "Requests refused with 401, by reason (missing, malformed or unknown token).",
  );
  readonly throttled = new Counter(
    "taskfleet_api_throttled_total",
    "Requests refused with 429, by limit (rate: requests per client; in_flight: tasks being published).",
  );

  render(): string {
    return (
      [
        this.requests,
        this.publishSeconds,
        this.published,
        this.publishRejected,
        this.inFlight,
        this.authFailures,
        this.throttled,
      ]
        .map((m) => m.render())
        .join("\n") + "\n"
    );
  }
}
