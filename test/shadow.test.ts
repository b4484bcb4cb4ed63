import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBuilt } from "./harness/binary.ts";
import { runOpskit, type CliResult } from "./harness/cli.ts";

// `opskit shadow` compares local commands and workflows and reports from the
// journal; a workflow's `shadow:` declaration compares its runs with the
// legacy script and falls back to it. Everything runs on this machine.
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "opskit-shadow-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// Through the executable users install: the diff comes from the bundled jsdiff.
const shadow = (args: string[], journal: string): Promise<CliResult> => runBuilt(["shadow", ...args, "--journal", journal], { cwd: dir });

const jsonLines = (stdout: string) => stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, any>);
const freshJournal = () => join(dir, `journal-${crypto.randomUUID().slice(0, 8)}.db`);

describe("opskit shadow NAME", () => {
  test("equal outputs agree and exit 0", async () => {
    const run = await shadow(["report-a", "--legacy", "printf 'a\\nb\\n'", "--candidate", "printf 'a  \\nb'"], freshJournal());
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^\[1\] agree · legacy exit 0 in .+ · candidate exit 0 in .+$/m);
    expect(run.stdout).toContain("shadow report-a: 1 run · 1 agreed · 0 differed · 0 could not run");
  });

  test("unequal outputs exit 2 and show a unified diff of the normalized outputs", async () => {
    const run = await shadow(["report-b", "--legacy", "printf 'host web-1 ok\\nhost web-2 ok\\n'", "--candidate", "printf 'host web-1 ok\\nhost web-2 FULL\\n'"], freshJournal());
    expect(run.code).toBe(2);
    expect(run.stdout).toContain("[1] DIFFER (stdout)");
    expect(run.stdout).toContain(["    --- legacy", "    +++ candidate", "    @@ -1,2 +1,2 @@", "     host web-1 ok", "    -host web-2 ok", "    +host web-2 FULL"].join("\n"));
  });

  test("--normalize makes timestamps and durations equal on both sides", async () => {
    const journal = freshJournal();
    const legacy = "echo 'checked at 2026-11-25T10:00:00.123Z in 120ms'";
    const candidate = "echo 'checked at 2026-11-25T10:00:04Z in 7ms'";
    expect((await shadow(["ts", "--legacy", legacy, "--candidate", candidate], journal)).code).toBe(2);
    const normalized = await shadow(["ts", "--legacy", legacy, "--candidate", candidate, "--normalize", "\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z=>TS", "--normalize", "\\d+ms=>DURATION"], journal);
    expect(normalized.code).toBe(0);
  });

  test("--compare json ignores key order and formatting, not array order", async () => {
    const journal = freshJournal();
    const same = await shadow(["inv", "--compare", "json", "--legacy", `echo '{"hosts":["a","b"],"count":2}'`, "--candidate", `printf '{\\n  "count": 2,\\n  "hosts": ["a", "b"]\\n}\\n'`], journal);
    expect(same.code).toBe(0);
    const reordered = await shadow(["inv", "--compare", "json", "--json", "--legacy", `echo '{"hosts":["a","b"]}'`, "--candidate", `echo '{"hosts":["b","a"]}'`], journal);
    expect(reordered.code).toBe(2);
    const [comparison] = jsonLines(reordered.stdout);
    expect(comparison).toMatchObject({ type: "comparison", equal: false, differs: ["json"] });
    expect(comparison!.diff).toContain('-    "a",');
  });

  test("--compare exit looks at exit codes only", async () => {
    const journal = freshJournal();
    expect((await shadow(["ex", "--compare", "exit", "--legacy", "echo one; exit 3", "--candidate", "echo two; exit 3"], journal)).code).toBe(0);
    const differ = await shadow(["ex", "--compare", "exit", "--json", "--legacy", "echo same; exit 3", "--candidate", "echo same"], journal);
    expect(differ.code).toBe(2);
    expect(jsonLines(differ.stdout)[0]).toMatchObject({ differs: ["exit"], candidateFailed: false, legacy: { exitCode: 3 }, candidate: { exitCode: 0 }, diff: "" });
  });

  test("--runs 3 compares three times, one after the other, and records each", async () => {
    const journal = freshJournal();
    const counter = join(dir, `counter-${crypto.randomUUID().slice(0, 8)}`);
    // The candidate disagrees on its second run only.
    const candidate = `n=$(cat ${counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${counter}; if [ $n = 2 ]; then echo drift; else echo steady; fi`;
    const run = await shadow(["runs", "--runs", "3", "--json", "--legacy", "echo steady", "--candidate", candidate], journal);
    expect(run.code).toBe(2);
    const lines = jsonLines(run.stdout);
    expect(lines.filter((l) => l.type === "comparison").map((l) => [l.run, l.equal])).toEqual([
      [1, true],
      [2, false],
      [3, true],
    ]);
    expect(lines.at(-1)).toEqual({ type: "summary", name: "runs", runs: 3, agreed: 2, differed: 1, couldNotRun: 0, exitCode: 2 });

    const report = await shadow(["report", "runs"], journal);
    expect(report.code).toBe(0);
    expect(report.stdout).toContain("runs: 3 comparisons (cli 3) · 66.7% agree · 1 mismatched · 0 candidate failures");
    expect(report.stdout).toContain("    -steady\n");
    const [entry] = jsonLines((await shadow(["report", "runs", "--json"], journal)).stdout);
    expect(entry).toMatchObject({ type: "shadow", name: "runs", comparisons: 3, agreed: 2, mismatched: 1, fallenBack: false });
    expect(entry!.agreementRate).toBeCloseTo(2 / 3, 9);
    expect(entry!.latestMismatches).toHaveLength(1);
  });

  test("a side that times out could not run: exit 1, its process group killed", async () => {
    const started = performance.now();
    const run = await shadow(["slow", "--timeout", "300ms", "--legacy", "echo ok", "--candidate", "sleep 30 & sleep 30; echo late"], freshJournal());
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^\[1\] COULD NOT RUN · legacy exit 0 .* · candidate could not run \(command timed out after 300ms\) after \d+ms$/m);
    expect(performance.now() - started).toBeLessThan(15_000);
  });

  test("usage errors: no candidate, unknown aspect", async () => {
    expect((await shadow(["x", "--legacy", "true"], freshJournal())).code).toBe(64);
    expect((await shadow(["x", "--legacy", "true", "--candidate", "true", "--compare", "stderr"], freshJournal())).stderr).toContain('invalid --compare "stderr"');
  });
});

/** A config with one workflow `w` whose last step is compared with `legacy`. */
async function writeConfig(shadowBlock: string, step = "exec: echo candidate-out"): Promise<string> {
  const file = join(dir, `opskit-${crypto.randomUUID().slice(0, 8)}.yaml`);
  await writeFile(file, ["workflows:", "  w:", "    steps:", "      - { name: prepare, exec: 'true' }", `      - { name: report, ${step} }`, shadowBlock].join("\n"));
  return file;
}

async function runWorkflow(config: string, journal: string) {
  const run = await runOpskit(["run", "w", "-c", config, "--journal", journal, "--json"], { cwd: dir });
  const lines = jsonLines(run.stdout);
  const report = lines.find((l) => l.type === "step.finished" && l.name === "report");
  return { ...run, report, notes: lines.filter((l) => l.type === "shadow") };
}

describe("a workflow with a shadow declaration", () => {
  test("with share 100% and a disagreeing candidate it falls back after minComparisons; the next run's step is the legacy's; reset returns", async () => {
    const journal = freshJournal();
    const config = await writeConfig(["    shadow:", "      legacy: echo legacy-out", "      share: 100%", "      maxMismatch: 2%", "      minComparisons: 3"].join("\n"));
    for (let i = 1; i <= 3; i++) {
      const run = await runWorkflow(config, journal);
      expect(run.code).toBe(0);
      expect(run.report!.result.stdout).toBe("candidate-out\n");
      expect(run.notes[0]).toMatchObject({ status: "compared", step: "report", compared: 1, agreed: 0 });
      expect(run.notes.some((n) => n.status === "fell_back")).toBe(i === 3);
    }
    const fallen = await runWorkflow(config, journal);
    expect(fallen.code).toBe(0);
    expect(fallen.notes).toEqual([expect.objectContaining({ status: "fallen_back", reason: "mismatch rate 100% (3 of 3 comparisons) exceeds maxMismatch 2%" })]);
    expect(fallen.report!.result.stdout).toBe("legacy-out\n");
    expect(fallen.report!.description).toBe("legacy (fallback): echo legacy-out");
    expect(fallen.report!.action).toBe("exec");

    const report = await shadow(["report", "w"], journal);
    expect(report.stdout).toContain("w: 3 comparisons (workflow 3) · 0% agree · 3 mismatched");
    expect(report.stdout).toMatch(/FALLEN BACK since .*: mismatch rate 100% \(3 of 3 comparisons\) exceeds maxMismatch 2%/);
    expect(report.stdout).toContain("-legacy-out\n      +candidate-out");
    const text = await runOpskit(["run", "w", "-c", config, "--journal", journal], { cwd: dir });
    expect(text.stdout).toContain("shadow: w has fallen back since");

    const reset = await shadow(["reset", "w"], journal);
    expect(reset.code).toBe(0);
    expect(reset.stdout).toContain("shadow w: fallback cleared (mismatch rate 100%");
    const after = await runWorkflow(config, journal);
    expect(after.report!.result.stdout).toBe("candidate-out\n");
    expect(after.notes.map((n) => n.status)).toEqual(["compared"]);
    const [entry] = jsonLines((await shadow(["report", "w", "--json"], journal)).stdout);
    expect(entry).toMatchObject({ comparisons: 4, fallenBack: false, resetAt: expect.any(String) });
  });

  test("an agreeing candidate never falls back; normalize and compare come from the declaration", async () => {
    const journal = freshJournal();
    const config = await writeConfig(
      ["    shadow:", "      legacy: \"echo '{\\\"b\\\": 1, \\\"a\\\": \\\"run 17\\\"}'\"", "      minComparisons: 1", "      compare: [json]", "      normalize: [{ pattern: 'run \\d+', replace: RUN }]"].join("\n"),
      `exec: "echo '{\\"a\\":\\"run 4\\",\\"b\\":1}'"`,
    );
    for (let i = 0; i < 2; i++) {
      const run = await runWorkflow(config, journal);
      expect(run.stderr).toBe("");
      expect(run.notes).toEqual([expect.objectContaining({ status: "compared", compared: 1, agreed: 1 })]);
    }
    const [entry] = jsonLines((await shadow(["report", "--json"], journal)).stdout);
    expect(entry).toMatchObject({ name: "w", comparisons: 2, agreed: 2, agreementRate: 1, fallenBack: false });
  });

  test("a retried step is compared once, on the attempt whose result it keeps", async () => {
    const journal = freshJournal();
    const counter = join(dir, `attempts-${crypto.randomUUID().slice(0, 8)}`);
    const flaky = `n=$(cat ${counter} 2>/dev/null || echo 0); echo $((n+1)) > ${counter}; [ $n -ge 1 ] && echo same`;
    const config = await writeConfig(["    shadow:", "      legacy: echo same"].join("\n"), `exec: '${flaky}', retries: { attempts: 3, backoff: 10ms }`);
    const run = await runWorkflow(config, journal);
    expect(run.code).toBe(0);
    expect(run.report!.attempts).toBe(2);
    expect(run.notes).toEqual([expect.objectContaining({ status: "compared", compared: 1, agreed: 1 })]);
  });

  test("share 0% runs no legacy command and records nothing", async () => {
    const journal = freshJournal();
    const config = await writeConfig(["    shadow:", "      legacy: echo legacy-out", "      share: 0%"].join("\n"));
    const run = await runWorkflow(config, journal);
    expect(run.code).toBe(0);
    expect(run.notes).toEqual([]);
    expect((await shadow(["report"], journal)).stdout).toContain("no shadow comparisons in");
  });

  test("opskit shadow with --candidate workflow:NAME compares the workflow's compared step and records its run", async () => {
    const journal = freshJournal();
    const config = await writeConfig("");
    const run = await shadow(["wf", "-c", config, "--json", "--legacy", "echo candidate-out", "--candidate", "workflow:w"], journal);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const [comparison] = jsonLines(run.stdout);
    const runId: string = comparison!.candidate.runId;
    expect(comparison).toMatchObject({ equal: true, candidate: { exitCode: 0 } });
    const shown = await runOpskit(["runs", "show", runId, "--journal", journal]);
    expect(shown.stderr).toBe("");
    expect(shown.code).toBe(0);
  });

  test("a shadow step that names no step, or a bad normalize pattern, is a config error", async () => {
    const config = await writeConfig(["    shadow:", "      legacy: echo x", "      step: nope"].join("\n"));
    const run = await runOpskit(["run", "w", "-c", config, "--journal", freshJournal()], { cwd: dir });
    expect(run.code).toBe(65);
    expect(run.stderr).toContain('has no step "nope"');
    const pattern = await writeConfig(["    shadow:", "      legacy: echo x", "      normalize: [{ pattern: '(' }]"].join("\n"));
    const bad = await runOpskit(["run", "w", "-c", pattern, "--journal", freshJournal()], { cwd: dir });
    expect(bad.code).toBe(65);
    expect(bad.stderr).toMatch(/opskit-.*\.yaml:\d+:\d+: invalid regular expression "\("/);
  });
});
