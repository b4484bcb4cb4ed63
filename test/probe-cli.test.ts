import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseJsonLines, repoRoot, runOpskit } from "./harness/cli.ts";
import { startHttpServer } from "./harness/http.ts";
import { refusedPort } from "./harness/net.ts";

let http: Server<undefined>;
let base: string;
let dir: string;
let refused: number;

beforeAll(async () => {
  http = startHttpServer();
  base = `http://127.0.0.1:${http.port}`;
  dir = await mkdtemp(join(tmpdir(), "opskit-cli-"));
  refused = await refusedPort();
});

afterAll(() => {
  http.stop(true);
});

describe("usage errors exit 64 with a hint", () => {
  test.each([
    ["127.0.0.1:8080", "has no scheme"],
    ["ftp://127.0.0.1/", 'unknown scheme "ftp://"'],
    ["http://", "not a valid URL"],
  ])("malformed target %p", async (target, message) => {
    const run = await runOpskit(["probe", target]);
    expect(run.code).toBe(64);
    expect(run.stderr).toContain(message);
    expect(run.stderr).toContain("hint:");
    expect(run.stdout).toBe("");
  });

  test("no targets at all", async () => {
    const run = await runOpskit(["probe"]);
    expect(run.code).toBe(64);
    expect(run.stderr).toContain("no targets given");
  });

  test.each([
    ["--timeout", "soon", 'invalid --timeout "soon"'],
    ["--concurrency", "0", 'invalid --concurrency "0"'],
    ["--retries", "-1", 'invalid --retries "-1"'],
  ])("bad option %s %s", async (option, value, message) => {
    const run = await runOpskit(["probe", `${base}/ok`, option, value]);
    expect(run.code).toBe(64);
    expect(run.stderr).toContain(message);
  });

  test("an unknown option is a usage error in opskit's words, with the command's usage as the hint", async () => {
    const run = await runOpskit(["probe", "--bogus", `${base}/ok`]);
    expect(run.code).toBe(64);
    expect(run.stderr).toBe("opskit: unknown option '--bogus'\n  hint: usage: opskit probe [options] [targets...]; see opskit probe --help\n");
  });

  test("a CEL syntax error points at the column", async () => {
    const run = await runOpskit(["probe", `${base}/ok`, "--expect", "status == 200 &&"]);
    expect(run.code).toBe(64);
    expect(run.stderr).toContain("--expect #1: invalid expression");
    expect(run.stderr).toContain("  status == 200 &&\n");
    expect(run.stderr).toMatch(/\n\s+\^ .*\(column \d+\)/);
  });

  test("a CEL expression naming an unknown variable lists what is available", async () => {
    const run = await runOpskit(["probe", `${base}/ok`, "--expect", "stauts == 200"]);
    expect(run.code).toBe(64);
    expect(run.stderr).toContain('unknown name "stauts"');
    expect(run.stderr).toContain("available: status, duration, timing");
  });

  test("--json reports a usage error as a JSON object on stderr", async () => {
    const run = await runOpskit(["probe", "--json", "nope"]);
    expect(run.code).toBe(64);
    expect(JSON.parse(run.stderr.trim())).toMatchObject({ type: "error", code: "E_TARGET_SCHEME" });
  });
});

describe("output", () => {
  test("one line per target with verdict, name, status, total, slowest phase and reason, then a summary", async () => {
    const run = await runOpskit(["probe", `${base}/ok`, `${base}/status/500`, `tcp://127.0.0.1:${refused}`]);
    expect(run.code).toBe(1);
    const lines = run.stdout.trimEnd().split("\n");
    const ok = lines.find((l) => l.startsWith("HEALTHY"))!;
    expect(ok).toMatch(new RegExp(`^HEALTHY\\s+${base}/ok\\s+200\\s+[\\d.]+m?s\\s+\\w+ [\\d.]+m?s`));
    expect(lines.find((l) => l.startsWith("UNHEALTHY"))).toContain("status 500");
    expect(lines.find((l) => l.startsWith("DOWN"))).toContain("failed in connect: connection refused");
    expect(lines).toContain("failures:");
    expect(lines.at(-1)).toMatch(/^3 targets: 1 healthy, 1 unhealthy, 1 down in [\d.]+m?s$/);
  });

  test("no colour codes when stdout is not a terminal, even without NO_COLOR", async () => {
    const run = await runOpskit(["probe", `${base}/ok`, `${base}/status/500`], { env: { NO_COLOR: "" } });
    expect(run.stdout).not.toContain("\x1b[");
  });

  test("--quiet prints only failures and the summary", async () => {
    const run = await runOpskit(["probe", "-q", `${base}/ok`, `${base}/status/500`]);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines.filter((l) => l.startsWith("HEALTHY"))).toHaveLength(0);
    expect(lines.filter((l) => l.startsWith("UNHEALTHY"))).toHaveLength(1);
    expect(run.stdout.trimEnd().split("\n").at(-1)).toStartWith("2 targets:");
  });

  test("the worst exit code wins: unreachable over unhealthy over healthy", async () => {
    expect((await runOpskit(["probe", `${base}/ok`, `${base}/ok`])).code).toBe(0);
    expect((await runOpskit(["probe", `${base}/ok`, `${base}/status/500`])).code).toBe(2);
    expect((await runOpskit(["probe", `${base}/status/500`, `tcp://127.0.0.1:${refused}`, `${base}/ok`])).code).toBe(1);
  });

  test("--junit writes a report with a testcase per target, failures and errors apart", async () => {
    const file = join(dir, "report.xml");
    const run = await runOpskit(["probe", `${base}/ok`, `${base}/status/503`, `tcp://127.0.0.1:${refused}`, "--junit", file]);
    expect(run.code).toBe(1);
    const xml = await Bun.file(file).text();
    expect(xml).toStartWith('<?xml version="1.0" encoding="UTF-8"?>');
    expect(xml).toContain('<testsuites name="opskit probe" tests="3" failures="1" errors="1"');
    expect(xml.match(/<testcase /g)).toHaveLength(3);
    expect(xml).toMatch(/<failure message="status 503 Service Unavailable" type="E_UNHEALTHY">/);
    expect(xml).toMatch(/<error message="failed in connect: connection refused" type="E_CONN_REFUSED">/);
    expect(xml).toContain(`classname="opskit.probe.tcp"`);
  });

  test("--version prints the version and the git commit", async () => {
    const run = await runOpskit(["--version"]);
    expect(run.code).toBe(0);
    const commit = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: repoRoot }).stdout.toString().trim();
    expect(run.stdout).toStartWith(`opskit 0.1.0 (${commit}`);
  });
});

describe("target files", () => {
  test("a plain file holds one target per line, with comments and blank lines", async () => {
    const file = join(dir, "targets.txt");
    await writeFile(file, `# web tier\n${base}/ok\n\n${base}/json   # the JSON endpoint\n`);
    const run = await runOpskit(["probe", "--json", "-f", file]);
    expect(run.code).toBe(0);
    expect(parseJsonLines(run.stdout).results.map((r) => r.target).sort()).toEqual([`${base}/json`, `${base}/ok`]);
  });

  test("a YAML file carries per-target names, labels and expectations, plus defaults", async () => {
    const file = join(dir, "targets.yaml");
    await writeFile(
      file,
      [
        "defaults:",
        "  labels: { team: core }",
        "targets:",
        `  - url: ${base}/json`,
        "    name: api",
        "    labels: { tier: web }",
        "    expect: ['body.json.status == \"UP\"', 'labels.tier == \"web\"']",
        `  - url: ${base}/status/418`,
        "    name: teapot",
        "    expect: status == 418",
        `  - ${base}/ok`,
      ].join("\n"),
    );
    const run = await runOpskit(["probe", "--json", "-f", file]);
    expect(run.code).toBe(0);
    const { results } = parseJsonLines(run.stdout);
    const api = results.find((r) => r.name === "api")!;
    expect(api.labels).toEqual({ team: "core", tier: "web" });
    expect(api.expectations).toHaveLength(2);
    expect(results.find((r) => r.name === "teapot")!.status).toBe(418);
  });

  test("a YAML error names file:line:col and the fix", async () => {
    const file = join(dir, "bad.yaml");
    await writeFile(file, ["targets:", `  - url: ${base}/ok`, "    timeout: 5s", "    expct: status == 200"].join("\n"));
    const run = await runOpskit(["probe", "-f", file]);
    expect(run.code).toBe(65);
    expect(run.stderr).toContain(`${file}:2:5`);
    expect(run.stderr).toContain('remove or rename "expct"');
  });

  test("a bad target inside a file names its line", async () => {
    const file = join(dir, "bad.txt");
    await writeFile(file, `${base}/ok\nnot-a-url\n`);
    const run = await runOpskit(["probe", "-f", file]);
    expect(run.code).toBe(64);
    expect(run.stderr).toContain(`${file}:2: target "not-a-url" has no scheme`);
  });

  test("targets can come from stdin", async () => {
    const run = await runOpskit(["probe", "-f", "-", "--json"], { stdin: `${base}/ok\n` });
    expect(run.code).toBe(0);
    expect(parseJsonLines(run.stdout).summary).toMatchObject({ targets: 1, healthy: 1 });
  });
});

describe("fleets", () => {
  test("1,000 targets with mixed outcomes are counted exactly in the summary", async () => {
    const lines: string[] = [];
    for (let i = 0; i < 600; i++) lines.push(`${base}/ok?i=${i}`);
    for (let i = 0; i < 250; i++) lines.push(`${base}/status/500?i=${i}`);
    for (let i = 0; i < 150; i++) lines.push(`tcp://127.0.0.1:${refused}?i=${i}`);
    const file = join(dir, "fleet.txt");
    await writeFile(file, lines.join("\n"));
    const run = await runOpskit(["probe", "--json", "-f", file, "--concurrency", "64"]);
    expect(run.code).toBe(1);
    const { results, summary } = parseJsonLines(run.stdout);
    expect(results).toHaveLength(1000);
    expect(new Set(results.map((r) => r.target)).size).toBe(1000);
    expect(summary).toMatchObject({ targets: 1000, healthy: 600, unhealthy: 250, down: 150, interrupted: 0, notStarted: 0, exitCode: 1 });
  });

  test("probes shared over worker threads give the same complete results", async () => {
    const lines: string[] = [];
    for (let i = 0; i < 300; i++) lines.push(`${base}/ok?w=${i}`);
    for (let i = 0; i < 100; i++) lines.push(`${base}/status/503?w=${i}`);
    for (let i = 0; i < 50; i++) lines.push(`tcp://127.0.0.1:${refused}?w=${i}`);
    const file = join(dir, "sharded.txt");
    await writeFile(file, lines.join("\n"));
    const junit = join(dir, "sharded.xml");
    const run = await runOpskit(["probe", "--json", "-f", file, "--workers", "2", "--concurrency", "32", "--junit", junit]);
    expect(run.code).toBe(1);
    const { results, summary } = parseJsonLines(run.stdout);
    expect(new Set(results.map((r) => r.target)).size).toBe(450);
    expect(summary).toMatchObject({ targets: 450, healthy: 300, unhealthy: 100, down: 50, notStarted: 0 });
    expect((await Bun.file(junit).text()).match(/<testcase /g)).toHaveLength(450);
  });

  test("a result is the same line, field for field and in order, whichever thread probed it", async () => {
    const lines = [`${base}/ok`, `${base}/json`, `${base}/status/503`, `tcp://127.0.0.1:${refused}`].flatMap((url) => Array.from({ length: 3 }, (_, i) => `${url}${url.startsWith("tcp") ? "?" : url.includes("?") ? "&" : "?"}t=${i}`));
    const file = join(dir, "threads.txt");
    await writeFile(file, lines.join("\n"));
    // What differs from one probe to the next: times, and the Date header.
    const stable = (stdout: string) =>
      parseJsonLines(stdout)
        .results.map((r) => {
          const { at: _at, startedAt: _started, timings: _timings, attempts, ...rest } = r;
          if (rest.http) delete rest.http.headers.date;
          return JSON.stringify({ ...rest, attempts: attempts.map(({ startedAt: _s, timings: _t, ...a }: Record<string, unknown>) => a) });
        })
        .sort();
    const [one, two] = await Promise.all([
      runOpskit(["probe", "--json", "-f", file, "--workers", "1"]),
      runOpskit(["probe", "--json", "-f", file, "--workers", "2"]),
    ]);
    expect(stable(one.stdout)).toHaveLength(12);
    expect(stable(two.stdout)).toEqual(stable(one.stdout));
  });

  test.each([["in one thread", []], ["over two worker threads", ["--workers", "2"]]])("Ctrl-C stops cleanly %s: finished results stay, the rest is counted, exit 130", async (_how, extra) => {
    const file = join(dir, "slow.txt");
    const lines = [`${base}/ok`];
    for (let i = 0; i < 40; i++) lines.push(`${base}/slow?ms=20000&i=${i}`);
    await writeFile(file, lines.join("\n"));
    const child = Bun.spawn([process.execPath, `${repoRoot}src/cli/main.ts`, "probe", "--json", "-f", file, "--concurrency", "8", "--timeout", "30s", ...extra], {
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, NO_COLOR: "1" },
    });
    // Interrupt once the fast target's result is out, so it has finished.
    const reader = child.stdout.getReader();
    let stdout = "";
    while (!stdout.includes('"type":"result"')) {
      const chunk = await reader.read();
      if (chunk.done) break;
      stdout += new TextDecoder().decode(chunk.value);
    }
    const started = performance.now();
    child.kill("SIGINT");
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) stdout += new TextDecoder().decode(chunk.value);
    const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(code).toBe(130);
    expect(stderr).toContain("interrupted");
    const { results, summary } = parseJsonLines(stdout);
    expect(results.filter((r) => r.verdict === "healthy")).toHaveLength(1);
    expect(summary).toMatchObject({ targets: 41, healthy: 1, exitCode: 130 });
    expect(summary!.interrupted + summary!.notStarted).toBe(40);
  });
});
