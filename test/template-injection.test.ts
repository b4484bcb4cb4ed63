import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { compileExpression, compileTemplate, type Template } from "../src/expr/index.ts";
import type { SshPool } from "../src/transport/ssh/index.ts";
import { runOpskit } from "./harness/cli.ts";
import { startFleet, type Fleet } from "./harness/fleet.ts";
import { alertmanagerNotification, startServe, writeConfig } from "./harness/serve.ts";
import { hostileNulValues, hostileValues, pwnedMarker } from "./harness/hostile.ts";
import { fleetEndpoint, fleetPool } from "./harness/ssh-pool.ts";

// Hostile values (testdata/hostile/values.json) through every shell context a
// template can put them in, run by the real bash, dash and, over SSH, the
// remote /bin/sh: each command must print the value byte for byte and run
// nothing of it. The contexts that cannot hold a value safely must be refused
// when the template compiles.

const corpus = hostileValues;
const marker = pwnedMarker;

/** A context, and what the command prints for a value v. `bashOnly` contexts are not POSIX. */
interface Context {
  name: string;
  template: string;
  expected(value: string): string;
}

const same = (value: string) => value;
// $(...) drops trailing newlines: the tests append a "." inside and strip it after.
const contexts: Context[] = [
  { name: "bare word", template: "printf '%s' {{ vars.v }}", expected: same },
  { name: "double quotes", template: `printf '%s' "{{ vars.v }}"`, expected: same },
  { name: "single quotes", template: "printf '%s' '{{ vars.v }}'", expected: same },
  { name: "inside text in double quotes", template: `printf '%s' "pre-{{ vars.v }}-post"`, expected: (v) => `pre-${v}-post` },
  { name: "inside text in single quotes", template: `printf '%s' 'pre-{{ vars.v }}-post'`, expected: (v) => `pre-${v}-post` },
  { name: "$(...) bare", template: `x=$(printf '%s.' {{ vars.v }}); printf '%s' "\${x%.}"`, expected: same },
  { name: "$(...) inside double quotes", template: `x="$(printf '%s.' {{ vars.v }})"; printf '%s' "\${x%.}"`, expected: same },
  { name: "nested quotes inside $(...) inside double quotes", template: `x="$(printf '%s.' "{{ vars.v }}")"; printf '%s' "\${x%.}"`, expected: same },
  { name: "single quotes inside $(...) inside double quotes", template: `x="$(printf '%s.' '{{ vars.v }}')"; printf '%s' "\${x%.}"`, expected: same },
  { name: "nested $(...) twice", template: `x="$(printf '%s' "$(printf '%s.' "{{ vars.v }}")")"; printf '%s' "\${x%.}"`, expected: same },
  { name: "backticks", template: "x=`printf '%s.' {{ vars.v }}`; printf '%s' \"${x%.}\"", expected: same },
  { name: "unquoted here-document", template: "cat <<EOF\nv: {{ vars.v }}\nEOF", expected: (v) => `v: ${v}\n` },
  { name: "here-document with tabs stripped", template: "cat <<-EOF\n\tv: {{ vars.v }}\n\tEOF", expected: (v) => `v: ${v}\n` },
  { name: "$(...) inside a here-document", template: `cat <<EOF\n$(printf '%s' "{{ vars.v }}")x\nEOF`, expected: (v) => `${v.replace(/\n+$/, "")}x\n` },
  { name: "assignment", template: `x={{ vars.v }}; printf '%s' "$x"`, expected: same },
  { name: "case word and pattern", template: `case {{ vars.v }} in {{ vars.v }}) printf '%s' {{ vars.v }};; *) printf 'no match';; esac`, expected: same },
  { name: "positional parameter of sh -c", template: `sh -c 'printf "%s" "$1"' sh {{ vars.v }}`, expected: same },
  { name: "after a comment", template: "printf '%s' {{ vars.v }} # {{ vars.v }}", expected: same },
  { name: "argument of a function", template: `f() { printf '%s' "$1"; }; f {{ vars.v }}`, expected: same },
  { name: "in a pipeline and a subshell", template: `(printf '%s' {{ vars.v }}) | cat`, expected: same },
];

/** Templates a value can never be made safe in: refused at compile time. */
const refused: { name: string; template: string; reason: RegExp }[] = [
  { name: "arithmetic $(( ))", template: "echo $(( {{ vars.v }} + 1 ))", reason: /arithmetic/ },
  { name: "arithmetic (( ))", template: "(( n = {{ vars.v }} ))", reason: /arithmetic/ },
  { name: "$[ ] arithmetic", template: "echo $[ {{ vars.v }} ]", reason: /arithmetic/ },
  { name: "quoted here-document", template: "cat <<'EOF'\nv: {{ vars.v }}\nEOF", reason: /quoted here-document/ },
  { name: "${...} operator", template: `echo "\${x:-{{ vars.v }}}"`, reason: /\$\{\.\.\.\}/ },
  { name: "$'...'", template: "echo $'{{ vars.v }}'", reason: /\$'/ },
  { name: "backticks inside double quotes", template: 'echo "`echo {{ vars.v }}`"', reason: /backticks/ },
  { name: "eval", template: 'eval "echo {{ vars.v }}"', reason: /eval parses/ },
  { name: "sh -c script", template: `sh -c "echo {{ vars.v }}"`, reason: /sh -c/ },
  { name: "sudo bash -c script", template: `sudo -u nobody bash -c 'echo {{ vars.v }}'`, reason: /bash -c/ },
  { name: "ssh remote command", template: "ssh web1 systemctl restart {{ vars.v }}", reason: /ssh parses/ },
  { name: "[[ -eq ]]", template: "[[ {{ vars.v }} -eq 1 ]] && echo one", reason: /arithmetic/ },
  { name: "array subscript", template: "a[{{ vars.v }}]=1", reason: /subscript/ },
  { name: "declare -i", template: "declare -i n={{ vars.v }}", reason: /arithmetic/ },
  { name: "assignment to an integer variable", template: "declare -i n; n={{ vars.v }}", reason: /declared integer/ },
  { name: "awk program", template: `awk '{ print "{{ vars.v }}" }' /etc/hostname`, reason: /awk runs/ },
  { name: "sed script", template: `sed "s/x/{{ vars.v }}/" /etc/hostname`, reason: /sed runs/ },
  { name: "python -c", template: `python3 -c "print('{{ vars.v }}')"`, reason: /python3 -c/ },
  { name: "trap", template: `trap "echo {{ vars.v }}" EXIT`, reason: /trap parses/ },
  { name: "after a backslash", template: "echo \\{{ vars.v }}", reason: /backslash/ },
  { name: "after a $", template: "echo ${{ vars.v }}", reason: /follows a \$/ },
  { name: "kubectl exec -- sh -c", template: "kubectl exec pod -- sh -c 'echo {{ vars.v }}'", reason: /sh -c/ },
  { name: "here-document delimiter", template: "cat <<{{ vars.v }}\nx\n", reason: /delimiter/ },
  { name: "env -S string", template: 'env -S "printf %s\\n {{ vars.v }}"', reason: /env -S/ },
  { name: "env --split-string=", template: "env --split-string='echo {{ vars.v }}'", reason: /env -S/ },
  { name: "sudo env -iS", template: "sudo env -iS'echo {{ vars.v }}'", reason: /env -S/ },
  { name: "here-document run by sh", template: "sh <<EOF\necho {{ vars.v }}\nEOF", reason: /here-document that sh runs/ },
  { name: "here-document piped into bash", template: "cat <<EOF | sudo -n bash\n{{ vars.v }}\nEOF", reason: /here-document that bash runs/ },
  { name: "output piped into sh", template: "printf '%s\\n' {{ vars.v }} | sh", reason: /piped into sh/ },
  { name: "here-document python3 - reads", template: "python3 - <<EOF\nprint('{{ vars.v }}')\nEOF", reason: /python3 runs/ },
];

const compiled = new Map<string, Template>();
beforeAll(async () => {
  for (const context of contexts) compiled.set(context.name, await compileTemplate(context.template, "test", ["vars"], "shell"));
});

beforeEach(() => rmSync(marker, { force: true }));

const encode = (text: string) => new TextEncoder().encode(text);

function runShell(shell: string, command: string, cwd: string): { stdout: Uint8Array; stderr: string; exitCode: number } {
  const result = Bun.spawnSync([shell, "-c", command], { cwd, stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
  return { stdout: result.stdout, stderr: result.stderr.toString(), exitCode: result.exitCode };
}

describe("hostile values through the real shells", () => {
  let cwd: string;
  beforeAll(async () => {
    cwd = await mkdtemp(join(tmpdir(), "opskit-hostile-"));
  });
  afterAll(async () => {
    await rm(cwd, { recursive: true, force: true });
  });

  for (const shell of ["/bin/bash", "/bin/dash"]) {
    for (const context of contexts) {
      test(`${shell.split("/").at(-1)}: ${context.name} prints every value byte for byte and runs none`, async () => {
        const template = compiled.get(context.name)!;
        const failures: string[] = [];
        for (const { name, value } of corpus) {
          const { command } = template.renderShell({ vars: { v: value } });
          const result = runShell(shell, command, cwd);
          const expected = encode(context.expected(value));
          if (result.exitCode !== 0 || Buffer.compare(Buffer.from(result.stdout), Buffer.from(expected)) !== 0) {
            failures.push(`${name}: exit ${result.exitCode}, printed ${JSON.stringify(new TextDecoder().decode(result.stdout).slice(0, 120))} ${result.stderr.slice(0, 200)}`);
          }
          if (existsSync(marker)) failures.push(`${name}: created ${marker}`);
          rmSync(marker, { force: true });
        }
        expect(failures).toEqual([]);
        expect(await readdir(cwd)).toEqual([]);
      });
    }
  }

  test("generated values: any string reaches bash and dash unchanged in every context", async () => {
    const some = ["bare word", "double quotes", "single quotes", "$(...) inside double quotes", "unquoted here-document", "case word and pattern"].map((name) => contexts.find((c) => c.name === name)!);
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 40 }).filter((s) => !s.includes("\0")), fc.constantFrom(...some), fc.constantFrom("/bin/bash", "/bin/dash"), (value, context, shell) => {
        const { command } = compiled.get(context.name)!.renderShell({ vars: { v: value } });
        const result = runShell(shell, command, cwd);
        expect(new TextDecoder().decode(result.stdout)).toBe(new TextDecoder().decode(encode(context.expected(value))));
        expect(result.exitCode).toBe(0);
      }),
      { numRuns: 300 },
    );
    expect(existsSync(marker)).toBe(false);
  });

  test("a value holding NUL is refused at render time: no shell variable can hold it", async () => {
    const template = compiled.get("bare word")!;
    for (const value of hostileNulValues) {
      expect(() => template.renderShell({ vars: { v: value } })).toThrow(expect.objectContaining({ code: "E_TEMPLATE_VALUE", message: expect.stringContaining("NUL") }));
    }
  });
});

describe("CEL: a value is a variable, never expression text", () => {
  test("a label holding CEL code is compared as text, and a template that renders it renders the text", async () => {
    const when = await compileExpression('alert.labels.service == "api"', "rules[0].when", ["alert"]);
    for (const { value } of corpus) {
      expect(when.evaluate({ alert: { labels: { service: value } } })).toEqual({ ok: true, value: value === "api" });
    }
    const hostile = '" || true || "';
    expect(when.evaluate({ alert: { labels: { service: hostile } } })).toEqual({ ok: true, value: false });
    const template = await compileTemplate("{{ alert.labels.service }}", "rules[0].vars.service", ["alert"]);
    expect(template.render({ alert: { labels: { service: 'vars.x + "' } } }, "raw")).toBe('vars.x + "');
  });
});

describe("contexts that cannot hold a value are refused at compile time", () => {
  for (const { name, template, reason } of refused) {
    test(name, async () => {
      const error = await compileTemplate(template, "workflows.yaml:4:7.exec", ["vars"], "shell").then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: "E_TEMPLATE_UNSAFE", exitCode: 65 });
      const message = (error as Error).message;
      expect(message).toMatch(reason);
      expect(message).toMatch(/^workflows\.yaml:4:7\.exec: \{\{ vars\.v \}\} at line \d+, column \d+ of the command/);
      expect((error as { hint?: string }).hint).toBeTruthy();
    });
  }

  test("env -S is refused because the real env splits a value there into more words, quoted or not", () => {
    // What the refusal prevents: "${V}" reaches env as one word, and env -S makes it several.
    const run = Bun.spawnSync(["/bin/sh", "-c", 'env -S "printf %s\\n ${V}"'], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", V: "a 'b c' d" }, stdout: "pipe" });
    expect(run.stdout.toString()).toBe("a\nb c\nd\n");
  });

  test("a shell reading its script from a here-document or a pipe runs a value there, which is why those places are refused", () => {
    // What the refusal prevents: the outer shell expands "${V}" into the text, and the inner sh parses that text.
    for (const command of ['sh <<EOF\n${V}\nEOF', 'printf "%s\\n" "${V}" | sh']) {
      const run = Bun.spawnSync(["/bin/sh", "-c", command], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", V: "echo ran" }, stdout: "pipe" });
      expect(run.stdout.toString()).toBe("ran\n");
    }
  });

  test("a value passed to sh -s as an argument, with the script in a quoted here-document, stays data", async () => {
    const template = await compileTemplate("sh -s -- {{ vars.v }} <<'EOF'\nprintf '%s' \"$1\"\nEOF", "test", ["vars"], "shell");
    for (const { name, value } of corpus) {
      const run = Bun.spawnSync(["/bin/sh", "-c", template.renderShell({ vars: { v: value } }).command], { stdout: "pipe" });
      expect(Buffer.compare(Buffer.from(run.stdout), Buffer.from(encode(value))), name).toBe(0);
    }
    expect(existsSync(marker)).toBe(false);
  });

  test("the position points at the {{ }} on its own line of a multi-line command", async () => {
    const error = (await compileTemplate("set -e\necho start\necho $(( {{ vars.v }} ))", "w.yaml:1:1.exec", ["vars"], "shell").catch((e: unknown) => e)) as Error;
    expect(error.message).toContain("at line 3, column 10 of the command");
    expect(error.message).toContain("echo $(( {{ vars.v }} ))\n           ^");
  });
});

describe("over SSH: the remote /bin/sh", () => {
  let fleet: Fleet;
  let pool: SshPool;
  beforeAll(async () => {
    fleet = await startFleet({ size: 1 });
    pool = fleetPool(fleet, { connectTimeoutMs: 10_000, authTimeoutMs: 10_000 });
  });
  afterAll(async () => {
    await pool?.close();
    await fleet?.stop();
  });

  test.each(["an exec channel", "the persistent remote shell"])("every context prints every value byte for byte and runs none, on %s", async (path) => {
    const signal = new AbortController().signal;
    const session = await pool.session(fleetEndpoint(fleet, fleet.hosts[0]!), signal);
    const shell = path === "an exec channel" ? undefined : await session.shell();
    const failures: string[] = [];
    for (const context of contexts) {
      for (const { name, value } of corpus) {
        const { command } = compiled.get(context.name)!.renderShell({ vars: { v: value } });
        const options = { timeoutMs: 20_000, signal, maxOutputBytes: 1 << 20 };
        const result = shell ? await shell.run(command, options) : await session.exec(command, options);
        if (result.exitCode !== 0 || result.stdout !== new TextDecoder().decode(encode(context.expected(value)))) {
          failures.push(`${context.name} / ${name}: exit ${result.exitCode}, printed ${JSON.stringify(result.stdout.slice(0, 120))} ${result.stderr.slice(0, 200)}`);
        }
        if (existsSync(marker)) failures.push(`${context.name} / ${name}: created ${marker}`);
        rmSync(marker, { force: true });
      }
    }
    expect(failures).toEqual([]);
  }, 240_000);
});

describe("through the CLI: --var values never run", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "opskit-var-injection-"));
    await writeFile(
      join(dir, "opskit.yaml"),
      [
        "workflows:",
        "  unit:",
        "    targets: local",
        "    steps:",
        `      - exec: echo "unit=$(basename {{ vars.service }})"`,
        "  heredoc:",
        "    targets: local",
        "    steps:",
        "      - exec: |",
        "          cat <<EOF",
        "          v: {{ vars.v }}",
        "          EOF",
        "",
      ].join("\n"),
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('exec: echo "unit=$(basename {{ vars.service }})" with a service of "api; touch FILE"', async () => {
    const result = await runOpskit(["run", "unit", "-c", join(dir, "opskit.yaml"), "--var", `service=api; touch ${marker}`, "--json"], { cwd: dir });
    expect(result.code).toBe(0);
    // basename got the whole value as one argument: "api; touch /tmp/opskit-pwned" ends in opskit-pwned.
    expect(result.stdout).toContain('"stdout":"unit=opskit-pwned\\n"');
    expect(existsSync(marker)).toBe(false);
  });

  test("a heredoc body with $(touch FILE) in the value", async () => {
    const result = await runOpskit(["run", "heredoc", "-c", join(dir, "opskit.yaml"), "--var", `v=$(touch ${marker})`, "--json"], { cwd: dir });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`v: $(touch ${marker})`);
    expect(existsSync(marker)).toBe(false);
  });

  test("a local command gets its values in its environment, never on its command line (ps shows no value)", async () => {
    const file = join(dir, "argv.yaml");
    await writeFile(file, ["workflows:", "  argv:", "    targets: local", "    steps:", `      - exec: 'tr "\\0" " " < /proc/$$/cmdline; echo; printf "%s" {{ vars.v }}'`, ""].join("\n"));
    const result = await runOpskit(["run", "argv", "-c", file, "--var", "v=value-only-in-env-7f3a", "--json"], { cwd: dir });
    expect(result.code).toBe(0);
    const stdout = JSON.parse(result.stdout.split("\n").find((line) => line.includes('"step.finished"'))!).result.stdout as string;
    const [cmdline, printed] = stdout.split("\n");
    expect(cmdline).toContain("/bin/sh -c");
    expect(cmdline).not.toContain("value-only-in-env-7f3a");
    expect(printed).toBe("value-only-in-env-7f3a");
  });

  test("opskit validate refuses a template that cannot be made safe, with file:line:col and the fix", async () => {
    const file = join(dir, "unsafe.yaml");
    await writeFile(file, ["workflows:", "  add:", "    targets: local", "    steps:", "      - exec: echo $(( {{ vars.n }} + 1 ))", ""].join("\n"));
    const result = await runOpskit(["validate", "-c", file], { cwd: dir });
    expect(result.code).toBe(65);
    expect(result.stderr).toMatch(/unsafe\.yaml:5:\d+/);
    expect(result.stderr).toContain("arithmetic");
    expect(result.stderr).toContain("hint:");
  });
});

describe("through opskit serve: alert labels never run nor widen a remediation", () => {
  test("a label host=\"*\" in targets: 'name={{ alert.labels.host }}' selects no target; host=web-1 selects only web-1; a hostile label runs nothing", async () => {
    const dir = writeConfig("");
    const marks = join(dir, "marks");
    await writeFile(
      join(dir, "opskit.yaml"),
      `
inventory:
  hosts:
    web-1: { address: 127.0.0.1, labels: { role: web } }
    web-2: { address: 127.0.0.1, labels: { role: web } }
workflows:
  restart:
    targets: role=web
    steps:
      - exec: 'printf "%s %s\\n" {{ target.name }} "{{ vars.unit }}" >> ${marks}'
rules:
  - name: restart
    match: { alertname: Down }
    run: restart
    targets: 'name={{ alert.labels.host }}'
    vars: { unit: "{{ alert.labels.unit }}" }
`,
    );
    const server = await startServe(dir);
    try {
      const fire = (host: string, unit: string) => server.post("/api/v1/alerts/alertmanager", alertmanagerNotification([{ labels: { alertname: "Down", host, unit } }]));
      expect((await fire("*", "api")).status).toBe(200);
      expect((await fire("web-1", `x"; touch ${marker}; "$(touch ${marker})`)).status).toBe(200);
      await server.waitFor("/api/v1/incidents?status=all", (list: any) => list.incidents?.find((i: any) => i.labels.host === "web-1")?.milestones?.remediated);
      const star = (await server.get("/api/v1/incidents?status=all")).incidents.find((i: any) => i.labels.host === "*");
      const detail = await server.waitFor(`/api/v1/incidents/${star.id}`, (d: any) => d.attempts?.[0]?.status === "failed" && d);
      expect(detail.attempts[0].detail).toContain(String.raw`no targets match "role=web" with "name=\\*"`);
      expect(readFileSync(marks, "utf8")).toBe(`web-1 x"; touch ${marker}; "$(touch ${marker})\n`);
      expect(existsSync(marker)).toBe(false);
    } finally {
      await server.kill();
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
