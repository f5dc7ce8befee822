import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { planSubnets, PRIVATE_SUBNET_TAGS, PUBLIC_SUBNET_TAGS } from "./subnets.js";

/** Arguments of {@link Network}. */
export interface NetworkArgs {
  /**
   * IPv4 block of the VPC to create. Federated regions need blocks that do not overlap.
   * @default "10.0.0.0/16"
   */
  readonly cidr?: string;
  /**
   * The three availability zones the VPC spans (one private and one public subnet in each).
   * @default - none: required when a VPC is created
   */
  readonly availabilityZones?: readonly string[];
  /**
   * Use this VPC instead of creating one; then `existingPrivateSubnetIds` are required and
   * nothing is created.
   * @default - undefined: a VPC is created
   */
  readonly existingVpcId?: string;
  /** Private subnets of the existing VPC. @default [] */
  readonly existingPrivateSubnetIds?: readonly string[];
  /** Public subnets of the existing VPC (internet-facing load balancers). @default [] */
  readonly existingPublicSubnetIds?: readonly string[];
  /** Tags added to every resource. @default {} */
  readonly tags?: Record<string, string>;
}

export const NETWORK_DEFAULTS = Object.freeze({ cidr: "10.0.0.0/16" });

/**
 * A region's network: a VPC over three availability zones with private subnets for everything
 * except load balancers, public subnets with one NAT gateway per zone, or an existing VPC by id.
 */
export class Network extends pulumi.ComponentResource {
  public static readonly TOKEN = "taskfleet:network:Network";
  public readonly vpcId: pulumi.Output<string>;
  public readonly privateSubnetIds: pulumi.Output<string[]>;
  public readonly publicSubnetIds: pulumi.Output<string[]>;
  /** The VPC's IPv4 block (looked up for an existing VPC). */
  public readonly cidr: pulumi.Output<string>;

  constructor(name: string, args: NetworkArgs, opts: pulumi.ComponentResourceOptions = {}) {
    // Validate before anything is registered.
    const zones = args.availabilityZones ?? [];
    if (args.existingVpcId !== undefined && (args.existingPrivateSubnetIds ?? []).length === 0) {
      throw new Error(
        `existingPrivateSubnetIds: [] with existingVpcId ${JSON.stringify(args.existingVpcId)}; list the VPC's private subnets`,
      );
    }
    if (args.existingVpcId === undefined && zones.length !== 3) {
      throw new Error(
        `availabilityZones: ${JSON.stringify(zones)} has ${zones.length} zones; list exactly 3`,
      );
    }
    super(Network.TOKEN, name, {}, opts);
    const tags = args.tags ?? {};
    if (args.existingVpcId !== undefined) {
      this.vpcId = pulumi.output(args.existingVpcId);
      this.privateSubnetIds = pulumi.output([...(args.existingPrivateSubnetIds ?? [])]);
      this.publicSubnetIds = pulumi.output([...(args.existingPublicSubnetIds ?? [])]);
      this.cidr = aws.ec2.getVpcOutput({ id: args.existingVpcId }, { parent: this }).cidrBlock;
      this.registerOutputs({
        vpcId: this.vpcId,
        privateSubnetIds: this.privateSubnetIds,
        publicSubnetIds: this.publicSubnetIds,
        cidr: this.cidr,
      });
      return;
    }
    const cidr = args.cidr ?? NETWORK_DEFAULTS.cidr;
    const plan = planSubnets(cidr, zones);
    const parent = { parent: this };

    const vpc = new aws.ec2.Vpc(
      `${name}-vpc`,
      {
        cidrBlock: cidr,
        enableDnsHostnames: true,
        enableDnsSupport: true,
        tags: { ...tags, Name: `${name}-vpc` },
      },
      parent,
    );
    const igw = new aws.ec2.InternetGateway(
      `${name}-igw`,
      { vpcId: vpc.id, tags: { ...tags, Name: `${name}-igw` } },
      parent,
    );
    const publicRoutes = new aws.ec2.RouteTable(
      `${name}-public`,
      {
        vpcId: vpc.id,
        routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: igw.id }],
        tags: { ...tags, Name: `${name}-public` },
      },
      parent,
    );
    const privateIds: pulumi.Output<string>[] = [];
    const publicIds: pulumi.Output<string>[] = [];
    plan.forEach((s, i) => {
      const pub = new aws.ec2.Subnet(
        `${name}-public-${i}`,
        {
          vpcId: vpc.id,
          cidrBlock: s.publicCidr,
          availabilityZone: s.zone,
          mapPublicIpOnLaunch: false,
          tags: { ...tags, ...PUBLIC_SUBNET_TAGS, Name: `${name}-public-${s.zone}` },
        },
        parent,
      );
      new aws.ec2.RouteTableAssociation(
        `${name}-public-${i}`,
        { subnetId: pub.id, routeTableId: publicRoutes.id },
        parent,
      );
      const eip = new aws.ec2.Eip(
        `${name}-nat-${i}`,
        { domain: "vpc", tags: { ...tags, Name: `${name}-nat-${s.zone}` } },
        parent,
      );
      const nat = new aws.ec2.NatGateway(
        `${name}-nat-${i}`,
        {
          subnetId: pub.id,
          allocationId: eip.id,
          tags: { ...tags, Name: `${name}-nat-${s.zone}` },
        },
        { parent: this, dependsOn: [igw] },
      );
      const priv = new aws.ec2.Subnet(
        `${name}-private-${i}`,
        {
          vpcId: vpc.id,
          cidrBlock: s.privateCidr,
          availabilityZone: s.zone,
          mapPublicIpOnLaunch: false,
          tags: { ...tags, ...PRIVATE_SUBNET_TAGS, Name: `${name}-private-${s.zone}` },
        },
        parent,
      );
      const routes = new aws.ec2.RouteTable(
        `${name}-private-${i}`,
        {
          vpcId: vpc.id,
          routes: [{ cidrBlock: "0.0.0.0/0", natGatewayId: nat.id }],
          tags: { ...tags, Name: `${name}-private-${s.zone}` },
        },
        parent,
      );
      new aws.ec2.RouteTableAssociation(
        `${name}-private-${i}`,
        { subnetId: priv.id, routeTableId: routes.id },
        parent,
      );
      privateIds.push(priv.id);
      publicIds.push(pub.id);
    });
    this.vpcId = vpc.id;
    this.privateSubnetIds = pulumi.all(privateIds);
    this.publicSubnetIds = pulumi.all(publicIds);
    this.cidr = vpc.cidrBlock;
    this.registerOutputs({
      vpcId: this.vpcId,
      privateSubnetIds: this.privateSubnetIds,
      publicSubnetIds: this.publicSubnetIds,
      cidr: this.cidr,
    });
  }
}
