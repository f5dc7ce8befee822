import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import {
  Decimal,
  PoisonMessageError,
  PyDate,
  PyTime,
  TaskError,
  Uuid,
  buildMeta,
  decodeMeta,
  decodeTask,
  dumps,
  encodeRetry,
  encodeTaskV2,
  exceptionInfo,
  loads,
  metaError,
  parseIsoDatetime,
  pythonIsoformat,
} from "../../worker-runtime/src/protocol/index.js";

describe("kombu JSON", () => {
  it("encodes datetime, date, time, Decimal, UUID and bytes with kombu 5.3 envelopes", () => {
    const v = {
      dt: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 120)),
      whole: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)),
      d: new PyDate(2024, 2, 29),
      t: new PyTime("13:14:15.000123"),
      dec: new Decimal("10.50"),
      u: new Uuid("6f1c2a44-9d2b-4c1e-8a3f-0123456789ab"),
      b: Buffer.from("héllo"),
      raw: Buffer.from([0xff, 0x00, 0x01]),
    };
    expect(JSON.parse(dumps(v))).toEqual({
      dt: { __type__: "datetime", __value__: "2024-01-02T03:04:05.120000+00:00" },
      whole: { __type__: "datetime", __value__: "2024-01-02T03:04:05+00:00" },
      d: { __type__: "date", __value__: "2024-02-29" },
      t: { __type__: "time", __value__: "13:14:15.000123" },
      dec: { __type__: "decimal", __value__: "10.50" },
      u: { __type__: "uuid", __value__: { hex: "6f1c2a449d2b4c1e8a3f0123456789ab" } },
      b: { __type__: "bytes", __value__: "héllo" },
      raw: { __type__: "base64", __value__: "/wAB" },
    });
  });

  it("decodes the envelopes back to the same values", () => {
    const text =
      '{"a":[{"__type__":"datetime","__value__":"2024-01-02T03:04:05.123456+01:00"},' +
      '{"__type__":"date","__value__":"2024-02-29"},{"__type__":"time","__value__":"01:02:03"},' +
      '{"__type__":"decimal","__value__":"3.14159265358979323846"},' +
      '{"__type__":"uuid","__value__":{"hex":"6f1c2a449d2b4c1e8a3f0123456789ab"}},' +
      '{"__type__":"bytes","__value__":"abc"},{"__type__":"base64","__value__":"/wAB"}]}';
    const { a } = loads(text) as { a: unknown[] };
    expect((a[0] as Date).toISOString()).toBe("2024-01-02T02:04:05.123Z");
    expect((a[1] as PyDate).toISOString()).toBe("2024-02-29");
    expect(String(a[2])).toBe("01:02:03");
    expect((a[3] as Decimal).value).toBe("3.14159265358979323846");
    expect(String(a[4])).toBe("6f1c2a44-9d2b-4c1e-8a3f-0123456789ab");
    expect(a[5]).toEqual(Buffer.from("abc"));
    expect(a[6]).toEqual(Buffer.from([0xff, 0, 1]));
  });

  it("writes kombu 5.2 strings in plain mode", () => {
    expect(
      JSON.parse(
        dumps(
          [
            new Date(Date.UTC(2024, 0, 2)),
            new Decimal("1.5"),
            new Uuid("6f1c2a449d2b4c1e8a3f0123456789ab"),
          ],
          "plain",
        ),
      ),
    ).toEqual(["2024-01-02T00:00:00Z", "1.5", "6f1c2a44-9d2b-4c1e-8a3f-0123456789ab"]);
    expect(() => dumps(Buffer.from("x"), "plain")).toThrow(
      "kombu json: bytes cannot be encoded in plain (kombu 5.2) mode",
    );
  });

  it("rejects unknown markers and bad values with a clear message", () => {
    expect(() => loads('{"__type__":"frozenset","__value__":[]}')).toThrow(
      'kombu json: unsupported __type__ "frozenset"',
    );
    expect(() => new Decimal("1,5")).toThrow('kombu decimal: "1,5" is not a decimal number');
    expect(() => new Uuid("xyz")).toThrow('kombu uuid: "xyz" is not a UUID');
  });

  it("writes and reads Python's json dialect: NaN/±Infinity literals and exact big integers", () => {
    const text = dumps({ a: NaN, b: [Infinity, -Infinity], c: 2n ** 64n, d: "NaN", e: 1.5 });
    expect(text).toBe(
      '{"a":NaN,"b":[Infinity,-Infinity],"c":18446744073709551616,"d":"NaN","e":1.5}',
    );
    expect(loads(text)).toEqual({
      a: NaN,
      b: [Infinity, -Infinity],
      c: 2n ** 64n,
      d: "NaN",
      e: 1.5,
    });
    // what Python's json.dumps writes, spaces included
    const py = execFileSync("/usr/bin/python3", [
      "-c",
      'import json; print(json.dumps({"x": [float("nan"), -float("inf")], "n": 2**63, "s": "a \\"q\\" Infinity", "m": -9007199254740993}))',
    ]).toString();
    expect(loads(py)).toEqual({
      x: [NaN, -Infinity],
      n: 2n ** 63n,
      s: 'a "q" Infinity',
      m: -9007199254740993n,
    });
    // safe integers stay numbers, also on the slow path
    expect(loads("[9007199254740991, 12345678901234567, 1e300]")).toEqual([
      9007199254740991,
      12345678901234567n,
      1e300,
    ]);
    expect(() => loads("[NaN,")).toThrow(SyntaxError);
    // a shared object is not a cycle
    const shared = { k: 1 };
    expect(dumps([shared, shared])).toBe('[{"k":1},{"k":1}]');
  });

  it("refuses what Python's json refuses, with Python's message, as kombu's EncodeError", () => {
    const loop: unknown[] = [];
    loop.push({ back: loop });
    for (const [v, message] of [
      [loop, "ValueError('Circular reference detected')"],
      [new Set([1]), "TypeError('Object of type Set is not JSON serializable')"],
      [{ f: () => 1 }, "TypeError('Object of type function is not JSON serializable')"],
      [[Symbol("s")], "TypeError('Object of type symbol is not JSON serializable')"],
      [
        { e: new RangeError("x") },
        "TypeError('Object of type RangeError is not JSON serializable')",
      ],
    ] as const) {
      let err: unknown;
      try {
        dumps(v);
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ name: "EncodeError", message, excModule: "kombu.exceptions" });
      expect(exceptionInfo(err)).toEqual({
        exc_type: "EncodeError",
        exc_message: [message],
        exc_module: "kombu.exceptions",
      });
    }
  });

  it("formats and parses ISO-8601 like Python", () => {
    expect(pythonIsoformat(new Date(Date.UTC(2030, 5, 1, 0, 0, 0, 1)))).toBe(
      "2030-06-01T00:00:00.001000+00:00",
    );
    expect(parseIsoDatetime("2030-06-01T00:00:00.001999").toISOString()).toBe(
      "2030-06-01T00:00:00.001Z",
    );
    expect(parseIsoDatetime("2030-06-01T02:00:00+02:00").toISOString()).toBe(
      "2030-06-01T00:00:00.000Z",
    );
    expect(() => parseIsoDatetime("tomorrow")).toThrow('"tomorrow" is not an ISO-8601 datetime');
  });
});

/** Runs Celery 5's own `as_task_v2` (no broker needed) and returns what it would send. */
function celeryMessage(): {
  headers: Record<string, unknown>;
  properties: Record<string, unknown>;
  body: unknown;
} {
  const py = `
import json, datetime
from celery import Celery
app = Celery("t", set_as_current=False)
eta = datetime.datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.timezone.utc)
exp = datetime.datetime(2030, 1, 3, 0, 0, 0, tzinfo=datetime.timezone.utc)
m = app.amqp.as_task_v2("id-1", "reports.build", args=(1, "a"), kwargs={"k": [1, 2]},
                        eta=eta, expires=exp, time_limit=30, soft_time_limit=20, retries=2,
                        origin="gen1@host")
print(json.dumps({"headers": m.headers, "properties": m.properties, "body": m.body}))
`;
  return JSON.parse(execFileSync("/usr/bin/python3", ["-c", py], { encoding: "utf8" })) as never;
}

describe("Celery protocol v2", () => {
  it("encodes the same headers, properties and body as Celery 5's as_task_v2", () => {
    const py = celeryMessage();
    const ours = encodeTaskV2({
      id: "id-1",
      task: "reports.build",
      args: [1, "a"],
      kwargs: { k: [1, 2] },
      eta: new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 678)),
      expires: new Date(Date.UTC(2030, 0, 3)),
      timeLimit: 30,
      softTimeLimit: 20,
      retries: 2,
      origin: "gen1@host",
    });
    const { argsrepr, kwargsrepr, ...pyRest } = py.headers;
    const { argsrepr: a2, kwargsrepr: k2, ...ourRest } = ours.headers;
    expect(ourRest).toEqual(pyRest);
    expect(argsrepr).toBe("(1, 'a')");
    expect(a2).toBe('[1,"a"]');
    expect([kwargsrepr, k2]).toEqual(["{'k': [1, 2]}", '{"k":[1,2]}']);
    expect(ours.headers.timelimit).toEqual([30, 20]);
    expect(JSON.parse(ours.body.toString())).toEqual(py.body);
    expect(ours.properties.correlationId).toBe(py.properties.correlation_id);
    expect(ours.properties.replyTo).toBe(py.properties.reply_to);
    expect(ours.properties.deliveryMode).toBe(2);
  });

  it("decodes Celery's own v2 message", () => {
    const py = celeryMessage();
    const req = decodeTask(Buffer.from(JSON.stringify(py.body)), {
      headers: py.headers,
      contentType: "application/json",
    });
    expect(req).toMatchObject({
      id: "id-1",
      task: "reports.build",
      args: [1, "a"],
      kwargs: { k: [1, 2] },
      retries: 2,
      timelimit: [30, 20],
      rootId: "id-1",
      protocol: 2,
    });
    expect(req.eta?.toISOString()).toBe("2030-01-02T03:04:05.678Z");
    expect(req.expires?.toISOString()).toBe("2030-01-03T00:00:00.000Z");
  });

  it("accepts protocol v1 body dicts", () => {
    const body = {
      task: "tasks.add",
      id: "v1-id",
      args: [2, 3],
      kwargs: {},
      retries: 1,
      eta: "2030-01-01T00:00:00",
      expires: null,
      utc: true,
      callbacks: null,
      errbacks: null,
      timelimit: [null, 5],
      taskset: "g1",
      chord: null,
    };
    const req = decodeTask(Buffer.from(JSON.stringify(body)), {
      headers: {},
      contentType: "application/json",
    });
    expect(req).toMatchObject({
      id: "v1-id",
      task: "tasks.add",
      args: [2, 3],
      retries: 1,
      timelimit: [null, 5],
      groupId: "g1",
      protocol: 1,
    });
    expect(req.eta?.toISOString()).toBe("2030-01-01T00:00:00.000Z");
  });

  it("rejects poison with a PoisonMessageError naming the problem", () => {
    const h = { headers: { task: "x", id: "1" }, contentType: "application/json" };
    expect(() => decodeTask(Buffer.from("{nope"), h)).toThrow(PoisonMessageError);
    expect(() => decodeTask(Buffer.from('{"a":1}'), h)).toThrow(
      "protocol v2 body must be a JSON array [args, kwargs, embed]",
    );
    expect(() => decodeTask(Buffer.from("[1,{}]"), h)).toThrow(
      "protocol v2 body: args is not an array",
    );
    expect(() =>
      decodeTask(Buffer.from("[[],{}]"), { ...h, contentType: "application/x-python-serialize" }),
    ).toThrow(
      'content type "application/x-python-serialize" is not supported; taskfleet accepts application/json only',
    );
    expect(() => decodeTask(Buffer.from('{"x":1}'), { headers: {} })).toThrow(
      "protocol v1 body needs both task and id",
    );
    expect(() =>
      decodeTask(Buffer.from("[[],{},{}]"), { headers: { task: "x", id: "1", eta: "soon" } }),
    ).toThrow('eta: "soon" is not an ISO-8601 datetime');
  });

  it("re-encodes a retry with the same id, retries + 1 and the new eta", () => {
    const first = encodeTaskV2({ id: "r1", task: "t", args: [1], timeLimit: 10, softTimeLimit: 5 });
    const req = decodeTask(first.body, { headers: first.headers });
    const retry = encodeRetry(req, new Date(Date.UTC(2031, 0, 1)));
    expect(retry.headers).toMatchObject({
      id: "r1",
      retries: 1,
      eta: "2031-01-01T00:00:00+00:00",
      timelimit: [10, 5],
      root_id: "r1",
    });
  });
});

describe("Celery result meta", () => {
  it("stores failures as {exc_type, exc_message, exc_module} with a traceback string", () => {
    const err = new TypeError("bad operand");
    const meta = buildMeta({
      taskId: "t1",
      status: "FAILURE",
      error: err,
      dateDone: new Date(Date.UTC(2030, 0, 1)),
    });
    expect(meta).toMatchObject({
      status: "FAILURE",
      result: { exc_type: "TypeError", exc_message: ["bad operand"], exc_module: "builtins" },
      children: [],
      date_done: "2030-01-01T00:00:00+00:00",
      task_id: "t1",
    });
    expect(meta.traceback).toMatch(
      /^Traceback \(most recent call last\):\n[\s\S]*TypeError: bad operand\n$/,
    );
    expect(exceptionInfo(new Error("x"))).toEqual({
      exc_type: "Error",
      exc_message: ["x"],
      exc_module: "taskfleet",
    });
  });

  it("reads a Python failure back as an error keeping the Python type name and message", () => {
    const text = JSON.stringify({
      status: "FAILURE",
      result: {
        exc_type: "ZeroDivisionError",
        exc_message: ["division by zero"],
        exc_module: "builtins",
      },
      traceback: "Traceback ...",
      children: [],
      date_done: "2030-01-01T00:00:00.000000+00:00",
      task_id: "p1",
    });
    const err = metaError(decodeMeta(text));
    expect(err).toBeInstanceOf(TaskError);
    expect(err.name).toBe("ZeroDivisionError");
    expect(err.message).toBe("division by zero");
    expect(err.excModule).toBe("builtins");
    expect(err.remoteTraceback).toBe("Traceback ...");
  });

  it("keeps a success result's special types", () => {
    const meta = buildMeta({
      taskId: "t2",
      status: "SUCCESS",
      result: { at: new Date(Date.UTC(2030, 0, 1)) },
    });
    const back = decodeMeta(dumps(meta));
    expect((back.result as { at: Date }).at.toISOString()).toBe("2030-01-01T00:00:00.000Z");
    expect(back.traceback).toBeNull();
  });
});
