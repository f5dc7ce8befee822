import { beforeAll, describe, expect, it } from "vitest";
import { federationUris, fillUpstreamUris } from "../../components/federation/upstreams.js";
import { valueOf } from "../../cli/planEngine.js";
import { find, mocked, type RecordedResource } from "./support.js";

describe("upstreams (pure)", () => {
  it("publishes AMQP or AMQPS URIs for a broker endpoint", () => {
    expect(federationUris("b.elb", false)).toEqual(["amqp://b.elb:5672"]);
    expect(federationUris("b.elb", true)).toEqual(["amqps://b.elb:5671"]);
  });
  it("fills links without uris from the peers and keeps links that have their own", () => {
    const input = {
      nodes: 3,
      federation: [
        { region: "eu-west-1", queues: ["default"] },
        { region: "us-west-2", uris: ["amqp://static:5672"] },
      ],
    };
    expect(fillUpstreamUris(input, { "eu-west-1": ["amqp://euw1:5672"] })).toEqual({
      nodes: 3,
      federation: [
        { region: "eu-west-1", queues: ["default"], uris: ["amqp://euw1:5672"] },
        { region: "us-west-2", uris: ["amqp://static:5672"] },
      ],
    });
  });
  it("leaves out links whose peer has not published URIs yet when asked to (first deployment round)", () => {
    const input = { federation: [{ region: "eu-west-1" }, { region: "ap-southeast-1" }] };
    expect(
      fillUpstreamUris(
        input,
        { "eu-west-1": ["amqp://euw1:5672"], "ap-southeast-1": [] },
        "taskfleet:broker",
        "drop",
      ),
    ).toEqual({
      federation: [{ region: "eu-west-1", uris: ["amqp://euw1:5672"] }],
    });
  });
  it("names the link and the missing peer when a link has neither uris nor a peer", () => {
    expect(() => fillUpstreamUris({ federation: [{ region: "sa-east-1" }] }, {})).toThrow(
      'taskfleet:broker.federation[0].uris: missing and "sa-east-1" is not in taskfleet:federation.peers; add a peer { region: "sa-east-1", stack: "<org>/taskfleet/<stack>" } or give the upstream\'s uris',
    );
  });
});

describe("Federation", () => {
  let res: RecordedResource[];
  let uris: Record<string, string[]>;
  let passwords: Record<string, string>;
  beforeAll(async () => {
    const engine = await mocked({
      stackOutputs: {
        "acme/taskfleet/prod-eu-west-1": {
          brokerFederationUris: ["amqp://euw1.elb:5672"],
          brokerFederationPassword: "pw-euw1",
        },
        "acme/taskfleet/prod-ap-southeast-1": {
          brokerFederationUris: ["amqp://apse1.elb:5672"],
          brokerFederationPassword: "pw-apse1",
        },
      },
    });
    const { Federation } = await import("../../components/federation/federation.js");
    const f = new Federation("f", {
      region: "us-east-1",
      peers: [
        { region: "eu-west-1", stack: "acme/taskfleet/prod-eu-west-1" },
        { region: "ap-southeast-1", stack: "acme/taskfleet/prod-ap-southeast-1" },
        { region: "sa-east-1", stack: "acme/taskfleet/prod-sa-east-1" },
      ],
    });
    uris = await valueOf(f.upstreamUris);
    passwords = await valueOf(f.upstreamPasswords);
    await engine.settle();
    res = engine.resources;
  });

  it("reads each peer's stack through a StackReference parented to the component", () => {
    expect(find(res, "pulumi:pulumi:StackReference", "f-eu-west-1")).toMatchObject({
      parent: "f",
      parentType: "taskfleet:federation:Federation",
    });
    expect(find(res, "pulumi:pulumi:StackReference", "f-ap-southeast-1").inputs).toMatchObject({
      name: "acme/taskfleet/prod-ap-southeast-1",
    });
  });

  it("exposes the peers' URIs and federation passwords by region (none yet for a peer not deployed)", () => {
    expect(uris).toEqual({
      "eu-west-1": ["amqp://euw1.elb:5672"],
      "ap-southeast-1": ["amqp://apse1.elb:5672"],
      "sa-east-1": [],
    });
    expect(passwords).toEqual({
      "eu-west-1": "pw-euw1",
      "ap-southeast-1": "pw-apse1",
      "sa-east-1": "",
    });
  });

  it("refuses to federate a region with itself", async () => {
    const { Federation } = await import("../../components/federation/federation.js");
    expect(
      () =>
        new Federation("self", {
          region: "us-east-1",
          peers: [{ region: "us-east-1", stack: "a/b/c" }],
        }),
    ).toThrow(
      'peers[0].region: "us-east-1" is this region; a region does not federate with itself',
    );
  });
});

describe("Federation: what this region publishes", () => {
  it("publishes this region's endpoint, its URIs and the federation password (secret)", async () => {
    const engine = await mocked();
    const pulumi = await import("@pulumi/pulumi");
    const { Federation } = await import("../../components/federation/federation.js");
    const f = new Federation("pub", {
      region: "us-east-1",
      localEndpoint: "use1-broker.elb",
      localPassword: "fed-pw",
      localTls: true,
    });
    expect(await valueOf(f.endpoint)).toBe("use1-broker.elb");
    expect(await valueOf(f.uris)).toEqual(["amqps://use1-broker.elb:5671"]);
    expect(await valueOf(f.password)).toBe("fed-pw");
    expect(await pulumi.isSecret(f.password)).toBe(true);
    await engine.settle();
  });
});
