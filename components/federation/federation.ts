import * as pulumi from "@pulumi/pulumi";
import { PEER_OUTPUTS } from "./upstreams.js";

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
}

/**
 * Links this region's broker to the other regions (S8, S12): reads each peer stack's published
 * broker URIs and federation password through a StackReference, for the broker's federation
 * upstreams. What this region publishes for its peers is named by `PEER_OUTPUTS` (see Region).
 */
export class Federation extends pulumi.ComponentResource {
  public static readonly TOKEN = "taskfleet:federation:Federation";
  /** Upstream URIs by peer region (empty for a peer not deployed yet). */
  public readonly upstreamUris: pulumi.Output<Record<string, string[]>>;
  /** Password of the federation user at each peer, by region (secret). */
  public readonly upstreamPasswords: pulumi.Output<Record<string, string>>;
  /** The peer regions, in config order. */
  public readonly peerRegions: readonly string[];

  constructor(name: string, args: FederationArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super(Federation.TOKEN, name, {}, opts);
    const peers = args.peers ?? [];
    peers.forEach((p, i) => {
      if (p.region === args.region) {
        throw new pulumi.ResourceError(
          `peers[${i}].region: ${JSON.stringify(p.region)} is this region; a region does not federate with itself`,
          this,
        );
      }
      if (peers.findIndex((q) => q.region === p.region) !== i) {
        throw new pulumi.ResourceError(
          `peers[${i}].region: ${JSON.stringify(p.region)} is listed twice`,
          this,
        );
      }
    });
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
    this.registerOutputs({
      upstreamUris: this.upstreamUris,
      upstreamPasswords: this.upstreamPasswords,
    });
  }
}
