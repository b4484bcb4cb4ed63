// opskit's entry point. A well-formed `opskit probe` or `opskit exec` command
// line is parsed from its option table without loading commander, so probing
// starts about as fast as curl; help, usage errors and other commands go
// through commander. Both read options through the same table and resolver.
import { describeError, ExitCode, isOpsError } from "../errors.ts";
import { secrets } from "../observe/index.ts";
import { parseCommandLine, type CommandSpec, type OptionTable, type OptionValues } from "./options.ts";
import { withOutputFormat } from "./output-format.ts";
import { probeCommand } from "./probe/index.ts";
import { probeSpec } from "./probe/spec.ts";
import { versionLine } from "./version.ts";

type Handler<T extends OptionTable> = (positionals: string[], options: OptionValues<T>) => Promise<number>;

function runParsed<T extends OptionTable>(argv: string[], spec: CommandSpec<T>, handler: Handler<T>): Promise<number> | undefined {
  const parsed = parseCommandLine(argv.slice(1), spec);
  return parsed && withOutputFormat(spec, handler)(parsed.positionals, parsed.options);
}

/** The fast path: undefined when the command line is for commander (another command, help, an unusual form). */
async function runFast(argv: string[]): Promise<number | undefined> {
  if (argv[0] === probeSpec.name) return runParsed(argv, probeSpec, probeCommand);
  if (argv[0] === "exec") {
    // The table only: its module imports no more than the tables it is built from.
    const { execSpec } = await import("./run/spec.ts");
    return runParsed(argv, execSpec, async (args, options) => (await import("./run/index.ts")).execCommand(args, options));
  }
  if (argv[0] === "agent") {
    // The agent runs for months on small machines: commander and every command's table cost it 3 MB of resident memory.
    const { agentSpec } = await import("./agent-spec.ts");
    return runParsed(argv, agentSpec, async (args, options) => (await import("./agent.ts")).agentCommand(args, options, versionLine()));
  }
  return undefined;
}

async function runCommander(argv: string[]): Promise<number> {
  const { CommanderError } = await import("commander");
  const { buildProgram, usageErrorOf } = await import("./program.ts");
  const program = buildProgram(() => versionLine(), { probe: probeCommand });
  try {
    await program.parseAsync(argv, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : ExitCode.ok;
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    const usage = usageErrorOf(error, program, argv);
    if (usage) throw usage;
    return error.code === "commander.helpDisplayed" || error.code === "commander.help" ? ExitCode.ok : ExitCode.usage;
  }
}

/** Whether the command line asks for machine-readable output (--json, -o json, -o yaml): errors are then a JSON object on stderr. */
function asksForJson(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  const options = end < 0 ? argv : argv.slice(0, end);
  return options.some((arg, i) => arg === "--json" || ((arg === "-o" || arg === "--output") && (options[i + 1] === "json" || options[i + 1] === "yaml")) || arg === "--output=json" || arg === "--output=yaml");
}

export async function main(argv: string[]): Promise<number> {
  try {
    if (argv.length === 1 && argv[0] === "--version") {
      console.log(versionLine());
      return ExitCode.ok;
    }
    return (await runFast(argv)) ?? (await runCommander(argv));
  } catch (error) {
    const json = asksForJson(argv);
    // console.error, not process.stderr: the latter's first use costs startup time.
    if (json) console.error(JSON.stringify(secrets.redactValue({ type: "error", ...(isOpsError(error) ? error.toJSON() : { code: "E_INTERNAL", message: String(error) }) })));
    else console.error(`opskit: ${describeError(error)}`);
    if (isOpsError(error)) return error.exitCode;
    if (!json && error instanceof Error && error.stack) console.error(secrets.redact(error.stack));
    return ExitCode.internal;
  }
}

if (import.meta.main) {
  // Exit explicitly once output is flushed: a natural teardown costs milliseconds.
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
