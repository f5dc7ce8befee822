/**
 * How regions find each other's brokers (S8, S12). Each region's stack publishes its broker's
 * federation URIs (no credentials) and its federation user's password (a secret output); a peer
 * reads both through a StackReference and puts them into its broker description's federation
 * links. Pure: no Pulumi import.
 */
import { ConfigError } from "../config/errors.js";

/** Stack outputs every region publishes for its peers. */
export const PEER_OUTPUTS = Object.freeze({
  uris: "brokerFederationUris",
  password: "brokerFederationPassword",
  endpoint: "brokerEndpoint",
});

/** The URIs peers use to reach a broker endpoint (AMQP 5672, or AMQPS 5671 when TLS is on). */
export function federationUris(host: string, tls: boolean): string[] {
  return tls ? [`amqps://${host}:5671`] : [`amqp://${host}:5672`];
}

/** Placeholder used to validate links before the peers' real URIs are known. */
export function placeholderUri(region: string): string {
  return `amqp://broker.${region}.federation.invalid:5672`;
}

/**
 * Returns a copy of the raw `taskfleet:broker` value whose federation links without `uris` get
 * the URIs published by the peer of the same region. A link with its own `uris` keeps them
 * (a peer not managed by these stacks). A link without `uris` and without a peer is an error.
 */
export function fillUpstreamUris(
  brokerInput: unknown,
  urisByRegion: Readonly<Record<string, readonly string[]>>,
  path = "taskfleet:broker",
  /** `drop`: leave out links whose peer has not published URIs yet (a peer deployed later). */
  missing: "error" | "drop" = "error",
): unknown {
  if (typeof brokerInput !== "object" || brokerInput === null || Array.isArray(brokerInput))
    return brokerInput;
  const input = brokerInput as Record<string, unknown>;
  if (!Array.isArray(input.federation)) return brokerInput;
  const dropped = new Set<number>();
  const federation = input.federation.map((link, i) => {
    if (typeof link !== "object" || link === null || Array.isArray(link)) return link;
    const l = link as Record<string, unknown>;
    if (l.uris !== undefined) return l;
    const region = typeof l.region === "string" ? l.region : "";
    const uris = urisByRegion[region];
    if (uris === undefined || uris.length === 0) {
      if (missing === "drop") {
        dropped.add(i);
        return l;
      }
      throw new ConfigError(
        `${path}.federation[${i}].uris: missing and ${JSON.stringify(region)} is not in taskfleet:federation.peers; add a peer { region: ${JSON.stringify(region)}, stack: "<org>/taskfleet/<stack>" } or give the upstream's uris`,
      );
    }
    return { ...l, uris: [...uris] };
  });
  return { ...input, federation: federation.filter((_, i) => !dropped.has(i)) };
}
