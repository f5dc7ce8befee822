import * as pulumi from "@pulumi/pulumi";
import { federationUris, PEER_OUTPUTS } from "./upstreams.js";

/** A region this region federates with. */
export interface FederationPeerArgs {
  /** The peer's AWS region (the link's name in the broker's definitions). @default - required */
  readonly region: string;
  /** The peer's fully qualified stack, `<org>/<project>/<stack>`. @default - required */
  readonly stack: string;
}

/** Arguments of {@link Federation}. */
export interface FederationArgs {
  /** This stack's region; a peer with the same region is refused. @default - required */
  readonly region: string;
  /** Peer regions and their stacks. @default [] */
  readonly peers?: readonly FederationPeerArgs[];
  /**
   * Hostname of this region's broker load balancer, published for the peers (it may resolve
   * after this component is built: the Region passes the broker's endpoint once it exists).
   * @default - nothing is published
   */
  readonly localEndpoint?: pulumi.Input<string>;
  /** Password of this region's federation user, published (secret) for the peers. @default - nothing is published */
  readonly localPassword?: pulumi.Input<string>;
  /** Whether this region's broker listens with TLS (AMQPS 5671). @default false */
  readonly localTls?: boolean;
}

/**
 * Links this region's broker to the other regions (S8, S12): reads each peer stack's published
 * broker URIs and federation password through a StackReference, for the broker's federation
 * upstreams; and publishes this region's broker endpoint, URIs and federation password for the
 * peers (the Region exports them as the stack outputs named by `PEER_OUTPUTS`).
 */
export class Federation extends pulumi.ComponentResource {
  public static readonly TOKEN = "taskfleet:federation:Federation";
  /** Upstream URIs by peer region (empty for a peer not deployed yet). */
  public readonly upstreamUris: pulumi.Output<Record<string, string[]>>;
  /** Password of the federation user at each peer, by region (secret). */
  public readonly upstreamPasswords: pulumi.Output<Record<string, string>>;
  /** The peer regions, in config order. */
  public readonly peerRegions: readonly string[];
  /** This region's broker endpoint (load-balancer hostname). */
  public readonly endpoint: pulumi.Output<string>;
  /** The URIs peers use to reach this region's broker. */
  public readonly uris: pulumi.Output<string[]>;
  /** This region's federation user's password (secret). */
  public readonly password: pulumi.Output<string>;

  constructor(name: string, args: FederationArgs, opts: pulumi.ComponentResourceOptions = {}) {
    const peers = args.peers ?? [];
    peers.forEach((p, i) => {
      if (p.region === args.region) {
        throw new Error(
          `peers[${i}].region: ${JSON.stringify(p.region)} is this region; a region does not federate with itself`,
        );
      }
      if (peers.findIndex((q) => q.region === p.region) !== i) {
        throw new Error(`peers[${i}].region: ${JSON.stringify(p.region)} is listed twice`);
      }
    });
    super(Federation.TOKEN, name, {}, opts);
    const uris: Record<string, pulumi.Output<string[]>> = {};
    const passwords: Record<string, pulumi.Output<string>> = {};
    for (const peer of peers) {
      const ref = new pulumi.StackReference(
        `${name}-${peer.region}`,
        { name: peer.stack },
        { parent: this },
      );
      // A peer deployed later has no outputs yet: its link is left out until the next `pulumi up`.
      uris[peer.region] = ref
        .getOutput(PEER_OUTPUTS.uris)
        .apply((v) => (Array.isArray(v) ? (v as string[]) : []));
      passwords[peer.region] = ref
        .getOutput(PEER_OUTPUTS.password)
        .apply((v) => (typeof v === "string" ? v : ""));
    }
    this.peerRegions = peers.map((p) => p.region);
    this.upstreamUris = pulumi.output(uris) as pulumi.Output<Record<string, string[]>>;
    this.upstreamPasswords = pulumi.secret(
      pulumi.output(passwords) as pulumi.Output<Record<string, string>>,
    );
    this.endpoint = pulumi.output(args.localEndpoint ?? "");
    const tls = args.localTls ?? false;
    this.uris = this.endpoint.apply((host) => (host ? federationUris(host, tls) : []));
    this.password = pulumi.secret(pulumi.output(args.localPassword ?? ""));
    this.registerOutputs({
      upstreamUris: this.upstreamUris,
      upstreamPasswords: this.upstreamPasswords,
      endpoint: this.endpoint,
      uris: this.uris,
      password: this.password,
    });
  }
}
