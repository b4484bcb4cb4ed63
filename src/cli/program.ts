import { Command, Option } from "commander";
import type { CommandSpec, ParsedOptions } from "./options.ts";
import { probeSpec } from "./probe/spec.ts";
import { execSpec, runSpec, runsSpec } from "./run/spec.ts";
import { inventoryCommand, inventorySpec } from "./inventory.ts";
import { schemaCommand, schemaSpec } from "./schema.ts";
import { validateCommand, validateSpec } from "./validate.ts";
import { demoSpec, serveSpec } from "./serve-spec.ts";
import { mttrSpec } from "./mttr-spec.ts";
import { wrapSpec } from "./wrap-spec.ts";
import { shadowSpec } from "./shadow-spec.ts";
import { auditSpec } from "./audit-spec.ts";
import { incidentsSpec, pauseSpec, resumeSpec } from "./incidents-spec.ts";

export type Handler = (positionals: string[], options: ParsedOptions) => Promise<number>;

function addCommand(program: Command, spec: CommandSpec, handler: Handler): void {
  const command = program.command(spec.name).description(spec.description).argument(spec.argument.name, spec.argument.description);
  for (const option of spec.options) {
    const flags = `${option.short ? `-${option.short}, ` : ""}--${option.long}${option.value ? ` <${option.value}>` : ""}`;
    const built = new Option(flags, option.description);
    if (option.repeatable) built.argParser((value: string, previous: string[] = []) => [...previous, value]).default([]);
    else if (option.default !== undefined) built.default(option.default);
    if (option.hidden) built.hideHelp();
    command.addOption(built);
  }
  // commander passes each declared argument, then the options and the command.
  command.action(async (...args: unknown[]) => {
    const options = args[args.length - 2] as ParsedOptions;
    const positionals = args.slice(0, -2).flat().filter((a): a is string => typeof a === "string");
    process.exitCode = await handler(positionals, options);
  });
}

/** The full CLI, for help, usage errors and commands without a fast path. */
export function buildProgram(version: () => string, handlers: { probe: Handler }): Command {
  const program = new Command("opskit")
    .description("Health probes, fleet execution and alert-driven remediation in one binary.")
    .option("--version", "print version and git commit")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  program.on("option:version", () => {
    process.stdout.write(`${version()}\n`);
    process.exit(0);
  });
  addCommand(program, probeSpec, handlers.probe);
  // Fleet commands load the engine, SSH and the journal only when they run.
  addCommand(program, runSpec, async (args, options) => (await import("./run/index.ts")).runCommand(args, options));
  addCommand(program, execSpec, async (args, options) => (await import("./run/index.ts")).execCommand(args, options));
  addCommand(program, wrapSpec, async (args, options) => (await import("./wrap.ts")).wrapCommand(args, options));
  addCommand(program, shadowSpec, async (args, options) => (await import("./shadow.ts")).shadowCommand(args, options));
  addCommand(program, auditSpec, async (args, options) => (await import("./audit.ts")).auditCommand(args, options));
  addCommand(program, runsSpec, async (args, options) => (await import("./run/runs.ts")).runsCommand(args, options));
  addCommand(program, inventorySpec, inventoryCommand);
  addCommand(program, validateSpec, validateCommand);
  addCommand(program, schemaSpec, schemaCommand);
  addCommand(program, serveSpec, async (args, options) => (await import("./serve.ts")).serveCommand(args, options, version()));
  addCommand(program, demoSpec, async (args, options) => (await import("./demo.ts")).demoCommand(args, options, version()));
  addCommand(program, mttrSpec, async (args, options) => (await import("./mttr.ts")).mttrCommand(args, options));
  addCommand(program, incidentsSpec, async (args, options) => (await import("./incidents.ts")).incidentsCommand(args, options));
  addCommand(program, pauseSpec, async (_args, options) => (await import("./incidents.ts")).pauseCommand(true, options));
  addCommand(program, resumeSpec, async (_args, options) => (await import("./incidents.ts")).pauseCommand(false, options));
  // The demo service that `opskit demo` and the alert tests run as a child process.
  program
    .command("demo-service", { hidden: true })
    .description("serve the demo HTTP service (/health, /metrics, POST /break, POST /fix) until SIGTERM")
    .option("--name <name>", "service name in health answers and metric labels", "demo")
    .option("--listen <host:port>", "address to listen on; port 0 picks a free one", "127.0.0.1:0")
    .action(async (options: { name: string; listen: string }) => {
      process.exitCode = await (await import("../demo/index.ts")).runDemoService(options);
    });
  return program;
}
