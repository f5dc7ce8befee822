/**
 * The Pulumi program: one stack deploys one region. This is the only place that reads
 * `pulumi.Config`; everything below takes typed, validated values. The region's AWS provider is
 * created here and flows to every child through `providers`.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { readAlertingSecrets } from "./components/config/alertingConfig.js";
import { parseRegionConfig } from "./components/config/regionConfig.js";
import { readStackValues } from "./components/config/stackValues.js";
import { Region } from "./components/region.js";
import { planRegion } from "./components/regionPlan.js";

export default async function main(): Promise<Record<string, pulumi.Output<unknown>>> {
  const config = new pulumi.Config("taskfleet");
  const raw = readStackValues((key) => config.get(key));
  // Validates the whole region (config and broker description) before anything is created.
  const parsed = parseRegionConfig(raw);
  planRegion(parsed, raw.broker);
  // The alerting channels' keys are stack secrets (`pulumi config set --secret`), never plain config.
  const alertingSecrets = readAlertingSecrets(parsed.alerting, (key) => config.getSecret(key));
  const stack = pulumi.getStack();
  const tags = {
    "taskfleet:stack": stack,
    "taskfleet:region": parsed.region,
    "taskfleet:environment": parsed.environment,
  };
  const provider = new aws.Provider(`aws-${parsed.region}`, {
    region: parsed.region as aws.Region,
    defaultTags: { tags },
  });
  const region = new Region(
    "taskfleet",
    { config: parsed, broker: raw.broker, tags, stack, alertingSecrets },
    { providers: { aws: provider } },
  );
  return region.outputs;
}
