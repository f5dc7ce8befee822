/**
 * Kit commands of `taskfleet` (the runtime's own commands — worker, api — live in
 * worker-runtime/src/cli). Each command is its own module exporting `run(argv): Promise<number>`.
 */
type Command = {
  summary: string;
  load: () => Promise<{ run: (argv: string[]) => Promise<number> }>;
};

const COMMANDS: Record<string, Command> = {
  broker: {
    summary:
      "broker render --stack <name> --out <dir>: write rabbitmq.conf, enabled_plugins, definitions.json",
    load: () => import("./broker.js"),
  },
  plan: {
    summary:
      "plan --stack <name> --out <dir>: run the Pulumi program offline with mocks and write the plan",
    load: () => import("./plan.js"),
  },
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const cmd = name === undefined ? undefined : COMMANDS[name];
  if (!cmd) {
    const list = Object.entries(COMMANDS)
      .map(([k, c]) => `  ${k.padEnd(8)} ${c.summary}`)
      .join("\n");
    process.stderr.write(`unknown kit command ${JSON.stringify(name)}; commands:\n${list}\n`);
    return 2;
  }
  const mod = await cmd.load();
  return mod.run(rest);
}
