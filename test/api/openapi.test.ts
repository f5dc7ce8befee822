/**
 * The OpenAPI 3.1 document: generated from the routes' JSON Schemas, served at /v1/openapi.json,
 * and committed as docs/openapi.json — this fails when the committed copy drifts from the code.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openApiDocument } from "../../worker-runtime/src/api/token.js";

const COMMITTED = join(import.meta.dirname, "..", "..", "docs", "openapi.json");

describe("OpenAPI document", () => {
  it("matches docs/openapi.json (regenerate: npx taskfleet api openapi > docs/openapi.json)", async () => {
    const doc = await openApiDocument();
    expect(readFileSync(COMMITTED, "utf8")).toBe(`${JSON.stringify(doc, null, 2)}\n`);
  });

  it("is OpenAPI 3.1 with every route, bearer auth except on the probes, and the Task schema", async () => {
    const doc = (await openApiDocument()) as {
      openapi: string;
      security: unknown;
      paths: Record<
        string,
        Record<string, { security?: unknown; responses: Record<string, unknown> }>
      >;
      components: { schemas: Record<string, { required?: string[] }> };
    };
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.security).toEqual([{ bearer: [] }]);
    expect(Object.keys(doc.paths).sort()).toEqual([
      "/healthz",
      "/readyz",
      "/v1/openapi.json",
      "/v1/tasks",
      "/v1/tasks/batch",
      "/v1/tasks/{id}",
    ]);
    expect(doc.paths["/healthz"]!.get!.security).toEqual([]);
    expect(doc.paths["/readyz"]!.get!.security).toEqual([]);
    expect(doc.paths["/v1/tasks"]!.post!.security).toBeUndefined();
    expect(Object.keys(doc.paths["/v1/tasks"]!.post!.responses).sort()).toEqual(
      ["202", "400", "401", "403", "409", "413", "415", "422", "429", "503"].sort(),
    );
    expect(Object.keys(doc.paths["/v1/tasks/batch"]!.post!.responses)).toContain("207");
    expect(doc.components.schemas.Task!.required).toEqual(["name"]);
  });
});
