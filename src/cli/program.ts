import { Command, Option, type CommanderError } from "commander";
import { usageError, type OpsError } from "../errors.ts";
import { flagName, placeholder, resolveOptions, type CommandSpec, type OptionSpec, type OptionTable, type OptionValues, type RawOptions } from "./options.ts";
import { probeSpec } from "./probe/spec.ts";
import { execSpec, runSpec, runsSpec } from "./run/spec.ts";
import { inventoryCommand, inventorySpec } from "./inventory.ts";
import { schemaCommand, schemaSpec } from "./schema.ts";
import { validateCommand, validateSpec } from "./validate.ts";
import { demoSpec, serveSpec } from "./serve-spec.ts";
import { mttrSpec } from "./mttr-spec.ts";
import { schedulesSpec } from "./schedules-spec.ts";
import { wrapSpec } from "./wrap-spec.ts";
import { shadowSpec } from "./shadow-spec.ts";
import { auditSpec } from "./audit-spec.ts";
import { incidentsSpec, pauseSpec, resumeSpec } from "./incidents-spec.ts";
import { silenceSpec } from "./silence-spec.ts";
import { agentSpec } from "./agent-spec.ts";
import { completionSpec } from "./completion-spec.ts";
import { initSpec } from "./init-spec.ts";
import { withOutputFormat } from "./output-format.ts";
import { versionCommand, versionSpec } from "./version.ts";

export type Handler<T extends OptionTable = OptionTable> = (positionals: string[], options: OptionValues<T>) => Promise<number>;

/** Sees each command's table and handler as it is added, and may stand in for the handler (tests compare parsers with it). */
export type Route = <T extends OptionTable>(spec: CommandSpec<T>, handler: Handler<T>) => Handler<T>;

/** One row of a table as commander's Option: the same flags, placeholder and help, the default shown in help. */
function commanderOption(key: string, option: OptionSpec): Option {
  const value = placeholder(option);
  const built = new Option(`${option.short ? `-${option.short}, ` : ""}--${flagName(key)}${value ? ` <${value}>` : ""}`, option.description);
  if (option.kind === "list") built.argParser((item: string, previous: string[] = []) => [...previous, item]).default([]);
  else if (option.kind === "count") built.argParser((_item: string | undefined, previous: number) => previous + 1).default(0);
  else if (option.kind !== "boolean" && option.default !== undefined) built.default(option.default);
  if (option.hidden) built.hideHelp();
  return built;
}

/** What commander read from the command line, by the table's keys; resolveOptions applies the defaults, as for the fast path. */
function givenOptions(command: Command, attributes: ReadonlyMap<string, string>): RawOptions {
  const raw: Record<string, RawOptions[string]> = {};
  for (const [key, attribute] of attributes) {
    if (command.getOptionValueSource(attribute) !== "cli") continue;
    const value = command.getOptionValue(attribute);
    // A negatable --no-x sets its attribute to false: given, like any flag.
    raw[key] = typeof value === "boolean" ? true : value;
  }
  return raw;
}

function addCommand<T extends OptionTable>(program: Command, spec: CommandSpec<T>, handler: Handler<T>): void {
  const command = program.command(spec.name).description(spec.description);
  if (spec.argument) command.argument(spec.argument.name, spec.argument.description);
  command.addHelpText("after", examplesHelp(spec));
  const attributes = new Map<string, string>();
  for (const [key, option] of Object.entries(spec.options)) {
    const built = commanderOption(key, option);
    attributes.set(key, built.attributeName());
    command.addOption(built);
  }
  // commander passes each declared argument, then the options and the command.
  command.action(async (...args: unknown[]) => {
    const positionals = args.slice(0, -2).flat().filter((a): a is string => typeof a === "string");
    process.exitCode = await handler(positionals, resolveOptions(spec.options, givenOptions(command, attributes)));
  });
}

/** The full CLI, for help, usage errors and command lines the fast path leaves to commander. */
export function buildProgram(version: () => string, handlers: { probe: Handler<typeof probeSpec.options> }, route?: Route): Command {
  const program = new Command("opskit")
    .description("Health probes, fleet execution and alert-driven remediation in one binary.")
    .option("--version", "print version and git commit")
    .exitOverride()
    // Usage errors are printed by main.ts in opskit's own style (usageErrorOf), not commander's.
    .configureOutput({ writeErr: (text) => process.stderr.write(text), outputError: () => {} });
  program.on("option:version", () => {
    process.stdout.write(`${version()}\n`);
    process.exit(0);
  });
  // Every command's table, for the completion scripts generated from them.
  const specs: CommandSpec[] = [];
  const add = <T extends OptionTable>(spec: CommandSpec<T>, handler: Handler<T>) => {
    specs.push(spec);
    const settled = withOutputFormat(spec, handler);
    addCommand(program, spec, route ? route(spec, settled) : settled);
  };
  add(probeSpec, handlers.probe);
  // Fleet commands load the engine, SSH and the journal only when they run.
  add(runSpec, async (args, options) => (await import("./run/index.ts")).runCommand(args, options));
  add(execSpec, async (args, options) => (await import("./run/index.ts")).execCommand(args, options));
  add(wrapSpec, async (args, options) => (await import("./wrap.ts")).wrapCommand(args, options));
  add(shadowSpec, async (args, options) => (await import("./shadow.ts")).shadowCommand(args, options));
  add(auditSpec, async (args, options) => (await import("./audit.ts")).auditCommand(args, options));
  add(runsSpec, async (args, options) => (await import("./run/runs.ts")).runsCommand(args, options));
  add(inventorySpec, inventoryCommand);
  add(validateSpec, validateCommand);
  add(schemaSpec, schemaCommand);
  add(serveSpec, async (args, options) => (await import("./serve.ts")).serveCommand(args, options, version()));
  add(demoSpec, async (args, options) => (await import("./demo.ts")).demoCommand(args, options, version()));
  add(mttrSpec, async (args, options) => (await import("./mttr.ts")).mttrCommand(args, options));
  add(schedulesSpec, async (args, options) => (await import("./schedules.ts")).schedulesCommand(args, options));
  add(incidentsSpec, async (args, options) => (await import("./incidents.ts")).incidentsCommand(args, options));
  add(pauseSpec, async (_args, options) => (await import("./incidents.ts")).pauseCommand(true, options));
  add(resumeSpec, async (_args, options) => (await import("./incidents.ts")).pauseCommand(false, options));
  add(silenceSpec, async (args, options) => (await import("./silence.ts")).silenceCommand(args, options));
  add(agentSpec, async (args, options) => (await import("./agent.ts")).agentCommand(args, options, version()));
  add(versionSpec, versionCommand);
  add(initSpec, async (args, options) => (await import("./init.ts")).initCommand(args, options));
  add(completionSpec, async (args) => (await import("./completion.ts")).completionCommand(args, specs));
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

function examplesHelp(spec: CommandSpec): string {
  return `\nExamples:\n${spec.examples.map((example) => `  # ${example.text}\n  ${example.command}\n`).join("\n")}`;
}

/** What each of commander's usage errors is called, by its code. */
const usageCodes: Readonly<Record<string, string>> = {
  "commander.unknownOption": "E_USAGE_UNKNOWN_OPTION",
  "commander.optionMissingArgument": "E_USAGE_MISSING_VALUE",
  "commander.missingArgument": "E_USAGE_MISSING_ARGUMENT",
  "commander.excessArguments": "E_USAGE_EXTRA_ARGUMENTS",
  "commander.unknownCommand": "E_USAGE_UNKNOWN_COMMAND",
  "commander.invalidArgument": "E_USAGE_INVALID_VALUE",
};

/**
 * A usage error commander found, in opskit's words: what is wrong, and a
 * hint with commander's suggestion (if any) and the command's usage line.
 * Undefined for what is not a usage error (help, version).
 */
export function usageErrorOf(error: CommanderError, program: Command, argv: readonly string[]): OpsError | undefined {
  const code = usageCodes[error.code];
  if (!code) return undefined;
  const [first, ...more] = error.message.replace(/^error: /, "").split("\n");
  const suggestion = more.join(" ").match(/\(Did you mean (.+)\?\)/)?.[1];
  const command = program.commands.find((candidate) => candidate.name() === argv[0]);
  let message = first!.replace(/\.$/, "");
  const missingValue = message.match(/^option '(?:-\w, )?(--[\w-]+) <(.+)>' argument missing$/);
  if (missingValue) message = `${missingValue[1]} needs a value (${missingValue[2]})`;
  if (error.code === "commander.excessArguments" && command && command.registeredArguments.length === 0) message = `opskit ${command.name()} takes no arguments`;
  const usage = command ? `usage: opskit ${command.name()} ${command.usage()}; see opskit ${command.name()} --help` : `commands: ${program.createHelp().visibleCommands(program).map((c) => c.name()).filter((name) => name !== "help").join(", ")}; see opskit --help`;
  return usageError(code, message, suggestion ? `did you mean ${suggestion}? ${usage}` : usage);
}
