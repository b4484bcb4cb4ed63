// The linux-arm64 executable, built by scripts/build.ts and run on this x64
// machine under Debian's qemu-user-static, called directly (qemu-aarch64-static
// BINARY ...) so that nothing depends on binfmt_misc being registered, with
// the arm64 C library of libc6-arm64-cross (QEMU_LD_PREFIX).
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./cli.ts";

export const QEMU = "/usr/bin/qemu-aarch64-static";
export const QEMU_LD_PREFIX = "/usr/aarch64-linux-gnu";

/** What the arm64 tests need and this machine lacks, with the package that brings it. */
export function arm64Missing(): string[] {
  const missing: string[] = [];
  if (!existsSync(QEMU)) missing.push(`${QEMU} (Debian package qemu-user-static)`);
  if (!existsSync(join(QEMU_LD_PREFIX, "lib/ld-linux-aarch64.so.1"))) missing.push(`${QEMU_LD_PREFIX}/lib/ld-linux-aarch64.so.1 (Debian package libc6-arm64-cross)`);
  return missing;
}

/** The environment an arm64 opskit runs in: the cross C library, a plain PATH, no color. */
export function arm64Env(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", QEMU_LD_PREFIX, NO_COLOR: "1", ...extra };
}

/** argv that runs the arm64 executable with `args` under qemu. */
export const underQemu = (binary: string, args: string[]) => [QEMU, binary, ...args];

/** A hash of everything the executable is built from: the sources (not the tests), the build script and the locked dependencies. */
function buildInputsHash(): string {
  const listed = Bun.spawnSync(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "src", "scripts/build.ts", "package.json", "package-lock.json", "tsconfig.json", "bunfig.toml"], { cwd: repoRoot, stdout: "pipe", stderr: "pipe" });
  if (!listed.success) throw new Error(`git ls-files failed: ${listed.stderr.toString()}`);
  const files = listed.stdout.toString().split("\0").filter((file) => file && !/\.test\.ts$/.test(file) && existsSync(join(repoRoot, file))).sort();
  const hash = createHash("sha256");
  for (const file of files) hash.update(`${file}\0`).update(readFileSync(join(repoRoot, file))).update("\0");
  return hash.digest("hex").slice(0, 16);
}

export type Arm64Build = { binary: string; built: boolean; ms: number } | { error: string; runtimeUnavailable: boolean };

/**
 * dist/arm64/opskit-linux-arm64-HASH: built with `scripts/build.ts
 * --target=linux-arm64` unless one built from the same inputs is there; older
 * builds are removed. runtimeUnavailable: the build failed because the Bun
 * linux-arm64 runtime could not be fetched from npm.
 */
export function buildArm64(): Arm64Build {
  const dir = join(repoRoot, "dist/arm64");
  const name = `opskit-linux-arm64-${buildInputsHash()}`;
  const binary = join(dir, name);
  if (existsSync(binary)) return { binary, built: false, ms: 0 };
  mkdirSync(dir, { recursive: true });
  const partial = `${binary}.${process.pid}.partial`;
  const started = performance.now();
  const build = Bun.spawnSync([process.execPath, "scripts/build.ts", "--target=linux-arm64", `--outfile=${partial}`], { cwd: repoRoot, stdout: "pipe", stderr: "pipe", timeout: 600_000 });
  const ms = Math.round(performance.now() - started);
  if (!build.success) {
    rmSync(partial, { force: true });
    const error = `${build.stderr.toString()}${build.stdout.toString()}`;
    return { error, runtimeUnavailable: /npm pack @oven\/bun-linux-aarch64/.test(error) };
  }
  renameSync(partial, binary);
  for (const old of readdirSync(dir)) if (old !== name && old.startsWith("opskit-linux-arm64-") && !old.endsWith(".partial")) rmSync(join(dir, old), { force: true });
  return { binary, built: true, ms };
}

/** The ELF header's class, byte order and machine: { bits: 64, littleEndian: true, machine: 183 } is aarch64 (EM_AARCH64). */
export function elfHeader(path: string): { magic: boolean; bits: number; littleEndian: boolean; machine: number } {
  const header = Buffer.alloc(20);
  const fd = openSync(path, "r");
  try {
    readSync(fd, header, 0, 20, 0);
  } finally {
    closeSync(fd);
  }
  const littleEndian = header[5] === 1;
  return { magic: header.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46])), bits: header[4] === 2 ? 64 : 32, littleEndian, machine: littleEndian ? header.readUInt16LE(18) : header.readUInt16BE(18) };
}
