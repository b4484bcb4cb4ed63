// What this executable is: `opskit --version` prints it as a line, `opskit
// version` as text or JSON. Light on purpose: the fast path imports it.
import pkg from "../../package.json" with { type: "json" };
import { ExitCode } from "../errors.ts";
import { defineCommand, type OptionsOf } from "./options.ts";
import { outputOption } from "./output-format.ts";

declare const OPSKIT_COMMIT: string | undefined;

export interface VersionInfo {
  version: string;
  commit: string;
  bun: string;
  platform: string;
  arch: string;
}

function commit(): string {
  if (typeof OPSKIT_COMMIT === "string") return OPSKIT_COMMIT;
  try {
    // From source only: a build stamps the commit in with --define.
    const git = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: import.meta.dir, stderr: "ignore" });
    return git.success ? git.stdout.toString().trim() : "unknown";
  } catch {
    return "unknown";
  }
}

export function versionInfo(): VersionInfo {
  return { version: pkg.version, commit: commit(), bun: Bun.version, platform: process.platform, arch: process.arch };
}

export function versionLine(info: VersionInfo = versionInfo()): string {
  return `opskit ${info.version} (${info.commit}) bun ${info.bun} ${info.platform}-${info.arch}`;
}

export const versionSpec = defineCommand({
  name: "version",
  description: "print opskit's version, git commit, Bun version and platform (as --version does); -o json for scripts",
  options: {
    ...outputOption,
    json: { kind: "boolean", description: "one JSON object: version, commit, bun, platform, arch" },
  },
  examples: [
    { text: "Print the version line", command: "opskit version" },
    { text: "Read the commit in a script", command: "opskit version -o json | jq -r .commit" },
  ],
});

export async function versionCommand(_positionals: string[], options: OptionsOf<typeof versionSpec>): Promise<number> {
  const info = versionInfo();
  console.log(options.json ? JSON.stringify(info) : versionLine(info));
  return ExitCode.ok;
}
