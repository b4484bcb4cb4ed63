import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, statSync, type Dirent, type Stats } from "node:fs";
import { readdir } from "node:fs/promises";
import { extname, join, resolve } from "node:path";
import { usageError } from "../errors.ts";
import type { Language } from "./types.ts";

/*
 * Which files the audit reads: shell and Python scripts by extension or by
 * their #! line, and opskit configs (YAML with a top-level `workflows:`
 * key). Directories are walked recursively, skipping .git and node_modules
 * (and what the caller leaves out: ignored files, a config's skip globs)
 * and not following symbolic links to directories. Only regular files are
 * opened: a FIFO would block the open until a writer came, and a device such
 * as /dev/zero never ends.
 */

export interface Candidate {
  /** Absolute path. */
  path: string;
  language: Language;
  /** Shell files: the interpreter of the #! line (sh, bash, dash, ksh, zsh...). */
  dialect?: string;
}

const skippedDirs = new Set([".git", "node_modules"]);
const shells = new Set(["sh", "bash", "dash", "ksh", "mksh", "pdksh", "zsh", "ash", "posh"]);
const byExtension: Record<string, Language> = { ".sh": "shell", ".bash": "shell", ".py": "python" };

/**
 * Says whether a path is left out: while a directory given as `root` is
 * walked (a directory left out is not entered), and for a file named
 * explicitly (`root` undefined).
 */
export type PathFilter = (path: string, isDir: boolean, root: string | undefined) => Promise<boolean>;

/** Finds the files to audit under the given paths; an unknown path is a usage error. */
export async function discoverFiles(paths: readonly string[], cwd: string, leftOut: PathFilter = async () => false): Promise<{ files: Candidate[]; skipped: string[]; special: { path: string; kind: string }[] }> {
  const files: Candidate[] = [];
  const skipped: string[] = [];
  const special: { path: string; kind: string }[] = [];
  const seen = new Set<string>();
  const add = (path: string, explicit: boolean) => {
    let real: string;
    try {
      real = realpathSync(path);
    } catch {
      return;
    }
    if (seen.has(real)) return;
    seen.add(real);
    const candidate = classify(path);
    if (candidate) files.push(candidate);
    else if (explicit) skipped.push(path);
  };
  for (const given of paths) {
    const path = resolve(cwd, given);
    let info;
    try {
      info = statSync(path);
    } catch {
      throw usageError("E_AUDIT_PATH", `no such file or directory: ${given}`, "pass existing files or directories (default: the current directory)");
    }
    if (info.isDirectory()) {
      await walk(path, (file) => add(file, false), (entry, isDir) => leftOut(entry, isDir, path));
    } else if (info.isFile()) {
      if (!(await leftOut(path, false, undefined))) add(path, true);
    }
    else special.push({ path, kind: fileKind(info) });
  }
  return { files, skipped, special };
}

async function walk(dir: string, visit: (file: string) => void, leftOut: (path: string, isDir: boolean) => Promise<boolean>): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!skippedDirs.has(entry.name) && !(await leftOut(path, true))) await walk(path, visit, leftOut);
    } else if (entry.isFile()) {
      if (!(await leftOut(path, false))) visit(path);
    } else if (entry.isSymbolicLink()) {
      try {
        if (statSync(path).isFile() && !(await leftOut(path, false))) visit(path);
      } catch {
        // A dangling link: nothing to read.
      }
    }
  }
}

/** What a file is, from its extension, its #! line, or (YAML) its top-level keys. */
export function classify(path: string): Candidate | undefined {
  const extension = extname(path).toLowerCase();
  if (extension === ".yaml" || extension === ".yml") return isOpskitConfig(path) ? { path, language: "workflow" } : undefined;
  const head = readHead(path, 256);
  const interpreter = head.startsWith("#!") ? interpreterOf(head.split("\n", 1)[0]!) : undefined;
  const known = byExtension[extension];
  if (known === "shell") return { path, language: "shell", dialect: interpreter && shells.has(interpreter) ? interpreter : extension === ".bash" ? "bash" : undefined };
  if (known) return { path, language: known };
  if (interpreter === undefined) return undefined;
  if (shells.has(interpreter)) return { path, language: "shell", dialect: interpreter };
  if (/^python[\d.]*$/.test(interpreter)) return { path, language: "python" };
  return undefined;
}

/** `#!/bin/sh -e` → sh; `#!/usr/bin/env -S bash -eu` → bash; `#!/usr/bin/python3.11` → python3.11. */
export function interpreterOf(shebang: string): string | undefined {
  const words = shebang.slice(2).trim().split(/\s+/);
  let program = words.shift();
  const base = (p: string | undefined) => p?.slice(p.lastIndexOf("/") + 1);
  while (base(program) === "env" || base(program) === "busybox") {
    const wasEnv = base(program) === "env";
    program = words.shift();
    while (wasEnv && program !== undefined && (program.startsWith("-") || program.includes("="))) {
      program = program === "-u" || program === "-C" ? (words.shift(), words.shift()) : words.shift();
    }
  }
  return base(program) || undefined;
}

/** What a path that is not a regular file or a directory is, for a notice. */
export function fileKind(info: Stats): string {
  if (info.isFIFO()) return "a FIFO";
  if (info.isCharacterDevice()) return "a character device";
  if (info.isBlockDevice()) return "a block device";
  if (info.isSocket()) return "a socket";
  return "not a regular file";
}

/**
 * At most `bytes` bytes from the start of a regular file; undefined for
 * anything else. The file is opened non-blocking and checked again on the open
 * descriptor, so a path swapped for a FIFO or a device after it was listed
 * neither blocks nor streams without end.
 */
export function readBounded(path: string, bytes: number): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    if (!fstatSync(fd).isFile()) return undefined;
    const buffer = Buffer.alloc(bytes);
    let read = 0;
    while (read < bytes) {
      const n = readSync(fd, buffer, read, bytes - read, read);
      if (n === 0) break;
      read += n;
    }
    return buffer.subarray(0, read);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function readHead(path: string, bytes: number): string {
  return readBounded(path, bytes)?.toString("latin1") ?? "";
}

function isOpskitConfig(path: string): boolean {
  try {
    const info = statSync(path);
    if (!info.isFile() || info.size > 4 * 1024 * 1024) return false;
    const text = readHead(path, info.size);
    return /^workflows[ \t]*:/m.test(text);
  } catch {
    return false;
  }
}
