import { beforeAll, describe, expect, it } from "vitest";
import {
  brokerK8sObjects,
  OWN_NODE,
  postStartScript,
  preStopCommand,
  shellWord,
  startCommand,
  tlsCaKey,
} from "../../components/broker/brokerManifests.js";
import type { BrokerCommand } from "../../components/broker/definitions.js";
import { kubernetesObjects } from "../../cli/planEngine.js";
import { validateK8s } from "./k8sSchema.js";
import { at, find, mocked, ofType, type RecordedResource } from "./support.js";

const MANIFEST_ARGS = {
  instance: "b",
  namespace: "taskfleet",
  image: "rabbitmq:4.3.5-management",
  rabbitmqVersion: { major: 4, minor: 3 },
  nodes: 5,
  fileDescriptorLimit: 65536,
  tls: false,
  storage: { volumeType: "io2" as const, volumeSizeGiB: 500, iops: 20000, throughputMiBps: 0 },
  cpu: "4",
  memoryGiB: 16,
  terminationGracePeriodSeconds: 3600,
  selectNodePool: true,
  clientCidrs: ["10.0.0.0/16", "10.1.0.0/16"],
  configChecksum: "abc",
  postStart: [
    { tool: "rabbitmq-queues", args: ["grow", OWN_NODE, "all"] },
    { tool: "rabbitmqctl", args: ["clear_policy", "--vhost", "/", "p-relink"] },
  ] as BrokerCommand[],
};

/** The post-start script for MANIFEST_ARGS.postStart, polling every 10 s. */
const SIDECAR_SCRIPT = [
  "trap 'exit 0' TERM INT",
  "pending=1; last=0",
  "while :; do",
  "  up=`rabbitmqctl -q eval 'case rabbit:is_booted() of true -> element(1, erlang:statistics(wall_clock)); false -> booting end.' 2>/dev/null`",
  '  case "$up" in',
  "    ''|*[!0-9]*) pending=1 ;;",
  "    *)",
  '      if [ "$up" -lt "$last" ]; then pending=1; fi',
  "      last=$up",
  '      if [ "$pending" = 1 ]; then',
  '        echo "post-start: $RABBITMQ_NODENAME is running; 2 commands"',
  '        if rabbitmq-queues grow "$RABBITMQ_NODENAME" all && rabbitmqctl clear_policy --vhost / p-relink; then',
  '          pending=0; echo "post-start: done"',
  "        else",
  '          echo "post-start: a command failed; again in 10 s"',
  "        fi",
  "      fi ;;",
  "  esac",
  "  sleep 10 & wait $!",
  "done",
].join("\n");

describe("broker manifests (pure)", () => {
  it("gives peer discovery API access only to RabbitMQ before 4.1 (version 2 calls no API)", () => {
    const v43 = brokerK8sObjects(MANIFEST_ARGS);
    expect(v43.serviceAccount.automountServiceAccountToken).toBe(false);
    expect([v43.role, v43.roleBinding]).toEqual([undefined, undefined]);
    const v310 = brokerK8sObjects({
      ...MANIFEST_ARGS,
      image: "rabbitmq:3.10-management",
      rabbitmqVersion: { major: 3, minor: 10 },
    });
    expect(v310.serviceAccount.automountServiceAccountToken).toBe(true);
    expect(v310.role).toMatchObject({
      kind: "Role",
      rules: [{ apiGroups: [""], resources: ["endpoints"], verbs: ["get"] }, expect.anything()],
    });
    expect(v310.roleBinding).toMatchObject({ kind: "RoleBinding" });
  });
  it("waits for quorum plus one, then drains, before a node leaves", () => {
    expect(preStopCommand(3600)).toEqual([
      "/bin/sh",
      "-c",
      "if [ -s /etc/pod-info/skipPreStopChecks ]; then exit 0; fi; rabbitmq-upgrade await_online_quorum_plus_one -t 3590 && rabbitmq-upgrade drain -t 3590",
    ]);
  });
  it("raises the open-files limit before starting RabbitMQ (S16)", () => {
    expect(startCommand(65536)).toEqual([
      "/bin/sh",
      "-c",
      "ulimit -n 65536 && exec docker-entrypoint.sh rabbitmq-server",
    ]);
  });
  it("quotes shell words: plain ones bare, others single-quoted, the own node as $RABBITMQ_NODENAME", () => {
    expect(shellWord("set_policy")).toBe("set_policy");
    expect(shellWord("^default$")).toBe("'^default$'");
    expect(shellWord(`{"a":"it's"}`)).toBe(`'{"a":"it'\\''s"}'`);
    expect(shellWord(OWN_NODE)).toBe('"$RABBITMQ_NODENAME"');
  });
  it("post-start script: runs the commands once the node runs, again after each restart", () => {
    expect(postStartScript(MANIFEST_ARGS.postStart, 10)).toBe(SIDECAR_SCRIPT);
    // Kubernetes expands `$(VAR)` and `$$` in a container's command; the script has neither.
    expect(SIDECAR_SCRIPT).not.toMatch(/\$\(|\$\$/);
  });
  it("runs the post-start script in a sidecar that targets its own node with the node's cookie", () => {
    const pod = at(brokerK8sObjects(MANIFEST_ARGS).statefulSet, "spec.template.spec") as {
      containers: { name: string; env: unknown[] }[];
    };
    expect(pod.containers.map((c) => c.name)).toEqual(["rabbitmq", "post-start"]);
    const server = pod.containers[0]!;
    expect(pod.containers[1]).toEqual({
      name: "post-start",
      image: "rabbitmq:4.3.5-management",
      command: ["/bin/sh", "-c", SIDECAR_SCRIPT],
      env: [...server.env.slice(0, 6), { name: "HOME", value: "/var/lib/rabbitmq" }],
      resources: {
        requests: { cpu: "200m", memory: "256Mi" },
        limits: { cpu: "200m", memory: "256Mi" },
      },
      volumeMounts: [{ name: "data", mountPath: "/var/lib/rabbitmq", readOnly: true }],
      securityContext: {
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        privileged: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ["ALL"] },
      },
    });
    expect(server.env.slice(4, 6)).toEqual([
      { name: "RABBITMQ_USE_LONGNAME", value: "true" },
      {
        name: "RABBITMQ_NODENAME",
        value: "rabbit@$(MY_POD_NAME).b-nodes.taskfleet.svc.cluster.local",
      },
    ]);
  });
  it("provisions io2 volumes with the configured IOPS, encrypted (S18)", () => {
    expect(brokerK8sObjects(MANIFEST_ARGS).storageClass).toMatchObject({
      provisioner: "ebs.csi.aws.com",
      parameters: { type: "io2", iops: "20000", encrypted: "true" },
      volumeBindingMode: "WaitForFirstConsumer",
    });
  });
  it("spreads nodes over zones and hosts, on the broker pool", () => {
    const sts = brokerK8sObjects(MANIFEST_ARGS).statefulSet;
    expect(at(sts, "spec.template.spec.topologySpreadConstraints.0")).toMatchObject({
      topologyKey: "topology.kubernetes.io/zone",
      whenUnsatisfiable: "DoNotSchedule",
      maxSkew: 1,
    });
    expect(
      at(
        sts,
        "spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution.0.topologyKey",
      ),
    ).toBe("kubernetes.io/hostname");
    expect(at(sts, "spec.template.spec.tolerations.0")).toMatchObject({
      key: "taskfleet.io/pool",
      value: "broker",
    });
  });
  it("lets AMQP in from the namespace, KEDA and the allowed blocks only; clustering only between broker pods", () => {
    const np = brokerK8sObjects(MANIFEST_ARGS).networkPolicy;
    expect(at(np, "spec.ingress.1.from")).toEqual([
      { podSelector: {} },
      { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "keda" } } },
      { ipBlock: { cidr: "10.0.0.0/16" } },
      { ipBlock: { cidr: "10.1.0.0/16" } },
    ]);
    expect(at(np, "spec.ingress.0.from")).toEqual([
      {
        podSelector: {
          matchLabels: { "app.kubernetes.io/name": "rabbitmq", "app.kubernetes.io/instance": "b" },
        },
      },
    ]);
  });

  it("with TLS uses the ports RabbitMQ then listens on: amqps 5671, management 15671, prometheus 15691", () => {
    const o = brokerK8sObjects({ ...MANIFEST_ARGS, tls: true });
    expect(at(o.statefulSet, "spec.template.spec.containers.0.ports")).toEqual([
      { name: "amqps", containerPort: 5671, protocol: "TCP" },
      { name: "management", containerPort: 15671, protocol: "TCP" },
      { name: "prometheus", containerPort: 15691, protocol: "TCP" },
      { name: "epmd", containerPort: 4369, protocol: "TCP" },
      { name: "cluster-rpc", containerPort: 25672, protocol: "TCP" },
    ]);
    expect(at(o.statefulSet, "spec.template.spec.containers.0.readinessProbe.tcpSocket")).toEqual({
      port: "amqps",
    });
    expect(at(o.clientService, "spec.ports")).toEqual([
      { name: "amqps", port: 5671, targetPort: "amqps", protocol: "TCP" },
      { name: "management", port: 15671, targetPort: "management", protocol: "TCP" },
    ]);
    expect(at(o.headlessService, "spec.ports.3")).toEqual({
      name: "prometheus",
      port: 15691,
      targetPort: "prometheus",
      protocol: "TCP",
    });
    expect(at(o.networkPolicy, "spec.ingress.1.ports")).toEqual([
      { protocol: "TCP", port: 5671 },
      { protocol: "TCP", port: 15671 },
    ]);
    expect(at(o.networkPolicy, "spec.ingress.2.ports")).toEqual([{ protocol: "TCP", port: 15691 }]);
    const plain = brokerK8sObjects(MANIFEST_ARGS);
    expect(at(plain.clientService, "spec.ports.1.port")).toBe(15672);
    expect(at(plain.headlessService, "spec.ports.3.port")).toBe(15692);
    expect(at(plain.networkPolicy, "spec.ingress.2.ports")).toEqual([
      { protocol: "TCP", port: 15692 },
    ]);
  });
  it("finds the CA's key in the TLS Secret from tls.caCertFile (ca.crt when it is elsewhere)", () => {
    expect(tlsCaKey("/etc/rabbitmq/tls/ca.pem")).toBe("ca.pem");
    expect(tlsCaKey("/etc/rabbitmq/tls/sub/ca.pem")).toBe("ca.crt");
    expect(tlsCaKey("/etc/ssl/ca.pem")).toBe("ca.crt");
    expect(tlsCaKey(null)).toBe("ca.crt");
  });

  it("renders objects the Kubernetes schemas accept", async () => {
    for (const o of Object.values(brokerK8sObjects(MANIFEST_ARGS))) await validateK8s(o);
  });
});

describe("BrokerCluster", () => {
  let res: RecordedResource[];
  beforeAll(async () => {
    const engine = await mocked();
    const { BrokerCluster } = await import("../../components/broker/brokerCluster.js");
    new BrokerCluster("b", {
      region: "us-east-1",
      spec: { nodes: 5, federation: [{ region: "eu-west-1", queues: ["default"] }] },
      upstreamUris: { "eu-west-1": ["amqp://euw1-broker.elb.mock:5672"] },
      upstreamPasswords: { "eu-west-1": "peer-federation-password" },
      volumeType: "gp3",
      iops: 6000,
      throughputMiBps: 250,
      selectNodePool: true,
      clientCidrs: ["10.0.0.0/16", "10.1.0.0/16"],
    });
    await engine.settle();
    res = engine.resources;
  });

  it("creates the cluster's objects and passwords as children of the component", () => {
    const children = res
      .filter((r) => r.parent === "b")
      .map((r) => `${r.type} ${r.name}`)
      .sort();
    expect(children).toEqual([
      "kubernetes:apps/v1:StatefulSet b",
      "kubernetes:core/v1:ConfigMap b-config",
      "kubernetes:core/v1:Secret b-definitions",
      "kubernetes:core/v1:Secret b-erlang-cookie",
      "kubernetes:core/v1:Service b-nodes-svc",
      "kubernetes:core/v1:Service b-svc",
      "kubernetes:core/v1:ServiceAccount b-sa",
      "kubernetes:networking.k8s.io/v1:NetworkPolicy b-netpol",
      "kubernetes:policy/v1:PodDisruptionBudget b-pdb",
      "kubernetes:storage.k8s.io/v1:StorageClass b-storage",
      "random:index/randomPassword:RandomPassword b-erlang-cookie",
      "random:index/randomPassword:RandomPassword b-federation",
      "random:index/randomPassword:RandomPassword b-monitoring",
      "random:index/randomPassword:RandomPassword b-producers",
      "random:index/randomPassword:RandomPassword b-workers",
    ]);
  });

  it("runs the configured odd node count on the gp3 class with the configured IOPS", () => {
    const sts = find(res, "kubernetes:apps/v1:StatefulSet", "b");
    expect(at(sts.inputs, "spec.replicas")).toBe(5);
    expect(at(sts.inputs, "spec.volumeClaimTemplates.0.spec.storageClassName")).toBe("b-gp3");
    expect(
      find(res, "kubernetes:storage.k8s.io/v1:StorageClass", "b-storage").inputs,
    ).toMatchObject({
      parameters: { type: "gp3", iops: "6000", throughput: "250", encrypted: "true" },
    });
    expect(
      at(sts.inputs, "spec.template.spec.containers.0.lifecycle.preStop.exec.command.2"),
    ).toContain("await_online_quorum_plus_one");
  });

  it("its post-start sidecar grows quorum queues onto its own node and relinks the federated queue", () => {
    const sts = find(res, "kubernetes:apps/v1:StatefulSet", "b");
    expect(at(sts.inputs, "spec.template.spec.containers.1.name")).toBe("post-start");
    const script = String(at(sts.inputs, "spec.template.spec.containers.1.command.2"));
    const run = /if (rabbitmq-queues .*); then\n/.exec(script)?.[1];
    expect(run?.split(" && ")).toEqual([
      'rabbitmq-queues grow "$RABBITMQ_NODENAME" all',
      "rabbitmqctl set_policy --vhost / --apply-to queues --priority 11 taskfleet-default-relink '^default$' " +
        `'{"max-length":100000,"overflow":"reject-publish","message-ttl":3600000,"dead-letter-exchange":"default.dlx","delivery-limit":20,"dead-letter-strategy":"at-least-once"}'`,
      "rabbitmqctl clear_policy --vhost / taskfleet-default-relink",
    ]);
  });

  it("places exactly the generator's files: Kubernetes peer discovery in rabbitmq.conf, the plugin, the upstream", () => {
    const cm = find(res, "kubernetes:core/v1:ConfigMap", "b-config");
    const data = cm.inputs.data as Record<string, string>;
    const conf = String(data["rabbitmq.conf"]);
    expect(conf).toContain("cluster_formation.peer_discovery_backend = rabbit_peer_discovery_k8s");
    // RabbitMQ 4.3 (the default image): discovery version 2, seed = pod 0, no version-1 keys.
    expect(conf).not.toContain("cluster_formation.k8s.");
    expect(conf).toContain("cluster_formation.target_cluster_size_hint = 5");
    expect(conf).toContain("deprecated_features.permit.transient_nonexcl_queues = true");
    expect(String(data.enabled_plugins)).toContain("rabbitmq_peer_discovery_k8s");
    const defs = find(res, "kubernetes:core/v1:Secret", "b-definitions");
    const sd = defs.inputs.stringData as { secret: Record<string, string> };
    const json = JSON.parse(sd.secret["definitions.json"]!) as {
      parameters: { component: string; value: { uri: unknown } }[];
      users: { name: string }[];
    };
    const upstream = json.parameters.find((p) => p.component === "federation-upstream");
    expect(JSON.stringify(upstream?.value.uri)).toContain("euw1-broker.elb.mock:5672");
    expect(JSON.stringify(upstream?.value.uri)).toContain("peer-federation-password");
    expect(json.users.map((u) => u.name).sort()).toEqual([
      "taskfleet-federation",
      "taskfleet-monitoring",
      "taskfleet-producers",
      "taskfleet-workers",
    ]);
  });

  it("exposes AMQP through an internal NLB restricted to the allowed blocks, with a NetworkPolicy", () => {
    const svc = find(res, "kubernetes:core/v1:Service", "b-svc");
    expect(at(svc.inputs, "metadata.annotations")).toMatchObject({
      "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
      "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
    });
    expect(at(svc.inputs, "spec.loadBalancerSourceRanges")).toEqual(["10.0.0.0/16", "10.1.0.0/16"]);
    expect(
      JSON.stringify(find(res, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "b-netpol").inputs),
    ).not.toContain("0.0.0.0/0");
    expect(
      find(res, "kubernetes:policy/v1:PodDisruptionBudget", "b-pdb").inputs.spec,
    ).toMatchObject({ maxUnavailable: 1 });
  });

  it("passes its objects through the Kubernetes schemas", async () => {
    const objs = kubernetesObjects(res.filter((r) => r.parent === "b"));
    expect(objs).toHaveLength(10);
    for (const o of objs) await validateK8s(o as { apiVersion: string; kind: string });
    expect(ofType(res, "random:index/randomPassword:RandomPassword")).toHaveLength(5);
  });

  it("refuses an image whose tag names no RabbitMQ version, before registering anything", async () => {
    const engine = await mocked();
    const { BrokerCluster } = await import("../../components/broker/brokerCluster.js");
    expect(
      () => new BrokerCluster("x", { region: "us-east-1", spec: {}, image: "rabbitmq:management" }),
    ).toThrowError(
      'image: "rabbitmq:management" names no RabbitMQ version; pin one like "rabbitmq:4.3.5-management" so the generated rabbitmq.conf matches it',
    );
    await engine.settle();
    expect(engine.resources).toEqual([]);
  });

  it("refuses an even node count before registering anything, with the broker spec's message", async () => {
    const engine = await mocked();
    const { BrokerCluster } = await import("../../components/broker/brokerCluster.js");
    expect(
      () => new BrokerCluster("even", { region: "us-east-1", spec: { nodes: 4 } }),
    ).toThrowError(/^taskfleet:broker\.nodes: 4/);
    await engine.settle();
    expect(engine.resources).toEqual([]);
  });
});
