// Builds standalone opskit executables with `bun build --compile`.
//   bun scripts/build.ts           all release targets into dist/
//   bun scripts/build.ts --host    this machine's target only, as dist/opskit
import { $ } from "bun";
import { mkdir } from "node:fs/promises";
import pkg from "../package.json" with { type: "json" };

const targets = [
  { target: "bun-linux-x64", out: "opskit-linux-x64" },
  { target: "bun-linux-arm64", out: "opskit-linux-arm64" },
  { target: "bun-darwin-x64", out: "opskit-darwin-x64" },
  { target: "bun-darwin-arm64", out: "opskit-darwin-arm64" },
];

const root = new URL("..", import.meta.url).pathname;
const commit = (await $`git rev-parse --short HEAD`.cwd(root).nothrow().quiet()).stdout.toString().trim() || "unknown";
const dirty = (await $`git status --porcelain --untracked-files=no`.cwd(root).nothrow().quiet()).stdout.toString().trim() !== "";
const stamp = dirty ? `${commit}-dirty` : commit;
await mkdir(`${root}/dist`, { recursive: true });

const host = process.argv.includes("--host");
const chosen = host ? [{ target: undefined, out: "opskit" }] : targets;
for (const { target, out } of chosen) {
  const args = [
    "build", "--compile", "--minify", "--sourcemap=none", "--splitting", "--format=esm", "--bytecode",
    // An ops binary must not pick up a .env or bunfig.toml from whatever directory it runs in.
    "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig",
    `--define`, `OPSKIT_COMMIT=${JSON.stringify(stamp)}`,
    ...(target ? [`--target=${target}`] : []),
    // The probe worker is a second entry point: worker threads load it by URL.
    `${root}/src/cli/main.ts`, `${root}/src/cli/probe/worker.ts`, "--outfile", `${root}/dist/${out}`,
  ];
  const started = performance.now();
  const result = Bun.spawnSync([process.execPath, ...args], { stdout: "pipe", stderr: "pipe" });
  if (!result.success) {
    process.stderr.write(result.stderr.toString());
    throw new Error(`build of ${out} failed`);
  }
  console.log(`built dist/${out} (${target ?? "host"}) in ${Math.round(performance.now() - started)}ms: opskit ${pkg.version} ${stamp}`);
}
