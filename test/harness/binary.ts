// Runs the standalone executable, the artifact users install, as a child
// process. It is built once per source state: the path is named by a hash of
// every file the build reads, so test processes running at once share one
// build, and a changed source builds again.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { repoRoot, runProcess, type CliOptions, type CliResult } from "./cli.ts";

const cacheDir = `${repoRoot}dist/test-bin`;
let built: Promise<string> | undefined;

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sourceFiles(path, out);
    else out.push(path);
  }
  return out;
}

/** A hash of src/, package.json and package-lock.json: what the executable is built from. */
function sourceHash(): string {
  const hasher = new Bun.CryptoHasher("sha256");
  const files = [...sourceFiles(`${repoRoot}src`), `${repoRoot}package.json`, `${repoRoot}package-lock.json`].sort();
  for (const file of files) {
    hasher.update(file);
    hasher.update(readFileSync(file));
  }
  return hasher.digest("hex").slice(0, 16);
}

async function build(): Promise<string> {
  const hash = sourceHash();
  const binary = join(cacheDir, hash, "opskit");
  if (existsSync(binary)) return binary;
  await mkdir(join(cacheDir, hash), { recursive: true });
  const partial = `${binary}.${process.pid}.partial`;
  const result = Bun.spawn([process.execPath, "scripts/build.ts", "--host", `--outfile=${partial}`], { cwd: repoRoot, stdout: "pipe", stderr: "pipe" });
  const [stderr, code] = await Promise.all([new Response(result.stderr).text(), result.exited]);
  if (code !== 0) throw new Error(`building the executable failed:\n${stderr}`);
  // Atomic: a process that finds the path finds a whole executable.
  await rename(partial, binary);
  // Each build is about 100 MB: keep the newest three source states.
  const states = await readdir(cacheDir);
  const byAge = states
    .filter((name) => name !== hash)
    .map((name) => ({ name, mtime: statSync(join(cacheDir, name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const old of byAge.slice(2)) await rm(join(cacheDir, old.name), { recursive: true, force: true });
  return binary;
}

/** The path of the executable built from the source as it is now (built on first use in this process). */
export function builtBinary(): Promise<string> {
  built ??= build();
  return built;
}

/** Runs the built executable as users run it: same arguments and result as runOpskit, no Bun or node_modules needed. */
export async function runBuilt(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return runProcess([await builtBinary(), ...args], options);
}
