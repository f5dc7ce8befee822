/**
 * Who may call the task API. Pure parts (tokens file, globs, bearer header) with exact messages,
 * and the authorization matrix as a table against a real API on RabbitMQ and Redis: no token,
 * a wrong token, another client's task, another client's result, an allowed task.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bearerToken,
  ClientRegistry,
  globMatch,
  newToken,
  sha256Hex,
} from "../../worker-runtime/src/api/auth.js";
import { ApiFixture, tokenOf } from "./support.js";

describe("tokens file (pure)", () => {
  it("reads clients, skips comments and blank lines, and authenticates by the token's SHA-256", () => {
    const a = newToken("ci", ["reports.*", "billing.invoice"]);
    const b = newToken("ops", ["*"]);
    expect(a.token).toMatch(/^tf_[A-Za-z0-9_-]{43}$/);
    expect(a.line).toBe(`ci ${sha256Hex(a.token)} reports.*,billing.invoice`);
    const reg = ClientRegistry.fromText(`# clients\n\n${a.line}\n  ${b.line}  \n`);
    expect(reg.clients).toEqual([
      { id: "ci", globs: ["reports.*", "billing.invoice"] },
      { id: "ops", globs: ["*"] },
    ]);
    expect(reg.authenticate(a.token)?.id).toBe("ci");
    expect(reg.authenticate(b.token)?.id).toBe("ops");
    expect(reg.authenticate(`${a.token}x`)).toBeNull();
    expect(reg.authenticate(sha256Hex(a.token))).toBeNull();
  });

  it("refuses bad lines with the line number and what is allowed", () => {
    const h = "a".repeat(64);
    const cases: [string, string][] = [
      ["ci", "t line 1: 1 fields; write <client-id> <sha256-hex-of-token> <glob>[,<glob>...]"],
      [
        `-x ${h} *`,
        't line 1: "-x" is not a client id; use 1-64 letters, digits, "_", ".", ":" or "-" starting with a letter or digit',
      ],
      [
        `ci abc *`,
        't line 1: the hash of "ci" is not 64 hex digits; write the token\'s SHA-256 (taskfleet api token new prints the line)',
      ],
      [
        `ci ${h} rep/orts`,
        't line 1: "rep/orts" is not a task-name glob; use 1-200 letters, digits, "_", ".", ":", "-", "*" (any run) or "?" (one character)',
      ],
      [`ci ${h} a\nci ${"b".repeat(64)} b`, 't line 2: client "ci" is listed twice'],
      [`ci ${h} a\n\nop ${h} b`, 't line 3: client "op" has the same token as another client'],
    ];
    for (const [text, msg] of cases) expect(() => ClientRegistry.fromText(text, "t")).toThrow(msg);
  });

  it("matches task names against globs: * any run, ? one character, nothing else special", () => {
    const table: [string, string, boolean][] = [
      ["demo.*", "demo.checkout", true],
      ["demo.*", "demo.", true],
      ["demo.*", "demox.checkout", false],
      ["*", "anything.at:all", true],
      ["reports.?uild", "reports.build", true],
      ["reports.?uild", "reports.uild", false],
      ["*.invoice", "billing.invoice", true],
      ["*.invoice", "billing.invoices", false],
      ["a*b*c", "aXbYc", true],
      ["a*b*c", "aXbY", false],
      ["exact.name", "exact.name", true],
      ["exact.name", "exact.names", false],
    ];
    for (const [glob, name, want] of table)
      expect([glob, name, globMatch(glob, name)]).toEqual([glob, name, want]);
    // A pattern that makes backtracking regex engines explode answers at once here.
    expect(globMatch(`${"*a".repeat(40)}b`, "a".repeat(200))).toBe(false);
  });

  it("takes the token of a well-formed Bearer header only", () => {
    expect(bearerToken("Bearer tf_abc")).toBe("tf_abc");
    expect(bearerToken("bearer tf_abc")).toBe("tf_abc");
    expect(bearerToken(undefined)).toBeNull();
    expect(bearerToken("Basic dXNlcjpwdw==")).toBeNull();
    expect(bearerToken("Bearer ")).toBeNull();
    expect(bearerToken("Bearer a b")).toBeNull();
    expect(bearerToken(`Bearer ${"x".repeat(513)}`)).toBeNull();
  });
});

describe("authorization matrix (real RabbitMQ and Redis)", () => {
  const fx = new ApiFixture();
  let aliceTask = "";
  beforeAll(async () => {
    await fx.start();
    const r = await fx.post({ name: "alice.report" }, { client: "alice" });
    expect(r.status).toBe(202);
    aliceTask = r.json.id as string;
  });
  afterAll(() => fx.stop());

  it("answers each caller as the rules say", async () => {
    type Row = [
      what: string,
      method: string,
      path: () => string,
      who: { client?: string | null; token?: string },
      body: unknown,
      status: number,
      check?: (a: Awaited<ReturnType<ApiFixture["request"]>>) => void,
    ];
    const unauthorized = (a: { json: Record<string, unknown>; headers: Headers }): void => {
      expect(a.json.error).toBe("unauthorized");
      expect(a.headers.get("www-authenticate")).toMatch(/^Bearer realm="taskfleet"/);
    };
    const rows: Row[] = [
      [
        "no token, send",
        "POST",
        () => "/v1/tasks",
        { client: null },
        { name: "bob.x" },
        401,
        (a) => {
          unauthorized(a);
          expect(a.headers.get("www-authenticate")).toBe('Bearer realm="taskfleet"');
        },
      ],
      [
        "no token, read",
        "GET",
        () => `/v1/tasks/${aliceTask}`,
        { client: null },
        undefined,
        401,
        unauthorized,
      ],
      [
        "no token, batch",
        "POST",
        () => "/v1/tasks/batch",
        { client: null },
        { tasks: [{ name: "bob.x" }] },
        401,
        unauthorized,
      ],
      [
        "no token, OpenAPI",
        "GET",
        () => "/v1/openapi.json",
        { client: null },
        undefined,
        401,
        unauthorized,
      ],
      [
        "no token, unknown path",
        "GET",
        () => "/admin",
        { client: null },
        undefined,
        401,
        unauthorized,
      ],
      [
        "wrong token",
        "POST",
        () => "/v1/tasks",
        { token: "tf_guessed" },
        { name: "bob.x" },
        401,
        (a) => {
          unauthorized(a);
          expect(a.headers.get("www-authenticate")).toBe(
            'Bearer realm="taskfleet", error="invalid_token"',
          );
        },
      ],
      [
        "another client's token hash as token",
        "POST",
        () => "/v1/tasks",
        { token: sha256Hex(tokenOf("bob")) },
        { name: "bob.x" },
        401,
        unauthorized,
      ],
      [
        "task outside the client's globs",
        "POST",
        () => "/v1/tasks",
        { client: "bob" },
        { name: "alice.report" },
        403,
        (a) =>
          expect(a.json).toEqual({
            error: "forbidden",
            field: "name",
            message:
              'name: task "alice.report" is not one client "bob" may send; its tasks are bob.*',
          }),
      ],
      [
        "task outside the globs, in a batch",
        "POST",
        () => "/v1/tasks/batch",
        { client: "bob" },
        { tasks: [{ name: "alice.report" }] },
        207,
        (a) =>
          expect((a.json.tasks as unknown[])[0]).toEqual({
            status: 403,
            error: "forbidden",
            field: "tasks[0].name",
            message:
              'tasks[0].name: task "alice.report" is not one client "bob" may send; its tasks are bob.*',
          }),
      ],
      [
        "another client's result",
        "GET",
        () => `/v1/tasks/${aliceTask}`,
        { client: "bob" },
        undefined,
        404,
        (a) =>
          expect(a.json).toEqual({
            error: "not_found",
            message: `id: no task "${aliceTask}" sent by this client (tasks are kept 24 h after they were sent)`,
          }),
      ],
      [
        "an id nobody sent",
        "GET",
        () => "/v1/tasks/never-sent-0001",
        { client: "alice" },
        undefined,
        404,
      ],
      [
        "allowed task",
        "POST",
        () => "/v1/tasks",
        { client: "bob" },
        { name: "bob.sync" },
        202,
        (a) => expect(a.json).toMatchObject({ region: "fx", queue: "default" }),
      ],
      [
        "own result",
        "GET",
        () => `/v1/tasks/${aliceTask}`,
        { client: "alice" },
        undefined,
        200,
        (a) => expect(a.json).toEqual({ id: aliceTask, state: "PENDING" }),
      ],
      [
        "OpenAPI with a token",
        "GET",
        () => "/v1/openapi.json",
        { client: "bob" },
        undefined,
        200,
        (a) => expect(a.json.openapi).toBe("3.1.0"),
      ],
      ["liveness without a token", "GET", () => "/healthz", { client: null }, undefined, 200],
      [
        "readiness without a token",
        "GET",
        () => "/readyz",
        { client: null },
        undefined,
        200,
        (a) => expect(a.json).toEqual({ status: "ready", broker: true, backend: true }),
      ],
    ];
    for (const [what, method, path, who, body, status, check] of rows) {
      const a = await fx.request(method, path(), {
        ...who,
        ...(body === undefined ? {} : { body }),
      });
      expect([what, a.status]).toEqual([what, status]);
      check?.(a);
    }
    // Only the allowed tasks reached the broker: alice's first and bob's bob.sync.
    expect((await fx.drain(fx.queues.default)).length).toBe(2);
  });
});
