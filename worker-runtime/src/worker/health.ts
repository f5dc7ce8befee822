/** /healthz, /readyz and /metrics over HTTP for probes and Prometheus. */
import { createServer, type Server } from "node:http";

export interface HealthSource {
  live(): boolean;
  ready(): { ready: boolean; reason: string };
  metrics(): string;
}

export async function startHealthServer(
  src: HealthSource,
  port: number,
  host: string,
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/healthz") {
      const ok = src.live();
      res.writeHead(ok ? 200 : 503, { "content-type": "application/json" });
      res.end(JSON.stringify({ status: ok ? "ok" : "stopped" }));
    } else if (path === "/readyz") {
      const r = src.ready();
      res.writeHead(r.ready ? 200 : 503, { "content-type": "application/json" });
      res.end(JSON.stringify({ status: r.ready ? "ready" : "not ready", reason: r.reason }));
    } else if (path === "/metrics") {
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
      res.end(src.metrics());
    } else {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found; try /healthz, /readyz or /metrics\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
