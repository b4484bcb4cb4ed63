// opskit's entry point: parses the command line and loads only the command
// that runs, so `opskit probe` starts about as fast as curl.
import { Command, CommanderError, Option } from "commander";
import pkg from "../../package.json" with { type: "json" };
import { describeError, ExitCode, isOpsError } from "../errors.ts";

declare const OPSKIT_COMMIT: string | undefined;

function commit(): string {
  if (typeof OPSKIT_COMMIT === "string") return OPSKIT_COMMIT;
  const git = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: import.meta.dir, stderr: "ignore" });
  return git.success ? git.stdout.toString().trim() : "unknown";
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function buildProgram(): Command {
  const program = new Command("opskit")
    .description("Health probes, fleet execution and alert-driven remediation in one binary.")
    .option("--version", "print version and git commit")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  program.on("option:version", () => {
    process.stdout.write(`opskit ${pkg.version} (${commit()}) bun ${Bun.version} ${process.platform}-${process.arch}\n`);
    process.exit(0);
  });

  program
    .command("probe")
    .description("probe HTTP(S), TCP, TLS, DNS, gRPC and SSH targets; exit 0 healthy, 1 unreachable, 2 unhealthy")
    .argument("[targets...]", "URLs: http(s)://, tcp://host:port, tls://host:port, dns://name?type=A&server=IP:PORT, grpc://host:port/service, ssh://host:port")
    .option("-f, --file <file>", "read targets from a file: one per line, or YAML with per-target expectations and labels ('-' for stdin)")
    .option("--timeout <duration>", "per-attempt timeout", "5s")
    .option("--retries <n>", "retry a failed probe up to n more times; every attempt is reported", "0")
    .option("--retry-delay <duration>", "pause between attempts", "1s")
    .option("-e, --expect <expr>", "CEL expression that must hold, e.g. 'status == 200' (repeatable)", collect, [])
    .option("--concurrency <n>", "probes in flight at once", "64")
    .option("-X, --method <method>", "HTTP method", "GET")
    .option("-H, --header <header>", "HTTP request header 'Name: value' (repeatable)", collect, [])
    .option("--json", "one JSON object per target, then a summary object")
    .option("--junit <file>", "also write a JUnit XML report")
    .option("-q, --quiet", "print only failures and the summary")
    .option("-k, --insecure", "do not verify TLS certificates (expiry is still reported)")
    .option("--ca <file>", "trust the CA certificates in this PEM file")
    .addOption(new Option("--max-body <bytes>", "keep at most this many body bytes for expectations").default("1048576").hideHelp())
    .action(async (targets: string[], options) => {
      const { probeCommand } = await import("./probe/index.ts");
      process.exitCode = await probeCommand(targets, options);
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : ExitCode.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.code === "commander.help") return ExitCode.ok;
      return ExitCode.usage;
    }
    const json = argv.includes("--json");
    if (json) process.stderr.write(`${JSON.stringify({ type: "error", ...(isOpsError(error) ? error.toJSON() : { code: "E_INTERNAL", message: String(error) }) })}\n`);
    else process.stderr.write(`opskit: ${describeError(error)}\n`);
    if (isOpsError(error)) return error.exitCode;
    if (!json && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return ExitCode.internal;
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
