/**
 * The taskfleet policy pack: every policy mandatory. Run with
 * `pulumi preview --policy-pack policy` (the CI workflow does, for every region stack).
 */
import { PolicyPack } from "@pulumi/policy";
import { POLICIES } from "./policies.js";

new PolicyPack("taskfleet", {
  enforcementLevel: "mandatory",
  description:
    "taskfleet: SSD broker storage, odd broker counts, encryption at rest and in transit, no public broker/Redis ingress, an EKS endpoint limited to listed networks, IMDSv2, restricted pods, a broker NetworkPolicy, the task API internal or TLS-only and always authenticated.",
  policies: POLICIES,
});
