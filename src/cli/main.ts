// opskit's entry point. A well-formed `opskit probe` command line is parsed
// from the option tables without loading commander, so probing starts about
// as fast as curl; help, usage errors and other commands go through commander.
import pkg from "../../package.json" with { type: "json" };
import { describeError, ExitCode, isOpsError } from "../errors.ts";
import { secrets } from "../observe/index.ts";
import { parseFast, type ParsedOptions } from "./options.ts";
import { probeCommand } from "./probe/index.ts";
import { probeSpec } from "./probe/spec.ts";

declare const OPSKIT_COMMIT: string | undefined;

function commit(): string {
  if (typeof OPSKIT_COMMIT === "string") return OPSKIT_COMMIT;
  try {
    // From source only: a build stamps the commit in with --define.
    const git = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: import.meta.dir, stderr: "ignore" });
    return git.success ? git.stdout.toString().trim() : "unknown";
  } catch {
    return "unknown";
  }
}

export function versionLine(): string {
  return `opskit ${pkg.version} (${commit()}) bun ${Bun.version} ${process.platform}-${process.arch}`;
}

async function probe(positionals: string[], options: ParsedOptions): Promise<number> {
  return probeCommand(positionals, options as never);
}

async function runCommander(argv: string[]): Promise<number> {
  const { CommanderError } = await import("commander");
  const { buildProgram } = await import("./program.ts");
  try {
    await buildProgram(versionLine, { probe }).parseAsync(argv, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : ExitCode.ok;
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    return error.code === "commander.helpDisplayed" || error.code === "commander.help" ? ExitCode.ok : ExitCode.usage;
  }
}

export async function main(argv: string[]): Promise<number> {
  try {
    if (argv.length === 1 && argv[0] === "--version") {
      console.log(versionLine());
      return ExitCode.ok;
    }
    if (argv[0] === probeSpec.name) {
      const fast = parseFast(argv.slice(1), probeSpec);
      if (fast) return await probe(fast.positionals, fast.options);
    }
    return await runCommander(argv);
  } catch (error) {
    const json = argv.includes("--json");
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
