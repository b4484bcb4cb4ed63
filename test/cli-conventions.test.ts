// Command-line conventions users bring from kubectl and gh, through the
// built executable: usage errors in one style with a hint, commands that take
// no arguments refusing them, Examples in every command's help, `opskit
// version`, OPSKIT_CONFIG and `opskit init`.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import type { CommandSpec } from "../src/cli/options.ts";
import { buildProgram } from "../src/cli/program.ts";
import { runBuilt } from "./harness/binary.ts";

/** Every command's table, as the executable registers them. */
function registeredSpecs(): CommandSpec[] {
  const specs: CommandSpec[] = [];
  const none = async () => 0;
  buildProgram(() => "opskit test", { probe: none }, (spec, handler) => {
    specs.push(spec);
    return handler;
  });
  return specs;
}

const specs = registeredSpecs();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "opskit-conventions-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** opskit's one error style: `opskit: what` then `  hint: how`, nothing of commander's own wording. */
function expectUsageError(run: { code: number; stdout: string; stderr: string }, message: string | RegExp, hint: string | RegExp) {
  expect(run.code).toBe(64);
  expect(run.stdout).toBe("");
  const [first, second, ...rest] = run.stderr.trimEnd().split("\n");
  expect({ first, second, rest }).toEqual({ first: expect.stringMatching(/^opskit: /), second: expect.stringMatching(/^ {2}hint: /), rest: [] });
  expect(first!.slice("opskit: ".length)).toEqual(typeof message === "string" ? message : expect.stringMatching(message));
  expect(second!.slice("  hint: ".length)).toEqual(typeof hint === "string" ? hint : expect.stringMatching(hint));
  expect(run.stderr).not.toMatch(/^error: |\(run with --help/m);
}

describe("usage errors: opskit: what, hint: how, exit 64", () => {
  test.each([
    ["an unknown option", ["probe", "--bogus", "http://127.0.0.1:9/"], "unknown option '--bogus'", "usage: opskit probe [options] [targets...]; see opskit probe --help"],
    ["a mistyped option", ["inventory", "--jsn"], "unknown option '--jsn'", "did you mean --json? usage: opskit inventory [options] [selector...]; see opskit inventory --help"],
    ["an option without its value", ["probe", "http://127.0.0.1:9/", "--timeout"], "--timeout needs a value (duration)", "usage: opskit probe [options] [targets...]; see opskit probe --help"],
    ["a missing argument", ["run"], "missing required argument 'workflow'", "usage: opskit run [options] <workflow>; see opskit run --help"],
    ["a word not among the choices", ["audit", "--fail-on", "info"], '--fail-on "info" is not one of error, warning, never', "e.g. --fail-on warning"],
    ["a bad -o", ["inventory", "-o", "xml"], '--output "xml" is not one of text, json, yaml', "e.g. -o json; shapes: docs/output.md"],
    ["an unknown command", ["probes"], "unknown command 'probes'", /^did you mean probe\? commands: probe, run, exec, .*; see opskit --help$/],
    ["a hidden command is not suggested", ["demo-servic"], "unknown command 'demo-servic'", /^commands: (?!.*demo-service).*; see opskit --help$/],
    ["a shell with no completion", ["completion", "tcsh"], 'no completion for shell "tcsh"', "use one of bash, zsh, fish, e.g. source <(opskit completion bash)"],
  ])("%s", async (_what, argv, message, hint) => {
    expectUsageError(await runBuilt(argv, { cwd: dir }), message, hint);
  });

  test("--json and -o disagreeing is a usage error (JSON, as --json asks)", async () => {
    const run = await runBuilt(["version", "--json", "-o", "text"], { cwd: dir });
    expect(run).toEqual({ code: 64, stdout: "", stderr: expect.any(String) });
    expect(JSON.parse(run.stderr)).toEqual({ type: "error", code: "E_USAGE_OUTPUT_CONFLICT", message: "--json and -o text ask for different output", hint: "give one of them: --json is -o json" });
  });

  test("with -o json the usage error is a JSON object on stderr", async () => {
    const run = await runBuilt(["inventory", "-o", "json", "--bogus"], { cwd: dir });
    expect(run.code).toBe(64);
    expect(JSON.parse(run.stderr)).toEqual({ type: "error", code: "E_USAGE_UNKNOWN_OPTION", message: "unknown option '--bogus'", hint: "usage: opskit inventory [options] [selector...]; see opskit inventory --help" });
  });

  const takeNone = specs.filter((spec) => !spec.argument).map((spec) => spec.name);
  test("the commands that take no arguments are the ones expected", () => {
    expect(takeNone).toEqual(expect.arrayContaining(["serve", "demo", "mttr", "schedules", "pause", "resume", "agent", "version", "init"]));
  });

  test.each(takeNone)("opskit %s refuses a stray argument, naming its usage", async (name) => {
    // A refused command line runs nothing: the demo would otherwise start its services.
    expectUsageError(await runBuilt([name, "extra"], { cwd: dir, timeoutMs: 20_000 }), `opskit ${name} takes no arguments`, `usage: opskit ${name} [options]; see opskit ${name} --help`);
  });
});

describe("help", () => {
  test("every command has examples", () => {
    for (const spec of specs) expect({ name: spec.name, examples: spec.examples.length }).toEqual({ name: spec.name, examples: expect.any(Number) });
    expect(specs.filter((spec) => spec.examples.length === 0).map((spec) => spec.name)).toEqual([]);
  });

  test.each(specs.map((spec) => [spec.name, spec] as const))("opskit %s --help ends with its Examples", async (name, spec) => {
    const run = await runBuilt([name, "--help"], { cwd: dir });
    expect(run.code).toBe(0);
    const examples = run.stdout.slice(run.stdout.indexOf("\nExamples:\n"));
    expect(examples).toStartWith("\nExamples:\n");
    for (const example of spec.examples) expect(examples).toContain(`  # ${example.text}\n  ${example.command}\n`);
  });
});

describe("opskit version", () => {
  test("prints the --version line; -o json, --json and -o yaml give its fields", async () => {
    const line = await runBuilt(["--version"]);
    const version = await runBuilt(["version"]);
    expect(version).toEqual({ code: 0, stdout: line.stdout, stderr: "" });
    const json = await runBuilt(["version", "-o", "json"]);
    const fields = JSON.parse(json.stdout);
    expect(fields).toEqual({ version: expect.stringMatching(/^\d+\.\d+\.\d+/), commit: expect.stringMatching(/^[0-9a-f]{7,}(-dirty)?$/), bun: Bun.version, platform: process.platform, arch: process.arch });
    expect(line.stdout).toBe(`opskit ${fields.version} (${fields.commit}) bun ${fields.bun} ${fields.platform}-${fields.arch}\n`);
    expect(JSON.parse((await runBuilt(["version", "--json"])).stdout)).toEqual(fields);
    expect(JSON.parse((await runBuilt(["version", "--json", "-o", "json"])).stdout)).toEqual(fields);
    expect(parseAllDocuments((await runBuilt(["version", "-o", "yaml"])).stdout).map((doc) => doc.toJS())).toEqual([fields]);
  });
});

describe("OPSKIT_CONFIG", () => {
  const config = (host: string) => `inventory:\n  hosts:\n    ${host}: { address: 192.0.2.1 }\n`;
  const names = (stdout: string) => stdout.trim().split("\n").map((line) => JSON.parse(line).name);

  test("names the config when -c is not given; -c wins over it", async () => {
    await mkdir(join(dir, "env-config"), { recursive: true });
    await mkdir(join(dir, "flag-config"), { recursive: true });
    await writeFile(join(dir, "env-config", "opskit.yaml"), config("from-env"));
    await writeFile(join(dir, "flag-config", "opskit.yaml"), config("from-flag"));
    const env = { OPSKIT_CONFIG: join(dir, "env-config") };
    const viaEnv = await runBuilt(["inventory", "--json"], { cwd: "/", env });
    expect(viaEnv.code).toBe(0);
    expect(names(viaEnv.stdout)).toEqual(["from-env"]);
    expect(names((await runBuilt(["inventory", "--json", "-c", join(dir, "flag-config")], { cwd: "/", env })).stdout)).toEqual(["from-flag"]);
    expect((await runBuilt(["validate"], { cwd: "/", env })).stdout).toContain("env-config/opskit.yaml");
  });

  test("a config it names that is missing is an error, not the current directory's", async () => {
    await writeFile(join(dir, "opskit.yaml"), config("from-cwd"));
    const run = await runBuilt(["inventory"], { cwd: dir, env: { OPSKIT_CONFIG: join(dir, "nowhere") } });
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain(join(dir, "nowhere"));
    await rm(join(dir, "opskit.yaml"));
  });
});

describe("opskit init", () => {
  const sshConfig = [
    "Host *",
    "  ServerAliveInterval 30",
    "Host bastion",
    "  HostName bastion.example.com",
    "  User ops",
    "Host web-1 web-2",
    "  HostName=10.0.0.5",
    "  Port 2222",
    "Host db-? !db-0",
    "  User postgres",
    "Match host web-1",
    "  User nobody",
    "",
  ].join("\n");

  test("with ~/.ssh/config: its concrete hosts, a check, a workflow and a rule that opskit validate accepts", async () => {
    const home = join(dir, "home-ssh");
    const work = join(dir, "work-ssh");
    await mkdir(join(home, ".ssh"), { recursive: true });
    await mkdir(work, { recursive: true });
    await writeFile(join(home, ".ssh", "config"), sshConfig);
    const env = { HOME: home };
    const init = await runBuilt(["init"], { cwd: work, env });
    expect(init).toEqual({ code: 0, stdout: `wrote ${join(work, "opskit.yaml")} (3 hosts from ~/.ssh/config); next: opskit validate\n`, stderr: "" });
    const text = await readFile(join(work, "opskit.yaml"), "utf8");
    expect(text).toMatch(/^# /);
    const validate = await runBuilt(["validate"], { cwd: work, env });
    expect(validate).toEqual({ code: 0, stdout: "ok: 3 hosts, 1 workflow, 1 rule, 1 check (opskit.yaml)\n", stderr: "" });
    const inventory = await runBuilt(["inventory", "-o", "json"], { cwd: work, env });
    const targets = inventory.stdout.trim().split("\n").map((line) => JSON.parse(line));
    expect(targets.map((t) => [t.name, t.address, t.port, t.user])).toEqual([
      ["bastion", "bastion.example.com", 22, "ops"],
      ["web-1", "10.0.0.5", 2222, expect.any(String)],
      ["web-2", "10.0.0.5", 2222, expect.any(String)],
    ]);
  });

  test("without an ssh config: an example host; it refuses to overwrite, --force replaces, -c names the directory", async () => {
    const home = join(dir, "home-bare");
    const work = join(dir, "work-bare");
    await mkdir(home, { recursive: true });
    await mkdir(work, { recursive: true });
    const env = { HOME: home };
    expect((await runBuilt(["init", "-c", work], { cwd: "/", env })).code).toBe(0);
    expect(await runBuilt(["validate", "-c", work], { cwd: "/", env })).toEqual({ code: 0, stdout: expect.stringMatching(/^ok: 1 host, 1 workflow, 1 rule, 1 check /), stderr: "" });
    await writeFile(join(work, "opskit.yaml"), "# mine\n");
    expectUsageError(await runBuilt(["init"], { cwd: work, env }), `${join(work, "opskit.yaml")} already exists`, "keep it, or replace it with opskit init --force");
    expect(await readFile(join(work, "opskit.yaml"), "utf8")).toBe("# mine\n");
    expect((await runBuilt(["init", "--force"], { cwd: work, env })).code).toBe(0);
    expect(await readFile(join(work, "opskit.yaml"), "utf8")).toContain("web-1: { address: 192.0.2.10");
    expect((await runBuilt(["validate"], { cwd: work, env })).code).toBe(0);
  });
});
