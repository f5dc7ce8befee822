/**
 * Which RabbitMQ the generated files are for. The cloud target deploys a pinned 4.x image; the
 * local target and the tests run Debian's 3.10. Where `rabbitmq.conf` keys or defaults differ
 * between the two, the generator asks this module. Pure: no I/O.
 *
 * Sources (read 2026-12 from rabbitmq/rabbitmq-server at the tags named):
 * - release-notes/4.3.0.md: Mnesia and partition handling removed (the keys are accepted and
 *   ignored); transient non-exclusive queues denied by default; upgrades only from 4.2.x.
 * - deps/rabbit/src/rabbit_queue_location.erl (v4.3.5): `queue_master_locator` is a deprecated
 *   feature (deprecated in 4.0, denied by default in 4.3) and the leader is chosen from
 *   `queue_leader_locator` only; `min-masters` maps to `balanced`.
 * - deps/rabbit/src/rabbit_amqqueue.erl, rabbit_channel.erl: `transient_nonexcl_queues` and
 *   `global_qos` are permitted by default up to 4.2.x, denied by default in 4.3.
 * - deps/rabbit/priv/schema/rabbit.schema: `deprecated_features.permit.$name` exists from 3.13.
 * - deps/rabbitmq_peer_discovery_k8s/README.md and priv/schema (v4.1.0+): plugin version 2 takes
 *   the pod with the lowest ordinal as the seed and ignores the version-1 keys (`host`,
 *   `address_type`, `service_name`, `hostname_suffix`, ...); it no longer calls the Kubernetes API.
 * - https://www.rabbitmq.com/release-information: only the latest minor series of the latest
 *   major gets community support.
 */

export interface RabbitmqVersion {
  readonly major: number;
  readonly minor: number;
}

/**
 * The image the cloud target deploys: the 4.3 series, current and community-supported (4.3.0
 * released 2026-04-21; 4.3.5, 2026-08-13). Pinned to a patch so every node of a cluster runs the
 * same build; move it with the series' patch releases.
 */
export const DEPLOYED_RABBITMQ_IMAGE = "rabbitmq:4.3.5-management";

/**
 * Release series this kit generates files for, and whether each still gets community support
 * (https://www.rabbitmq.com/release-information; end dates from endoflife.date's rabbitmq list).
 * 3.10 stays because Debian 12 ships it and the local target runs it.
 */
export const RABBITMQ_SERIES: Readonly<Record<string, { readonly supported: boolean }>> = {
  "3.10": { supported: false },
  "3.11": { supported: false },
  "3.12": { supported: false },
  "3.13": { supported: false },
  "4.0": { supported: false },
  "4.1": { supported: false },
  "4.2": { supported: false },
  "4.3": { supported: true },
};

export function versionString(v: RabbitmqVersion): string {
  return `${v.major}.${v.minor}`;
}

/** `v` is `major.minor` or later. */
export function atLeast(v: RabbitmqVersion, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}

/** `"4.3"`, `"4.3.5"` → the series; undefined when it is not a version. */
export function parseRabbitmqVersion(text: string): RabbitmqVersion | undefined {
  const m = /^(\d+)\.(\d+)(?:\.\d+)?$/.exec(text.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

/**
 * The series of a RabbitMQ image from its tag (`rabbitmq:4.3.5-management`,
 * `registry/mirror/rabbitmq:4.3-management@sha256:…`); undefined when the tag names no version
 * (`rabbitmq:management`, a digest alone).
 */
export function imageRabbitmqVersion(image: string): RabbitmqVersion | undefined {
  const ref = image.split("@")[0]!;
  const slash = ref.lastIndexOf("/");
  const colon = ref.lastIndexOf(":");
  if (colon <= slash) return undefined;
  const m = /^(\d+)\.(\d+)(?:\.\d+)?(?:-|$)/.exec(ref.slice(colon + 1));
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

/** What the generator does differently by version (each line cites the source above). */
export interface VersionTraits {
  /** Partition handling applies (Mnesia metadata store); 4.3 removed Mnesia and ignores the key. */
  readonly partitionHandling: boolean;
  /** `queue_master_locator` still read (classic queues before 4.0; deprecated from 4.0). */
  readonly masterLocator: boolean;
  /** `deprecated_features.permit.<name>` keys exist (3.13 and later). */
  readonly deprecatedFeatureKeys: boolean;
  /** Kubernetes peer discovery is version 2 (4.1 and later): seed = lowest ordinal, no API calls. */
  readonly k8sDiscoveryV2: boolean;
}

export function versionTraits(v: RabbitmqVersion): VersionTraits {
  return {
    partitionHandling: !atLeast(v, 4, 3),
    masterLocator: !atLeast(v, 4, 0),
    deprecatedFeatureKeys: atLeast(v, 3, 13),
    k8sDiscoveryV2: atLeast(v, 4, 1),
  };
}

/**
 * The seed node Kubernetes peer discovery version 2 (4.1+) joins, derived as the plugin does
 * from the node's own name: `<prefix>@<statefulset>-<ordinal><domain>` becomes the same name with
 * the ordinal replaced by `ordinalStart` (rabbit_peer_discovery_k8s.erl, `seed_node/2`).
 * Undefined when the name has no `-<ordinal>` (the plugin then refuses to form a cluster).
 */
export function k8sSeedNode(nodeName: string, ordinalStart = 0): string | undefined {
  const m = /^([^@]+@)([^.]*-)([0-9]+)(.*)$/.exec(nodeName);
  return m ? `${m[1]}${m[2]}${ordinalStart}${m[4]}` : undefined;
}
