// `opskit completion bash|zsh|fish`, each script loaded into the real shell
// and its completion driven as a user's Tab would: bash through its
// completion function (COMP_WORDS, COMP_CWORD), fish through `complete -C`,
// zsh through a real interactive zsh under zsh/zpty with compinit.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBuilt } from "./harness/binary.ts";

let dir: string;
const scripts: Record<"bash" | "zsh" | "fish", string> = { bash: "", zsh: "", fish: "" };

/** A shell this test needs; on CI a missing one fails rather than skips. */
function shell(name: string): string | undefined {
  const path = Bun.which(name);
  if (!path && process.env.CI === "true") throw new Error(`${name} is not installed (sh scripts/setup.sh installs it)`);
  return path ?? undefined;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "opskit-completion-"));
  // The directory completions run in: a file and a directory to offer.
  await mkdir(join(dir, "cwd", "playbooks"), { recursive: true });
  await writeFile(join(dir, "cwd", "targets.yaml"), "");
  for (const name of ["bash", "zsh", "fish"] as const) {
    const run = await runBuilt(["completion", name]);
    expect(run.code).toBe(0);
    scripts[name] = run.stdout;
    await writeFile(join(dir, name === "zsh" ? "_opskit" : `opskit.${name}`), run.stdout);
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function spawn(argv: string[], env: Record<string, string> = {}): string {
  const child = Bun.spawnSync(argv, { cwd: join(dir, "cwd"), env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, ...env }, stdout: "pipe", stderr: "pipe", timeout: 30_000 });
  expect({ argv: argv.slice(0, 2), stderr: child.stderr.toString(), exitCode: child.exitCode }).toEqual({ argv: argv.slice(0, 2), stderr: "", exitCode: 0 });
  return child.stdout.toString();
}

/** The cases every shell must complete the same way: the words typed, what must be offered, what must not. */
const cases: [string, string[], string[]][] = [
  ["opskit pro", ["probe"], ["run"]],
  ["opskit ", ["probe", "run", "exec", "completion", "init", "version"], ["demo-service"]],
  ["opskit probe --ti", ["--timeout"], []],
  ["opskit probe -o ", ["text", "json", "yaml"], []],
  ["opskit audit --fail-on ", ["error", "warning", "never"], []],
  ["opskit runs ", ["list", "show", "resume"], []],
  ["opskit completion ", ["bash", "zsh", "fish"], []],
  ["opskit probe -f ", ["targets.yaml", "playbooks/"], []],
  ["opskit init -c ", ["playbooks/"], ["targets.yaml"]],
  ["opskit probe --max", [], ["--max-body"]],
];

/** Strips what a shell adds to a candidate (fish's tab and description). */
const words = (lines: string) => lines.split("\n").map((line) => line.split("\t")[0]!.trim()).filter((word) => word !== "");

describe("bash", () => {
  const bash = shell("bash");
  test.each(cases)("%p", (typed, offered, notOffered) => {
    if (!bash) return;
    const driver = [
      `source ${join(dir, "opskit.bash")}`,
      `COMP_WORDS=(${typed.split(" ").map((word) => `'${word}'`).join(" ")})`,
      `COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 ))`,
      "_opskit",
      `printf '%s\\n' "\${COMPREPLY[@]}"`,
    ].join("\n");
    const got = words(spawn([bash, "--noprofile", "--norc", "-c", driver]));
    // bash offers directories from compgen -f without the slash; compopt -o filenames adds it on screen.
    const shown = got.map((word) => (word === "playbooks" ? "playbooks/" : word));
    expect(shown).toEqual(expect.arrayContaining(offered));
    for (const word of notOffered) expect(shown).not.toContain(word);
  });

  test("complete registers _opskit for opskit", () => {
    if (!bash) return;
    expect(spawn([bash, "--noprofile", "--norc", "-c", `source ${join(dir, "opskit.bash")}; complete -p opskit`])).toBe("complete -F _opskit opskit\n");
  });

  test("--output=VALUE, which bash splits at =, completes the choices", () => {
    if (!bash) return;
    const driver = `source ${join(dir, "opskit.bash")}; COMP_WORDS=(opskit probe --output = y); COMP_CWORD=4; _opskit; printf '%s\\n' "\${COMPREPLY[@]}"`;
    expect(words(spawn([bash, "--noprofile", "--norc", "-c", driver]))).toEqual(["yaml"]);
  });
});

describe("fish", () => {
  const fish = shell("fish");
  test.each(cases)("%p", (typed, offered, notOffered) => {
    if (!fish) return;
    const got = words(spawn([fish, "--no-config", "-c", `source ${join(dir, "opskit.fish")}; complete -C ${JSON.stringify(typed)}`]));
    expect(got).toEqual(expect.arrayContaining(offered));
    for (const word of notOffered) expect(got).not.toContain(word);
  });

  test("a command is offered with its description", () => {
    if (!fish) return;
    expect(spawn([fish, "--no-config", "-c", `source ${join(dir, "opskit.fish")}; complete -C "opskit pro"`])).toStartWith("probe\tprobe HTTP(S), TCP, TLS");
  });
});

/**
 * Runs an interactive zsh under zpty, loads _opskit from fpath with compinit,
 * types the words and a Tab, and prints each candidate compadd was given.
 */
const zshDriver = `
zmodload zsh/zpty
zpty z env ZDOTDIR=/nonexistent zsh -f -i
zpty -w z "source \${(q)1}"
local line n=0
while (( n++ < 200 )) && zpty -r z line; do [[ $line == *"<ready>"* && $line != *source* ]] && break; done
zpty -n -w z "$2"$'\\t'
n=0
while (( n++ < 2000 )) && zpty -r z line; do
  [[ $line == *"<done>"* ]] && break
  [[ $line == *"<hit>"* ]] && print -r -- \${\${line##*<hit>}%%</hit>*}
done
zpty -d z
`;

const zshSetup = (fpath: string) => `
PS1=''; PROMPT=''; RPROMPT=''; unset zle_bracketed_paste
fpath=(${fpath} $fpath)
autoload -Uz compinit; compinit -u -D
zstyle ':completion:*' list-grouped false
zstyle ':completion:*' insert-tab false
compadd () {
  if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then builtin compadd "$@"; return $?; fi
  typeset -a __hits
  builtin compadd -A __hits "$@"
  local h; for h in $__hits; do print -r -- "<hit>$h</hit>"; done
}
null-line () { print -r -- "<done>" }
comppostfuncs=( null-line exit )
bindkey '^I' complete-word
print -r -- "<ready>"
`;

describe("zsh", () => {
  const zsh = shell("zsh");

  test("compinit loads _opskit from fpath and binds it to opskit", async () => {
    if (!zsh) return;
    expect(spawn([zsh, "-f", "-c", `fpath=(${dir} $fpath); autoload -Uz compinit; compinit -u -D; print -r -- $_comps[opskit]`])).toBe("_opskit\n");
  });

  test.each(cases)("%p", async (typed, offered, notOffered) => {
    if (!zsh) return;
    await writeFile(join(dir, "zsh-setup.zsh"), zshSetup(dir));
    await writeFile(join(dir, "zsh-driver.zsh"), zshDriver);
    const got = words(spawn([zsh, "-f", join(dir, "zsh-driver.zsh"), join(dir, "zsh-setup.zsh"), typed]));
    // _files offers a directory's name; zsh shows its slash.
    const shown = got.map((word) => (word === "playbooks" ? "playbooks/" : word));
    expect(shown).toEqual(expect.arrayContaining(offered));
    for (const word of notOffered) expect(shown).not.toContain(word);
  });
});

test("the scripts leave hidden options and commands out", () => {
  for (const script of Object.values(scripts)) {
    expect(script).not.toContain("max-body");
    expect(script).not.toContain("demo-service");
  }
});
