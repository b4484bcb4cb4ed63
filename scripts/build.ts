// Builds standalone opskit executables with `bun build --compile`.
//   bun scripts/build.ts                        all release targets into dist/
//   bun scripts/build.ts --host                 this machine's target only, as dist/opskit
//   bun scripts/build.ts --target=linux-arm64   one release target (--outfile=PATH to put it elsewhere)
// A release target is built on the Bun runtime of that platform from npm: the
// @oven package package-lock.json pins (an optional dependency of bun), of this
// Bun's version, fetched with npm, held to the lockfile's integrity and kept in
// dist/runtimes/.
import { $ } from "bun";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };

const targets = [
  { target: "bun-linux-x64", out: "opskit-linux-x64", runtime: "@oven/bun-linux-x64" },
  { target: "bun-linux-arm64", out: "opskit-linux-arm64", runtime: "@oven/bun-linux-aarch64" },
  { target: "bun-darwin-x64", out: "opskit-darwin-x64", runtime: "@oven/bun-darwin-x64" },
  { target: "bun-darwin-arm64", out: "opskit-darwin-arm64", runtime: "@oven/bun-darwin-aarch64" },
];

const root = new URL("..", import.meta.url).pathname;
const commit = (await $`git rev-parse --short HEAD`.cwd(root).nothrow().quiet()).stdout.toString().trim() || "unknown";
const dirty = (await $`git status --porcelain --untracked-files=no`.cwd(root).nothrow().quiet()).stdout.toString().trim() !== "";
const stamp = dirty ? `${commit}-dirty` : commit;
await mkdir(`${root}/dist`, { recursive: true });

function fail(message: string): never {
  console.error(`build: ${message}`);
  process.exit(1);
}

const option = (name: string) => process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
const host = process.argv.includes("--host");
const only = option("target");
const outfile = option("outfile");
if (only && !targets.some((t) => t.target === `bun-${only}`)) fail(`--target=${only}: not a release target (${targets.map((t) => t.target.slice(4)).join(", ")})`);
if (outfile && !host && !only) fail("--outfile needs --host or --target");
const chosen = host ? [{ target: undefined, out: "opskit", runtime: undefined }] : targets.filter((t) => !only || t.target === `bun-${only}`);

/** The path of the Bun runtime `name` (an @oven package) that package-lock.json pins, fetched once into dist/runtimes/. */
async function runtimeExecutable(name: string): Promise<string> {
  const lock = (await Bun.file(`${root}/package-lock.json`).json()) as { packages: Record<string, { version?: string; integrity?: string }> };
  const locked = lock.packages[`node_modules/${name}`];
  if (!locked?.version || !locked.integrity) fail(`package-lock.json pins no ${name}: run npm install (it is an optional dependency of bun)`);
  // The bytecode is compiled here, by this Bun: the runtime it runs on must be the same version.
  if (locked.version !== Bun.version) fail(`package-lock.json pins ${name}@${locked.version} but this is Bun ${Bun.version}: run npm ci`);
  const cached = `${root}/dist/runtimes/${name.slice("@oven/".length)}-${locked.version}/bun`;
  if (existsSync(cached)) return cached;
  const work = await mkdtemp(`${root}/dist/.runtime-`);
  try {
    const pack = await $`npm pack ${`${name}@${locked.version}`} --pack-destination ${work} --json --loglevel=error`.cwd(work).nothrow().quiet();
    if (pack.exitCode !== 0) throw new Error(`npm pack ${name}@${locked.version} failed (the Bun runtime of a release target comes from the npm registry):\n${pack.stderr.toString().trim()}`);
    const tarball = join(work, (JSON.parse(pack.stdout.toString()) as { filename: string }[])[0]!.filename);
    const [algorithm, expected] = locked.integrity.split("-", 2) as [string, string];
    const actual = createHash(algorithm).update(await Bun.file(tarball).bytes()).digest("base64");
    if (actual !== expected) throw new Error(`${tarball}: ${algorithm} ${actual} is not the ${expected} package-lock.json pins for ${name}@${locked.version}`);
    await $`tar -xzf ${tarball} -C ${work} package/bin/bun`.quiet();
    await mkdir(join(cached, ".."), { recursive: true });
    await rename(join(work, "package/bin/bun"), cached);
    return cached;
  } catch (error) {
    await rm(work, { recursive: true, force: true });
    fail((error as Error).message);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

for (const { target, out, runtime } of chosen) {
  const args = [
    "build", "--compile", "--minify", "--sourcemap=none", "--splitting", "--format=esm", "--bytecode",
    // An ops binary must not pick up a .env or bunfig.toml from whatever directory it runs in.
    "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig",
    `--define`, `OPSKIT_COMMIT=${JSON.stringify(stamp)}`,
    ...(target ? [`--target=${target}`] : []),
    ...(runtime ? [`--compile-executable-path=${await runtimeExecutable(runtime)}`] : []),
    // Worker threads load their entry points by URL: the probe's workers, the thread opskit agent checks its config in.
    `${root}/src/cli/main.ts`, `${root}/src/cli/probe/worker.ts`, `${root}/src/cli/agent-config-thread.ts`, "--outfile", outfile ?? `${root}/dist/${out}`,
  ];
  const started = performance.now();
  const result = Bun.spawnSync([process.execPath, ...args], { stdout: "pipe", stderr: "pipe" });
  if (!result.success) {
    process.stderr.write(result.stderr.toString());
    throw new Error(`build of ${out} failed`);
  }
  console.log(`built ${outfile ?? `dist/${out}`} (${target ?? "host"}) in ${Math.round(performance.now() - started)}ms: opskit ${pkg.version} ${stamp}`);
}
