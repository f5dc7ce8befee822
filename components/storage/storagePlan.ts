/**
 * Pure parts of the storage layer: names AWS restricts, the archive's lifecycle rules, the
 * result-backend URL in the format the runtime and Celery read (S29). No Pulumi import.
 */

/** Stack outputs the primary region publishes for the secondaries of its Global Datastore. */
export const PRIMARY_OUTPUTS = Object.freeze({
  globalDatastoreId: "resultBackendGlobalDatastoreId",
  authToken: "resultBackendAuthToken",
  /** Every region publishes its own configuration endpoint; writers use the primary's. */
  host: "resultBackendHost",
});

/** OpenSearch domain names: 3–28 characters, lowercase letters, digits and hyphens, starting with a letter. */
export function openSearchDomainName(name: string): string {
  const clean = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^[^a-z]+/, "");
  const cut = clean.slice(0, 28).replace(/-+$/, "");
  if (cut.length < 3)
    throw new Error(
      `openSearchDomainName: ${JSON.stringify(name)} gives ${JSON.stringify(cut)}, under 3 characters`,
    );
  return cut;
}

/** ElastiCache ids: 1–40 characters, lowercase letters, digits and hyphens, no double hyphen. */
export function replicationGroupId(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^[^a-z]+/, "")
    .slice(0, 40)
    .replace(/-+$/, "");
}

/** Archive lifecycle (S33): to Glacier after `glacierAfterDays`, deleted after `expireAfterDays`. */
export interface LifecycleRule {
  id: string;
  status: "Enabled";
  filter: { prefix: string };
  transitions: { days: number; storageClass: "GLACIER" }[];
  expiration: { days: number };
  noncurrentVersionExpiration: { noncurrentDays: number };
  abortIncompleteMultipartUpload: { daysAfterInitiation: number };
}

export function archiveLifecycleRules(
  glacierAfterDays: number,
  expireAfterDays: number,
): LifecycleRule[] {
  return [
    {
      id: "archive-then-expire",
      status: "Enabled",
      filter: { prefix: "" },
      transitions: [{ days: glacierAfterDays, storageClass: "GLACIER" }],
      expiration: { days: expireAfterDays },
      noncurrentVersionExpiration: { noncurrentDays: 30 },
      abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
    },
  ];
}

/**
 * The result-backend URL: TLS (`rediss`), the AUTH token as password, the cluster's configuration
 * endpoint. The token is URL-encoded.
 */
export function resultBackendUrl(host: string, authToken: string, port = 6379): string {
  return `rediss://:${encodeURIComponent(authToken)}@${host}:${port}/0`;
}
