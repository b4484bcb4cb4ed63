import { describe, expect, test } from "bun:test";
import { CommanderError } from "commander";
import fc from "fast-check";
import { isOpsError } from "../errors.ts";
import { defineOptions, flagName, parseCommandLine, resolveOptions, type CommandSpec, type OptionSpec, type OptionsOf } from "./options.ts";
import type { probeSpec } from "./probe/spec.ts";
import { buildProgram, type Handler } from "./program.ts";

type Outcome = { parsed: { positionals: string[]; options: unknown } } | { error: { code: string; message: string; hint: string | undefined } } | { declined: string };

const usage = (error: unknown) => {
  if (isOpsError(error)) return { error: { code: error.code, message: error.message, hint: error.hint } };
  throw error;
};

/** main.ts's fast path for this command line. */
function viaFastPath(spec: CommandSpec, argv: string[]): Outcome {
  try {
    const parsed = parseCommandLine(argv, spec);
    return parsed ? { parsed } : { declined: "fast path" };
  } catch (error) {
    return usage(error);
  }
}

const noHandler: Handler = async () => {
  throw new Error("not the command under test");
};

/** The full CLI as main.ts builds it, with the command's handler replaced by one that keeps what it was given. */
async function viaCommander(spec: CommandSpec, argv: string[]): Promise<Outcome> {
  let seen: { positionals: string[]; options: unknown } | undefined;
  const program = buildProgram(() => "opskit test", { probe: noHandler }, (candidate, handler) =>
    candidate.name === spec.name
      ? async (positionals, options) => {
          seen = { positionals, options };
          return 0;
        }
      : handler,
  );
  const silent = { writeOut: () => {}, writeErr: () => {} };
  program.configureOutput(silent);
  for (const command of program.commands) command.configureOutput(silent);
  try {
    await program.parseAsync([spec.name, ...argv], { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) return { declined: error.code };
    return usage(error);
  }
  return seen ? { parsed: seen } : { declined: "no action" };
}

/** Every command's table, as buildProgram registers them. */
function registeredSpecs(): CommandSpec[] {
  const specs: CommandSpec[] = [];
  buildProgram(() => "opskit test", { probe: noHandler }, (spec, handler) => {
    specs.push(spec);
    return handler;
  });
  return specs;
}

const specs = registeredSpecs();

function sampleValue(option: OptionSpec): string {
  switch (option.kind) {
    case "integer":
      return option.or ?? String(option.max ?? option.min + 3);
    case "duration":
      return "1m30s";
    case "choice":
      return option.choices.at(-1)!;
    default:
      return "a value, -with dashes";
  }
}

function operands(spec: CommandSpec): string[] {
  const name = spec.argument?.name ?? "";
  if (!name.includes("...")) return name.startsWith("<") ? ["first"] : [];
  return ["role=web", "uptime", "-"];
}

/** Plain command lines for a table: each option alone in each of its forms, then all of them at once. */
function plainCommandLines(spec: CommandSpec): string[][] {
  const lines: string[][] = [operands(spec)];
  const all: string[] = [];
  for (const [key, option] of Object.entries(spec.options)) {
    const flag = `--${flagName(key)}`;
    const flagOnly = option.kind === "boolean" || option.kind === "count";
    const forms = flagOnly ? [[flag]] : [[flag, sampleValue(option)], [`${flag}=${sampleValue(option)}`]];
    if (option.short) forms.push(flagOnly ? [`-${option.short}`] : [`-${option.short}`, sampleValue(option)]);
    if (option.kind === "list") forms.push([flag, "one", option.short ? `-${option.short}` : flag, "two"]);
    if (option.kind === "count") {
      forms.push([flag, flag]);
      if (option.short) forms.push([`-${option.short}${option.short}`], [`-${option.short}${option.short}${option.short}`], [`-${option.short}`, flag, `-${option.short}${option.short}`]);
    }
    for (const form of forms) lines.push([...operands(spec), ...form]);
    all.push(...forms[0]!);
  }
  lines.push([...all, ...operands(spec)]);
  if (spec.argument?.name.includes("...")) lines.push([...operands(spec).slice(0, 1), ...all, "--", ...operands(spec).slice(1), "--json"]);
  return lines;
}

describe("the fast path and commander read a command line the same way", () => {
  test("every command is registered with a table", () => {
    expect(specs.map((spec) => spec.name)).toEqual(expect.arrayContaining(["probe", "exec", "run", "wrap", "shadow", "audit", "runs", "serve", "mttr", "incidents"]));
  });

  for (const spec of specs) {
    test(`${spec.name}: each option in each form, and all at once, gives the same options object both ways`, async () => {
      for (const argv of plainCommandLines(spec)) {
        const fast = viaFastPath(spec, argv);
        expect({ argv, fast }).toEqual({ argv, fast: expect.objectContaining({ parsed: expect.anything() }) });
        expect({ argv, outcome: await viaCommander(spec, argv) }).toEqual({ argv, outcome: fast });
      }
    });
  }

  const probe = specs.find((spec) => spec.name === "probe")!;
  const exec = specs.find((spec) => spec.name === "exec")!;
  test.each([
    ["a value that looks like an option", probe, ["--retries", "-1", "u"]],
    ["-- as a value", probe, ["--method", "--", "u"]],
    ["an option after --", probe, ["u", "--", "--json"]],
    ["a value with =", probe, ["--header=X-A: b=c", "u"]],
    ["a bad number", probe, ["--concurrency", "0", "u"]],
    ["a number in another notation", probe, ["--concurrency", "1e2", "u"]],
    ["a bad duration", probe, ["--timeout", "soon", "u"]],
    ["a word in place of a number", probe, ["--workers", "auto", "u"]],
    ["a bad word in place of a number", probe, ["--workers", "all", "u"]],
    ["a flag given a value", probe, ["--json=yes", "u"]],
    ["a missing value", probe, ["u", "--timeout"]],
    ["an unknown option", probe, ["--bogus", "u"]],
    ["help", probe, ["--help"]],
    ["grouped short flags", probe, ["-qk", "u"]],
    ["a short option with its value attached", probe, ["-XPOST", "u"]],
    ["exec without its operands", exec, ["--json"]],
    ["exec with its command after --", exec, ["role=web", "--json", "--", "ls", "-l"]],
    ["a counted flag grouped", exec, ["-vvv", "role=web", "--", "true"]],
    ["a counted flag repeated in its forms", exec, ["-v", "role=web", "--verbose", "-vv", "--", "true"]],
    ["a counted flag given a value", exec, ["--verbose=2", "role=web", "--", "true"]],
    ["a counted flag grouped with another letter", exec, ["-vc", "x", "role=web", "--", "true"]],
    ["a counted flag after --", exec, ["role=web", "--", "ls", "-vv"]],
  ] as const)("%s", async (_what, spec, argv) => {
    const fast = viaFastPath(spec, [...argv]);
    const commander = await viaCommander(spec, [...argv]);
    if ("declined" in fast) expect(commander).not.toHaveProperty("error");
    else expect(commander).toEqual(fast);
  });
});

describe("a bad number or duration is the usage error each command gave when it checked the value itself", () => {
  const named = (name: string) => specs.find((spec) => spec.name === name)!;
  test.each([
    ["exec", ["--concurrency", "0", "role=web", "--", "true"], "E_USAGE_OPTION", 'invalid --concurrency "0"', "use a whole number of 1 or more"],
    ["exec", ["--timeout", "soon", "role=web", "--", "true"], "E_DURATION", 'invalid --timeout "soon"', 'use a number with a unit, e.g. "500ms", "5s", "1m30s" or "2h"'],
    ["wrap", ["--retries", "100", "--", "./job.sh"], "E_USAGE_OPTION", 'invalid --retries "100"', "use a whole number from 0 to 99"],
    ["wrap", ["--retry-delay", "later", "--", "./job.sh"], "E_DURATION", 'invalid --retry-delay "later"', 'use a number with a unit, e.g. "500ms", "5s", "1m30s" or "2h"'],
    ["shadow", ["nightly", "--runs", "0"], "E_USAGE_OPTION", 'invalid --runs "0"', "use a whole number of 1 or more"],
    ["probe", ["u", "--max-body", "-1"], "E_USAGE_OPTION", 'invalid --max-body "-1"', "use a whole number from 0 to 1073741824"],
    ["audit", ["--fail-on", "info"], "E_USAGE_FAIL_ON", '--fail-on "info" is not one of error, warning, never', "e.g. --fail-on warning"],
  ])("%s %p", async (name, argv, code, message, hint) => {
    const fast = viaFastPath(named(name), argv);
    expect(fast).toEqual({ error: { code, message, hint } });
    expect(await viaCommander(named(name), argv)).toEqual(fast);
  });
});

/** A token the fast path leaves to commander although commander reads it: grouped or attached short flags, a negative number as an operand. */
const commanderOnlyForm = (token: string) => /^-[^-]./.test(token) || /^-\d/.test(token);

describe("generated command lines", () => {
  for (const spec of specs) {
    const flags = Object.entries(spec.options).flatMap(([key, option]) => [`--${flagName(key)}`, ...(option.short ? [`-${option.short}`] : [])]);
    const values = Object.values(spec.options).map(sampleValue);
    const grouped = Object.values(spec.options).flatMap((option) => (option.kind === "count" && option.short ? [option.short.repeat(2), option.short.repeat(3)].map((s) => `-${s}`) : []));
    const token = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...(flags.length > 0 ? flags : ["--json"])) },
      { weight: 2, arbitrary: fc.constantFrom(...values, "0", "-1", "5s", "--", "-", "=", "-h", "x=y") },
      { weight: 1, arbitrary: fc.constantFrom(...flags.map((flag) => `${flag}=`), ...flags.map((flag) => `${flag}=1`), ...grouped, "--help") },
      { weight: 2, arbitrary: fc.string({ maxLength: 6 }).filter((text) => !text.startsWith("--v")) },
    );
    test(`${spec.name}: wherever the fast path reads a command line, commander reads it the same`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(token, { maxLength: 8 }), async (argv) => {
          const fast = viaFastPath(spec, argv);
          const commander = await viaCommander(spec, argv);
          if (!("declined" in fast)) expect(commander).toEqual(fast);
          // The fast path may leave a command line to commander only for the forms it does not read.
          else if ("parsed" in commander || "error" in commander) expect(argv.some(commanderOnlyForm)).toBe(true);
        }),
        { numRuns: 150 },
      );
    });
  }
});

describe("a counted flag", () => {
  const exec = specs.find((spec) => spec.name === "exec")!;
  test.each([
    [[], 0],
    [["-v"], 1],
    [["-vv"], 2],
    [["-vvv"], 3],
    [["-v", "-v"], 2],
    [["--verbose", "-vv"], 3],
  ])("%p counts %p both ways", async (flags, times) => {
    const argv = [...flags, "role=web", "--", "uptime"];
    const fast = viaFastPath(exec, argv);
    expect(fast).toEqual({ parsed: { positionals: ["role=web", "uptime"], options: expect.objectContaining({ verbose: times }) } });
    expect(await viaCommander(exec, argv)).toEqual(fast);
  });
});

describe("resolveOptions", () => {
  const table = defineOptions({
    count: { kind: "integer", value: "n", default: "3", min: 1, max: 9, description: "" },
    runs: { kind: "integer", value: "n", min: 1, description: "" },
    wait: { kind: "duration", value: "duration", default: "1m30s", description: "" },
    format: { kind: "choice", choices: ["text", "json"], default: "text", hint: "e.g. --format json", description: "" },
    name: { kind: "string", value: "name", description: "" },
    tag: { kind: "list", value: "tag", description: "" },
    dryRun: { kind: "boolean", description: "" },
    verbose: { kind: "count", short: "v", description: "" },
  });

  test("applies the table's defaults and types each value by its kind", () => {
    expect(resolveOptions(table, {})).toEqual({ count: 3, runs: undefined, wait: { text: "1m30s", ms: 90_000 }, format: "text", name: undefined, tag: [], dryRun: false, verbose: 0 });
    expect(resolveOptions(table, { count: "9", runs: "12", wait: "250ms", format: "json", name: "n", tag: ["a", "b"], dryRun: true, verbose: 3 })).toEqual({
      count: 9,
      runs: 12,
      wait: { text: "250ms", ms: 250 },
      format: "json",
      name: "n",
      tag: ["a", "b"],
      dryRun: true,
      verbose: 3,
    });
  });

  test.each([
    ["a number out of range", { count: "0" }, "E_USAGE_OPTION", 'invalid --count "0"', "use a whole number from 1 to 9"],
    ["a fraction", { count: "2.5" }, "E_USAGE_OPTION", 'invalid --count "2.5"', "use a whole number from 1 to 9"],
    ["hexadecimal", { count: "0x3" }, "E_USAGE_OPTION", 'invalid --count "0x3"', "use a whole number from 1 to 9"],
    ["an empty number", { runs: "" }, "E_USAGE_OPTION", 'invalid --runs ""', "use a whole number of 1 or more"],
    ["a number past the safe integers", { runs: "99999999999999999999" }, "E_USAGE_OPTION", 'invalid --runs "99999999999999999999"', "use a whole number of 1 or more"],
    ["a bad duration", { wait: "soon" }, "E_DURATION", 'invalid --wait "soon"', 'use a number with a unit, e.g. "500ms", "5s", "1m30s" or "2h"'],
    ["a word not among the choices", { format: "xml" }, "E_USAGE_FORMAT", '--format "xml" is not one of text, json', "e.g. --format json"],
  ])("%s is a usage error (64) naming the flag", (_what, raw, code, message, hint) => {
    try {
      resolveOptions(table, raw);
      throw new Error("expected a usage error");
    } catch (error) {
      expect(isOpsError(error) && { code: error.code, message: error.message, hint: error.hint, exitCode: error.exitCode }).toEqual({ code, message, hint, exitCode: 64 });
    }
  });

  test("the options type follows the table: a default makes a value always present", () => {
    const options: OptionsOf<typeof probeSpec> = parseCommandLine(["u"], specs.find((spec) => spec.name === "probe") as typeof probeSpec)!.options;
    const timeoutMs: number = options.timeout.ms;
    const workers: number | "auto" = options.workers;
    const file: string | undefined = options.file;
    const expectations: string[] = options.expect;
    expect({ timeoutMs, workers, file, expectations, json: options.json }).toEqual({ timeoutMs: 5000, workers: "auto", file: undefined, expectations: [], json: false });
  });
});

describe("startup", () => {
  test.each([
    ["probe", ["probe", "tcp://127.0.0.1:9"]],
    ["exec", ["exec", "--dry-run", "-c", "/nonexistent/opskit.yaml", "local", "--", "true"]],
  ])("opskit %s reads its command line without loading commander", (_name, argv) => {
    const main = new URL("./main.ts", import.meta.url).pathname;
    const script = `const { main } = await import(${JSON.stringify(main)}); await main(${JSON.stringify(argv)}); console.log(JSON.stringify(Object.keys(require.cache).filter((path) => /commander|program\\.ts/.test(path))));`;
    const child = Bun.spawnSync([process.execPath, "-e", script], { stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
    expect(JSON.parse(child.stdout.toString().trim().split("\n").at(-1)!)).toEqual([]);
  });
});
