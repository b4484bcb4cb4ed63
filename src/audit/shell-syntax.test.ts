import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { parseShell } from "./shell-syntax.ts";
import { commandCore } from "./shell-words.ts";

// The parser against the shells themselves: a `touch` the parser reads as a
// command must be one bash and dash run, and one it reads as data must not be.

const shells = ["bash", "dash"];
const dir = mkdtempSync(join(tmpdir(), "opskit-shell-syntax-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The command names the parser finds, in the order it records them. */
const names = (text: string) => parseShell(text).commands.map((c) => commandCore(c.words).name);

/** Whether `shell` runs the script's `touch ran`. */
function runs(shell: string, script: string): boolean {
  const marker = join(dir, "ran");
  rmSync(marker, { force: true });
  const result = Bun.spawnSync([shell, "-c", script], { cwd: dir, stdout: "ignore", stderr: "ignore", timeout: 10_000 });
  expect(result.exitCode, `${shell} -c ${JSON.stringify(script)}`).toBe(0);
  return existsSync(marker);
}

function agreesWithShells(script: string): void {
  const parsed = names(script).includes("touch");
  for (const shell of shells) expect(`${shell}: ${runs(shell, script)}`).toBe(`${shell}: ${parsed}`);
}

describe("commands the shell runs inside expansions and here-documents", () => {
  test("bash and dash are installed", () => {
    for (const shell of shells) expect(Bun.which(shell), `${shell} must be installed`).toBeTruthy();
  });

  test("${X:-$(...)}, ${X:+$(...)}, ${X:=$(...)}, $(( $(...) )) run their commands; quoted and commented text does not", () => {
    const scripts = [
      'X=; Y="${X:-$(touch ran)}"',
      "X=1; Y=${X:+$(touch ran)}",
      "unset X; : ${X:=`touch ran`}",
      'n=$(( $(touch ran; echo 1) + 1 )); echo "$n"',
      'Y="${U:-"$(touch ran)"}"',
      "echo '${X:-$(touch ran)}'",
      "# ${X:-$(touch ran)}",
      'echo "\\$(touch ran)"',
    ];
    for (const script of scripts) agreesWithShells(script);
  });

  test("an unquoted here-document's $( ), backticks and ${ } run, quotes in it included; a quoted one's and an escaped one's do not", () => {
    const forms = fc.record({
      operator: fc.constantFrom("<<", "<<-"),
      // How each letter of the delimiter EOF is written: any quoting makes the body data. Half the cases unquoted.
      quoting: fc.oneof(fc.constant(["", "", ""]), fc.array(fc.constantFrom("", "'", '"', "\\"), { minLength: 3, maxLength: 3 })),
      line: fc.constantFrom("$(touch ran)", "`touch ran`", "${U:-$(touch ran)}", "'$(touch ran)'", '"`touch ran`"', "\\$(touch ran)", "\\`touch ran\\`", "$((1 + $(touch ran; echo 1)))"),
      indent: fc.constantFrom("", "\t"),
    });
    fc.assert(
      fc.property(forms, ({ operator, quoting, line, indent }) => {
        const delimiter = ["E", "O", "F"].map((letter, i) => (quoting[i] === "\\" ? `\\${letter}` : `${quoting[i]}${letter}${quoting[i]}`)).join("");
        const end = operator === "<<-" ? `${indent}EOF` : "EOF";
        agreesWithShells(`cat ${operator}${delimiter} >/dev/null\n${indent}${line}\n${end}\necho done`);
      }),
      { numRuns: 40 },
    );
  });
});

describe("case", () => {
  test("behind a reserved word (do case, if case, then case) its patterns are not commands", () => {
    expect(names('for d in "$@"; do case $d in\n  a) echo A ;;\n  b) rm -r x ;;\nesac; done')).toEqual(["", "", "echo", "rm", ""]);
    expect(names("if case $1 in (a|b) true;; (*) false;; esac; then ls; fi")).toEqual(["", "true", "false", "ls", ""]);
    expect(names("if x; then case $1 in\n  --h|--help) usage ;;\nesac; fi")).toEqual(["x", "", "usage", ""]);
  });

  test("a (pattern) and a bash extended glob @(a|b) end at their own parenthesis", () => {
    expect(names("case $1 in\n  (a) one ;;\n  @(b|c)) two ;;\n  +([0-9])) three ;;\nesac")).toEqual(["", "one", "two", "three"]);
  });

  test("what the parser reads as a case item's command is what bash and dash run", () => {
    agreesWithShells("for d in a; do case $d in a) touch ran ;; esac; done");
    agreesWithShells("if case x in (x) touch ran;; (*) false;; esac; then :; fi");
  });
});
