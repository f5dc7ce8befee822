/**
 * The task API (ingress layer, seed S5/S7/S11) on Fastify: `POST /v1/tasks` and
 * `POST /v1/tasks/batch` turn tasks into Celery messages published with confirms (202 only once the
 * broker confirmed), `GET /v1/tasks/{id}` answers from the result backend, every route validated
 * against its JSON Schema and described in the OpenAPI 3.1 document at `/v1/openapi.json`.
 *
 * Security: every route but `/healthz` and `/readyz` needs `Authorization: Bearer <token>` of a
 * known client (401 otherwise); a client sends only tasks its globs allow (403) and reads only its
 * own tasks (404 for others'); requests per client are rate limited and tasks being published are
 * capped (429 + Retry-After). `/metrics` is on a separate port. It handles no signals.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Fastify, { type FastifyInstance, type FastifyRequest } from "fastify";
import rateLimit from "@fastify/rate-limit";
import swagger from "@fastify/swagger";
import { bearerToken, type ApiClient, type ClientRegistry } from "./auth.js";
import { errorHandler, HttpError } from "./errors.js";
import type { TaskGateway } from "./gateway.js";
import { DEFAULT_IN_FLIGHT, InFlightLimiter, type InFlightCaps } from "./limits.js";
import { ApiMetrics } from "./metrics.js";
import { registerTaskRoutes } from "./routes.js";
import { MAX_BATCH_TASKS, TASK_SCHEMA } from "./schemas.js";
import { ApiState } from "./state.js";
import { show, validateSubmission, type ApiRouting, type TaskSubmission } from "./validate.js";

export { TaskNotStoredError, type TaskGateway, type TaskStatus } from "./gateway.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The authenticated client (null on the public probes). */
    client: ApiClient | null;
  }
  interface FastifyContextConfig {
    /** Served without authentication. */
    public?: boolean;
  }
}

export interface TaskApiOptions {
  gateway: TaskGateway;
  routing: ApiRouting;
  /** The region this API serves; returned with every accepted task. */
  region: string;
  /**
   * Who may call. `null` turns authentication off: every caller is the client "anonymous" allowed
   * every task (only `taskfleet api --dangerously-disable-auth`, on loopback, does that).
   */
  clients: ClientRegistry | null;
  /** Owners and idempotency keys. @default kept in the gateway's result backend */
  state?: ApiState;
  /** Task names accepted at all (any client); others are a 400. @default - no allow-list */
  allowedTasks?: ReadonlySet<string>;
  /** Largest `POST /v1/tasks` body, in bytes. @default 1048576 (1 MiB) */
  maxBodyBytes?: number;
  /** Largest `POST /v1/tasks/batch` body, in bytes. @default 8388608 (8 MiB) */
  maxBatchBodyBytes?: number;
  /** `Retry-After` of a 503, in seconds. @default 1 */
  retryAfterSeconds?: number;
  /** Caps on tasks being published. @default DEFAULT_IN_FLIGHT */
  inFlight?: InFlightCaps;
  /** Requests per second one client may make (per API process); 0 = no limit. @default 1000 */
  rateLimitPerSecond?: number;
  metrics?: ApiMetrics;
  /** Where the API logs (JSON lines). @default stderr */
  log?: (fields: Record<string, unknown>) => void;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const DEFAULT_MAX_BATCH_BODY_BYTES = 8 * 1024 * 1024;
export const DEFAULT_RATE_LIMIT_PER_SECOND = 1000;
/** Version of the API's OpenAPI document. */
export const API_VERSION = "1.0.0";
const ANONYMOUS: ApiClient = { id: "anonymous", globs: ["*"] };
/** How long close() lets open requests finish before closing their connections. */
const SHUTDOWN_GRACE_MS = 10_000;

function stderrLog(fields: Record<string, unknown>): void {
  process.stderr.write(
    JSON.stringify({ time: new Date().toISOString(), component: "api", ...fields }) + "\n",
  );
}

export class TaskApi {
  readonly metrics: ApiMetrics;
  readonly app: FastifyInstance;
  readonly limiter: InFlightLimiter;
  private readonly opts: TaskApiOptions;
  private readonly metricsServer: Server;
  private closed = false;
  private closing: Promise<void> | null = null;
  private readonly ready: Promise<void>;

  constructor(opts: TaskApiOptions) {
    this.opts = opts;
    const metrics = opts.metrics ?? new ApiMetrics();
    const limiter = new InFlightLimiter(opts.inFlight ?? DEFAULT_IN_FLIGHT);
    this.metrics = metrics;
    this.limiter = limiter;
    const log = opts.log ?? stderrLog;
    const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    const maxBatch = opts.maxBatchBodyBytes ?? DEFAULT_MAX_BATCH_BODY_BYTES;
    const state = opts.state ?? new ApiState(() => opts.gateway.redis());
    const app = Fastify({
      logger: false,
      bodyLimit: maxBody,
      routerOptions: { maxParamLength: 256 },
      keepAliveTimeout: 65_000,
      requestTimeout: 30_000,
      // A malformed URL (bad percent-encoding) or a bad request id header: a 400 naming it.
      frameworkErrors: (err, req, reply) => {
        void (reply as unknown as { code(n: number): { send(b: unknown): unknown } })
          .code(400)
          .send({
            error: "bad_request",
            field: "path",
            message: `path: ${show(req.url.slice(0, 100))} is not a valid URL path (${err.message.slice(0, 100)})`,
          });
      },
      // What Node's HTTP parser refuses (no route is reached): the same JSON shape, naming it.
      clientErrorHandler: (err, socket) => {
        // As Node's own handler: answer only while no response was started on this socket.
        const started = (socket as unknown as { _httpMessage?: { headersSent?: boolean } })
          ._httpMessage?.headersSent;
        if (!socket.writable || started === true) return void socket.destroy();
        const code = (err as { code?: string }).code ?? "";
        const [status, text] =
          code === "HPE_HEADER_OVERFLOW"
            ? [431, "Request Header Fields Too Large"]
            : code === "ERR_HTTP_REQUEST_TIMEOUT"
              ? [408, "Request Timeout"]
              : [400, "Bad Request"];
        const body = JSON.stringify({
          error: "bad_request",
          field: "request",
          message: `request: not a valid HTTP/1.1 request (${code || "parse error"})`,
        });
        socket.end(
          `HTTP/1.1 ${status} ${text}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
        );
      },
      onProtoPoisoning: "error",
      onConstructorPoisoning: "error",
      ajv: {
        customOptions: {
          removeAdditional: false,
          coerceTypes: false,
          useDefaults: false,
          allErrors: false,
          allowUnionTypes: true,
        },
      },
    });
    this.app = app;
    // Only JSON bodies: Fastify's text/plain parser would let a string through to validation.
    app.removeContentTypeParser("text/plain");
    app.decorateRequest("client", null);
    app.setErrorHandler(
      errorHandler({
        explain: (req, field) => this.explain(req, field),
        bodyLimit: (req) => (req.url.startsWith("/v1/tasks/batch") ? maxBatch : maxBody),
        log,
      }),
    );
    app.addHook("onRequest", async (req, reply) => {
      this.metrics.inFlight.add(1);
      if (this.closed) void reply.header("connection", "close");
      if (req.routeOptions.config.public === true) return;
      req.client = this.authenticate(req);
    });
    app.addHook("onResponse", async (req, reply) => {
      this.metrics.inFlight.add(-1);
      const url = req.routeOptions.url;
      this.metrics.requests.inc({
        route: url === undefined ? "other" : url.replace(/:(\w+)/g, "{$1}"),
        method: req.method,
        status: String(reply.statusCode),
      });
    });
    const rate = opts.rateLimitPerSecond ?? DEFAULT_RATE_LIMIT_PER_SECOND;
    this.ready = (async () => {
      if (rate > 0) {
        await app.register(rateLimit, {
          global: true,
          // After authentication (onRequest), before the body is read.
          hook: "preParsing",
          max: rate,
          timeWindow: 1000,
          keyGenerator: (req) => req.client?.id ?? req.ip,
          onExceeded: () => metrics.throttled.inc({ limit: "rate" }),
        });
      }
      await app.register(swagger, {
        openapi: {
          openapi: "3.1.0",
          info: {
            title: "taskfleet task API",
            version: API_VERSION,
            description:
              "Send Celery tasks over HTTP and read their results. Every route but /healthz and /readyz needs a client's bearer token.",
          },
          components: {
            securitySchemes: {
              bearer: {
                type: "http",
                scheme: "bearer",
                description:
                  "A client's token (`taskfleet api token new <client-id> --tasks <globs>`).",
              },
            },
          },
          security: [{ bearer: [] }],
        },
        refResolver: {
          buildLocalReference: (json, _base, _fragment, i) =>
            typeof json.$id === "string" ? json.$id : `def-${i}`,
        },
      });
      app.addSchema(TASK_SCHEMA);
      registerTaskRoutes(app, {
        gateway: opts.gateway,
        state,
        routing: opts.routing,
        region: opts.region,
        metrics,
        limiter,
        retryAfterSeconds: opts.retryAfterSeconds ?? 1,
        maxBodyBytes: maxBody,
        maxBatchBodyBytes: maxBatch,
        log,
        isClosed: () => this.closed,
        ...(opts.allowedTasks ? { allowedTasks: opts.allowedTasks } : {}),
      });
      await app.ready();
    })();
    this.metricsServer = createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      const ok = path === "/metrics" && (req.method === "GET" || req.method === "HEAD");
      const text = ok ? this.metrics.render() : "not found; this port serves GET /metrics\n";
      res.writeHead(ok ? 200 : 404, {
        "content-type": "text/plain; version=0.0.4",
        "content-length": Buffer.byteLength(text),
      });
      res.end(req.method === "HEAD" ? undefined : text);
    });
  }

  private authenticate(req: FastifyRequest): ApiClient {
    const clients = this.opts.clients;
    if (clients === null) return ANONYMOUS;
    const header = req.headers.authorization;
    const token = bearerToken(header);
    const client = token === null ? null : clients.authenticate(token);
    if (client) return client;
    const reason = header === undefined ? "missing" : token === null ? "malformed" : "unknown";
    this.metrics.authFailures.inc({ reason });
    throw new HttpError(
      401,
      {
        error: "unauthorized",
        message:
          reason === "missing"
            ? "Authorization: missing; send Authorization: Bearer <token> (a client's token)"
            : "Authorization: the token is not valid; send Authorization: Bearer <token> with a current token",
      },
      {
        "www-authenticate":
          reason === "missing"
            ? 'Bearer realm="taskfleet"'
            : 'Bearer realm="taskfleet", error="invalid_token"',
      },
    );
  }

  /** The exact message validate.ts gives for a body the schema refused. */
  private explain(req: FastifyRequest, field: string): string | null {
    if (req.routeOptions.url === "/v1/tasks/batch") {
      const body = req.body as Record<string, unknown> | null;
      const want = `send {"tasks": [task, ...]} with 1 to ${MAX_BATCH_TASKS} task objects`;
      if (field === "body") return `body: ${show(body)} is not a batch; ${want}`;
      if (field === "tasks") return `tasks: ${show(body?.tasks)} is not a list of tasks; ${want}`;
      return `${field}: unknown field; the body is {"tasks": [task, ...]}`;
    }
    if (req.routeOptions.url !== "/v1/tasks") return null;
    try {
      validateSubmission(req.body, this.opts.routing, new Date());
    } catch (err) {
      return err instanceof Error ? err.message : null;
    }
    return null;
  }

  /** Listens on `host:port` (port 0 = a free one); resolves with the bound port. */
  async listen(port: number, host = "127.0.0.1"): Promise<number> {
    await this.ready;
    await this.app.listen({ port, host });
    return (this.app.server.address() as AddressInfo).port;
  }

  /** Serves `GET /metrics` on its own port (not the public one); resolves with the bound port. */
  listenMetrics(port: number, host = "127.0.0.1"): Promise<number> {
    return new Promise((resolve, reject) => {
      this.metricsServer.once("error", reject);
      this.metricsServer.listen(port, host, () => {
        this.metricsServer.off("error", reject);
        resolve((this.metricsServer.address() as AddressInfo).port);
      });
    });
  }

  get port(): number {
    const a = this.app.server.address();
    return a && typeof a !== "string" ? a.port : 0;
  }

  /** The OpenAPI 3.1 document of this API. */
  async openapi(): Promise<Record<string, unknown>> {
    await this.ready;
    return this.app.swagger() as unknown as Record<string, unknown>;
  }

  /** Stops accepting, lets running requests finish, then closes the gateway. Safe to call twice. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.closing = (async () => {
      await this.ready.catch(() => undefined);
      const force = setTimeout(() => this.app.server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      force.unref();
      await this.app.close();
      clearTimeout(force);
      if (this.metricsServer.listening) {
        await new Promise<void>((r) => this.metricsServer.close(() => r()));
      }
      await this.opts.gateway.close();
    })();
    return this.closing;
  }
}

export type { TaskSubmission, ApiRouting };
