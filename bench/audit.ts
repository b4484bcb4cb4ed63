// opskit audit over the Debian corpus (this machine's maintainer scripts and
// the shell scripts in /usr/bin and /usr/sbin): lines per second of opskit's
// own rules (goal: at least 50,000), and the wall time of a full audit with
// and without ShellCheck beside ShellCheck alone on the same shell files, the
// anchor. Standalone: node_modules/.bin/bun bench/audit.ts [--runs N]
// (exit 0 when the goal is met, 1 when not or when there is no corpus).
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { classify, countLines, registry, runAudit, type AuditContext, type SourceFile } from "../src/audit/index.ts";
import type { BenchResult } from "./report.ts";

const goalLinesPerSecond = 50_000;

function corpusFiles(): string[] {
  const list = (dir: string) => {
    try {
      return readdirSync(dir).sort().map((name) => join(dir, name));
    } catch {
      return [];
    }
  };
  const files = list("/var/lib/dpkg/info").filter((f) => /\.(postinst|prerm|postrm)$/.test(f));
  // A script linked under several names counts once.
  const seen = new Set<string>();
  for (const path of [...list("/usr/bin"), ...list("/usr/sbin")]) {
    try {
      const real = realpathSync(path);
      if (!statSync(real).isFile() || seen.has(real)) continue;
      seen.add(real);
    } catch {
      continue;
    }
    if (classify(path)?.language === "shell") files.push(path);
  }
  return files;
}

const median = (values: number[]) => values.slice().sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const thousands = (n: number) => Math.round(n).toLocaleString("en-US");

async function timed(what: () => Promise<unknown>, times: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    await what();
    samples.push(performance.now() - started);
  }
  return median(samples);
}

/** ShellCheck alone on the files: in `batch`-sized processes, `concurrency` at a time. */
async function shellcheckAlone(files: readonly string[], batch: number, concurrency: number): Promise<void> {
  const batches: string[][] = [];
  for (let i = 0; i < files.length; i += batch) batches.push(files.slice(i, i + batch));
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const child = Bun.spawn(["shellcheck", "-f", "json1", "--", ...batches[next++]!], { stdout: "pipe", stderr: "ignore" });
      await new Response(child.stdout).text();
      await child.exited;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

export async function benchAudit(runs = 5): Promise<BenchResult> {
  const paths = corpusFiles();
  if (paths.length === 0) throw new Error("no corpus: no /var/lib/dpkg/info maintainer scripts and no shell scripts in /usr/bin or /usr/sbin");
  // A copy, so that the audit walks one directory and nothing is written where the scripts live.
  const dir = mkdtempSync(join(tmpdir(), "opskit-bench-audit-"));
  try {
    const sources: SourceFile[] = [];
    for (const [i, path] of paths.entries()) {
      const copy = join(dir, String(Math.floor(i / 100)), path.replaceAll("/", "_"));
      mkdirSync(join(copy, ".."), { recursive: true });
      copyFileSync(path, copy);
      const found = classify(copy);
      if (found) sources.push({ path: copy, display: copy, language: found.language, ...(found.dialect ? { dialect: found.dialect } : {}), text: readFileSync(copy, "utf8") });
    }
    const lines = sources.reduce((n, s) => n + countLines(s.text), 0);
    const shellFiles = sources.filter((s) => s.language === "shell" && s.dialect !== "zsh").map((s) => s.path);
    const cores = availableParallelism();
    const details = [`- corpus: ${sources.length} files (${shellFiles.length} shell), ${thousands(lines)} lines: this machine's maintainer scripts (/var/lib/dpkg/info/*.postinst, *.prerm, *.postrm) and the shell scripts in /usr/bin and /usr/sbin, copied to a temporary directory; medians of ${runs} runs (3 where ShellCheck runs); ${cores} cores`];

    // 1. opskit's rules alone, files in memory: parsing and matching, no I/O; one pass first to warm up.
    const context: AuditContext = { stepTimeoutOf: () => undefined };
    const rules = async () => {
      for (const source of sources) for (const set of registry[source.language]) await set.check(source, context);
    };
    await rules();
    const rulesMs = await timed(rules, runs);
    const linesPerSecond = lines / (rulesMs / 1000);
    details.push(`- opskit's rules alone (files in memory): ${thousands(linesPerSecond)} lines/s, ${seconds(rulesMs)} for the corpus`);

    // 2. Full audits: discovery, reading, rules, suppressions; without and with ShellCheck.
    const withoutMs = await timed(() => runAudit({ paths: [dir], root: dir, shellcheck: false }), runs);
    details.push(`- full audit without ShellCheck (opskit audit --no-shellcheck): ${seconds(withoutMs)}`);
    const shellcheckRuns = Math.max(1, Math.min(runs, 3));
    let anchor = "ShellCheck not installed";
    let ratio = "-";
    if (Bun.which("shellcheck")) {
      const withMs = await timed(() => runAudit({ paths: [dir], root: dir }), shellcheckRuns);
      // 3. The anchor: ShellCheck alone on the same shell files, in one process as
      // a person would run it, and in the batches the audit uses.
      const concurrency = Math.max(1, Math.min(cores, 4));
      const aloneOneMs = await timed(() => shellcheckAlone(shellFiles, shellFiles.length, 1), shellcheckRuns);
      const aloneBatchedMs = await timed(() => shellcheckAlone(shellFiles, 100, concurrency), shellcheckRuns);
      anchor = `ShellCheck alone ${seconds(aloneBatchedMs)} (batched as the audit runs it)`;
      ratio = `audit with ShellCheck ${(withMs / aloneBatchedMs).toFixed(2)}x ShellCheck alone`;
      details.push(
        `- full audit with ShellCheck: ${seconds(withMs)}`,
        `- ShellCheck alone (shellcheck -f json1): ${seconds(aloneOneMs)} in one process; ${seconds(aloneBatchedMs)} in batches of 100, ${concurrency} at a time`,
        `- ratios: audit with ShellCheck / ShellCheck alone ${(withMs / aloneBatchedMs).toFixed(2)} (batched), ${(withMs / aloneOneMs).toFixed(2)} (one process); audit without ShellCheck / ShellCheck alone in one process ${(withoutMs / aloneOneMs).toFixed(3)}`,
      );
      // 4. Cost growth: the first 1% and 10% of the corpus beside the whole, the same three measurements.
      const rows: { files: number; lines: number; without: number; withSc: number; alone: number }[] = [];
      for (const share of [100, 10]) {
        const subset = sources.slice(0, Math.max(1, Math.round(sources.length / share)));
        const subsetShell = new Set(shellFiles);
        const subsetPaths = subset.map((s) => s.path);
        const subsetShellFiles = subsetPaths.filter((path) => subsetShell.has(path));
        rows.push({
          files: subset.length,
          lines: subset.reduce((n, s) => n + countLines(s.text), 0),
          without: await timed(() => runAudit({ paths: subsetPaths, root: dir, shellcheck: false }), runs),
          withSc: await timed(() => runAudit({ paths: subsetPaths, root: dir }), shellcheckRuns),
          alone: await timed(() => shellcheckAlone(subsetShellFiles, 100, concurrency), shellcheckRuns),
        });
      }
      rows.push({ files: sources.length, lines, without: withoutMs, withSc: withMs, alone: aloneBatchedMs });
      const times = (ms: number, before: number | undefined) => `${seconds(ms)} | ${before === undefined ? "-" : `${(ms / before).toFixed(2)}x`}`;
      details.push(
        "- cost growth: the first 1% and 10% of the corpus's files beside the whole (one run of `opskit audit` given the files); × is the time against the size before, for about 10x the lines:",
        "",
        "| files | lines | audit without ShellCheck | × | audit with ShellCheck | × | ShellCheck alone, batched | × |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ...rows.map((r, i) => `| ${r.files} | ${thousands(r.lines)} | ${times(r.without, rows[i - 1]?.without)} | ${times(r.withSc, rows[i - 1]?.withSc)} | ${times(r.alone, rows[i - 1]?.alone)} |`),
        "",
      );
    } else {
      details.push("- ShellCheck is not installed: no audit with it and no anchor (apt-get install shellcheck)");
    }
    return {
      name: "audit",
      title: "opskit audit over the Debian corpus",
      opskit: `${thousands(linesPerSecond)} lines/s (rules); ${seconds(withoutMs)} full audit without ShellCheck`,
      anchor,
      ratio,
      goal: `≥ ${thousands(goalLinesPerSecond)} lines/s`,
      met: linesPerSecond >= goalLinesPerSecond,
      details,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const runsArg = process.argv.indexOf("--runs");
  const result = await benchAudit(runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5).catch((error: Error) => {
    console.error(`bench audit: ${error.message}`);
    process.exit(1);
  });
  console.log([result.title, ...result.details, `- goal ${result.goal}: ${result.met ? "met" : "NOT met"}`].join("\n"));
  process.exit(result.met ? 0 : 1);
}
