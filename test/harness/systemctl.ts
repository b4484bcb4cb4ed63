import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

// A stand-in for systemctl(1), for machines without systemd as PID 1 (this
// one, CI containers): units are files holding "active" or "inactive", and
// every call's arguments are logged one per [...], so a test sees whether a
// unit name arrived as one argument, intact. Exit codes as systemctl(1)
// documents them: is-active 0 active, 3 not active, 4 no such unit.
// A `sudo` beside it accepts only -n and logs "sudo " before the command.

export interface FakeSystemd {
  /** Directory to put first in PATH. */
  bin: string;
  setUnit(name: string, state: "active" | "inactive"): Promise<void>;
  unitState(name: string): Promise<string | undefined>;
  /** One line per call, e.g. "[restart][nginx.service]" or "sudo [start][api]". */
  calls(): Promise<string[]>;
  reloads(name: string): Promise<number>;
}

/** Writes the fake into `dir`; everything is world-writable so that an SSH test user can use it too. */
export async function fakeSystemd(dir: string): Promise<FakeSystemd> {
  const bin = join(dir, "bin");
  const state = join(dir, "units");
  const log = join(dir, "calls.log");
  await mkdir(bin, { recursive: true });
  await mkdir(state, { recursive: true });
  await writeFile(log, "");
  const systemctl = [
    "#!/bin/sh",
    `{ for arg in "$@"; do printf '[%s]' "$arg"; done; printf '\\n'; } >> '${log}'`,
    "verb=$1; shift",
    '[ "$verb" = is-active ] && [ "$1" = --quiet ] && shift',
    '[ $# -eq 1 ] || { echo "fake systemctl: one unit, not $#" >&2; exit 64; }',
    `file='${state}'/"$1"`,
    '[ -f "$file" ] || { echo "Unit $1 could not be found." >&2; exit 4; }',
    'current=$(cat "$file")',
    'case $verb in',
    '  is-active) [ "$current" = active ] && exit 0; exit 3 ;;',
    '  start|restart) echo active > "$file" ;;',
    '  stop) echo inactive > "$file" ;;',
    '  reload) [ "$current" = active ] || { echo "Job for $1 failed: the unit is not active." >&2; exit 1; }; echo . >> "$file.reloads" ;;',
    '  *) echo "fake systemctl: unknown verb $verb" >&2; exit 64 ;;',
    "esac",
    "",
  ].join("\n");
  const sudo = ["#!/bin/sh", '[ "$1" = -n ] || { echo "sudo: this fake wants -n" >&2; exit 1; }', "shift", `printf 'sudo ' >> '${log}'`, 'exec "$@"', ""].join("\n");
  await writeFile(join(bin, "systemctl"), systemctl);
  await writeFile(join(bin, "sudo"), sudo);
  await chmod(join(bin, "systemctl"), 0o755);
  await chmod(join(bin, "sudo"), 0o755);
  for (const path of [dir, bin]) await chmod(path, 0o755);
  await chmod(state, 0o777);
  await chmod(log, 0o666);
  const unitFile = (name: string) => join(state, name);
  return {
    bin,
    async setUnit(name, value) {
      await writeFile(unitFile(name), `${value}\n`);
      await chmod(unitFile(name), 0o666);
    },
    unitState: (name) => readFile(unitFile(name), "utf8").then((text) => text.trim(), () => undefined),
    calls: async () => (await readFile(log, "utf8")).split("\n").filter(Boolean),
    reloads: (name) => readFile(`${unitFile(name)}.reloads`, "utf8").then((text) => text.split("\n").filter(Boolean).length, () => 0),
  };
}
