// Runs the opskit CLI from source as a child process, the way users run it.
const root = new URL("../..", import.meta.url).pathname;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  stdin?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  cwd?: string;
}

export async function runOpskit(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return runProcess([process.execPath, `${root}src/cli/main.ts`, ...args], options);
}

/** Runs a command as the CLI tests run opskit: NO_COLOR, piped output, a timeout. */
export async function runProcess(command: string[], options: CliOptions = {}): Promise<CliResult> {
  const child = Bun.spawn(command, {
    cwd: options.cwd ?? root,
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    stdin: options.stdin === undefined ? "ignore" : new TextEncoder().encode(options.stdin),
    stdout: "pipe",
    stderr: "pipe",
    timeout: options.timeoutMs ?? 60_000,
  });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

/** Parses `--json` output into its result objects and summary. */
export function parseJsonLines(stdout: string): { results: Record<string, any>[]; summary: Record<string, any> | undefined } {
  const lines = stdout.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, any>);
  return { results: lines.filter((l) => l.type === "result"), summary: lines.find((l) => l.type === "summary") };
}

/** Runs `opskit probe --json` with `args`: the exit code and output, the parsed lines, and the first result. */
export async function probeJson(args: string[]): Promise<CliResult & ReturnType<typeof parseJsonLines> & { result: Record<string, any> }> {
  const run = await runOpskit(["probe", "--json", ...args]);
  const parsed = parseJsonLines(run.stdout);
  return { ...run, ...parsed, result: parsed.results[0]! };
}

export const repoRoot = root;
