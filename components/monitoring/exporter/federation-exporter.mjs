// taskfleet federation exporter: serves the state of this region's RabbitMQ federation links as
// Prometheus metrics. RabbitMQ 3.10's prometheus plugin has no federation metrics; the link state
// is in the management API (`GET /api/federation-links`). Plain Node (no dependencies), so it
// runs from a ConfigMap in a stock Node image.
//
// Environment: RABBITMQ_MANAGEMENT_URL (base URL of the management API), RABBITMQ_USERNAME,
// RABBITMQ_PASSWORD, EXPORTER_PORT (default 9877), EXPORTER_HOST (default 0.0.0.0),
// SCRAPE_TIMEOUT_MS (default 5000).
/* global fetch, AbortSignal */
import { createServer } from "node:http";

const env = process.env;
const base = (env.RABBITMQ_MANAGEMENT_URL ?? "").replace(/\/+$/, "");
const port = Number(env.EXPORTER_PORT ?? 9877);
const host = env.EXPORTER_HOST ?? "0.0.0.0";
const timeoutMs = Number(env.SCRAPE_TIMEOUT_MS ?? 5000);
if (!/^https?:\/\//.test(base)) {
  console.error(`RABBITMQ_MANAGEMENT_URL: ${JSON.stringify(base)} is not an http(s) URL`);
  process.exit(2);
}
const auth =
  "Basic " +
  Buffer.from(`${env.RABBITMQ_USERNAME ?? ""}:${env.RABBITMQ_PASSWORD ?? ""}`).toString("base64");

/** Escapes a Prometheus label value. */
function label(v) {
  return String(v ?? "")
    .replace(/\\/g, "\\\\")
    .replace(/\n/g, "\\n")
    .replace(/"/g, '\\"');
}

/**
 * Renders the metrics for the links from the management API (`null` when it did not answer). The
 * link's status is not a label, so a link flapping between `starting` and `error` stays one series.
 */
function render(links, scrapeSeconds) {
  const out = [
    "# HELP taskfleet_federation_link_up 1 when the federation link is running, 0 otherwise (starting, error, ...).",
    "# TYPE taskfleet_federation_link_up gauge",
  ];
  for (const l of links ?? []) {
    const name = l.type === "queue" ? l.queue : l.exchange;
    out.push(
      `taskfleet_federation_link_up{upstream="${label(l.upstream)}",type="${label(l.type)}",name="${label(name)}",vhost="${label(l.vhost)}",node="${label(l.node)}"} ${l.status === "running" ? 1 : 0}`,
    );
  }
  out.push(
    "# HELP taskfleet_federation_links Federation links the management API reports.",
    "# TYPE taskfleet_federation_links gauge",
    `taskfleet_federation_links ${(links ?? []).length}`,
    "# HELP taskfleet_federation_exporter_scrape_success 1 when the management API answered.",
    "# TYPE taskfleet_federation_exporter_scrape_success gauge",
    `taskfleet_federation_exporter_scrape_success ${links === null ? 0 : 1}`,
    "# HELP taskfleet_federation_exporter_scrape_seconds Time the management API took.",
    "# TYPE taskfleet_federation_exporter_scrape_seconds gauge",
    `taskfleet_federation_exporter_scrape_seconds ${scrapeSeconds}`,
  );
  return out.join("\n") + "\n";
}

async function links() {
  try {
    const res = await fetch(`${base}/api/federation-links`, {
      headers: { authorization: auth },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) {
      console.error(`GET /api/federation-links: HTTP ${res.status}`);
      return null;
    }
    const body = await res.json();
    return Array.isArray(body) ? body : null;
  } catch (err) {
    console.error(`GET /api/federation-links: ${err instanceof Error ? err.message : err}`);
    return null;
  }
}

const server = createServer(async (req, res) => {
  if (req.url === "/metrics") {
    const started = process.hrtime.bigint();
    const l = await links();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
    res.end(render(l, seconds));
  } else if (req.url === "/healthz") {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok\n");
  } else {
    res.writeHead(404);
    res.end();
  }
});
server.listen(port, host, () =>
  console.log(`federation exporter on ${host}:${server.address().port}`),
);
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => server.close(() => process.exit(0)));
