import { beforeAll, describe, expect, it } from "vitest";
import { planSubnets } from "../../components/network/subnets.js";
import { find, mocked, ofType, type RecordedResource } from "./support.js";

describe("planSubnets (pure)", () => {
  it("splits a /16 into three private /18s and three public /20s from the last quarter", () => {
    expect(planSubnets("10.1.0.0/16", ["eu-west-1a", "eu-west-1b", "eu-west-1c"])).toEqual([
      { zone: "eu-west-1a", privateCidr: "10.1.0.0/18", publicCidr: "10.1.192.0/20" },
      { zone: "eu-west-1b", privateCidr: "10.1.64.0/18", publicCidr: "10.1.208.0/20" },
      { zone: "eu-west-1c", privateCidr: "10.1.128.0/18", publicCidr: "10.1.224.0/20" },
    ]);
  });
});

describe("Network", () => {
  let resources: RecordedResource[];
  let existing: RecordedResource[];
  beforeAll(async () => {
    const engine = await mocked();
    const { Network } = await import("../../components/network/network.js");
    new Network("use1-net", {
      cidr: "10.0.0.0/16",
      availabilityZones: ["us-east-1a", "us-east-1b", "us-east-1c"],
      tags: { env: "t" },
    });
    new Network("dev-net", {
      existingVpcId: "vpc-0123456789abcdef0",
      existingPrivateSubnetIds: ["subnet-1", "subnet-2"],
    });
    await engine.settle();
    resources = engine.resources.filter((r) => r.name.startsWith("use1-net"));
    existing = engine.resources.filter((r) => r.name.startsWith("dev-net"));
  });

  it("registers the component with its token and parents every child to it", () => {
    const component = find(resources, "taskfleet:network:Network", "use1-net");
    expect(component.parent).toBeUndefined();
    for (const r of resources.filter((x) => x !== component)) {
      expect({ name: r.name, parent: r.parent, parentType: r.parentType }).toEqual({
        name: r.name,
        parent: "use1-net",
        parentType: "taskfleet:network:Network",
      });
    }
  });

  it("creates one VPC, three private and three public subnets, three NAT gateways", () => {
    expect(find(resources, "aws:ec2/vpc:Vpc", "use1-net-vpc").inputs).toMatchObject({
      cidrBlock: "10.0.0.0/16",
      enableDnsHostnames: true,
    });
    const subnets = ofType(resources, "aws:ec2/subnet:Subnet");
    expect(subnets.map((s) => s.name).sort()).toEqual([
      "use1-net-private-0",
      "use1-net-private-1",
      "use1-net-private-2",
      "use1-net-public-0",
      "use1-net-public-1",
      "use1-net-public-2",
    ]);
    expect(find(resources, "aws:ec2/subnet:Subnet", "use1-net-private-1").inputs).toMatchObject({
      cidrBlock: "10.0.64.0/18",
      availabilityZone: "us-east-1b",
      mapPublicIpOnLaunch: false,
      tags: { "kubernetes.io/role/internal-elb": "1", env: "t" },
    });
    expect(ofType(resources, "aws:ec2/natGateway:NatGateway")).toHaveLength(3);
  });

  it("routes private subnets only through their zone's NAT gateway, never straight to the internet", () => {
    const rt = find(resources, "aws:ec2/routeTable:RouteTable", "use1-net-private-0");
    expect(rt.inputs.routes).toEqual([
      { cidrBlock: "0.0.0.0/0", natGatewayId: "use1-net-nat-0-id" },
    ]);
  });

  it("creates nothing for an existing VPC", () => {
    expect(existing.map((r) => r.type)).toEqual(["taskfleet:network:Network"]);
  });

  it("refuses a VPC over anything but three zones before registering anything", async () => {
    const engine = await mocked();
    const { Network } = await import("../../components/network/network.js");
    expect(() => new Network("bad-net", { availabilityZones: ["us-east-1a"] })).toThrow(
      'availabilityZones: ["us-east-1a"] has 1 zones; list exactly 3',
    );
    await engine.settle();
    expect(engine.resources).toEqual([]);
  });
});
