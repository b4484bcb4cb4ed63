import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { compileGlob, compilePatternList, globTokens, tokensOverlap, type GlobOptions, type GlobToken } from "./index.ts";

const matches = (pattern: string, text: string, options?: GlobOptions) => compileGlob(pattern, options).test(text);

describe("compileGlob", () => {
  test("* is any run of characters, newlines included; ? one code point; the whole text must match", () => {
    expect(matches("journalctl *", "journalctl -u api --since '1 hour ago'")).toBe(true);
    expect(matches("a*b*c", "aXXbYYbZZc")).toBe(true);
    expect(matches("a*b*c", "aXXbYYbZZ")).toBe(false);
    expect(matches("*", "")).toBe(true);
    expect(matches("x*y", "x\ny")).toBe(true);
    expect(matches("api-?", "api-12")).toBe(false);
    expect(matches("?", "😀")).toBe(true);
    expect(matches("??", "😀")).toBe(false);
    expect(matches("restart api", "systemctl restart api")).toBe(false);
    expect(matches("[ab]", "a")).toBe(false);
    expect(matches("[ab]", "[ab]")).toBe(true);
  });

  test("escapes: all of them for selectors, only \\* \\? \\\\ for policy globs, none for OpenSSH", () => {
    expect(matches("a\\*", "a*", { escapes: "all" })).toBe(true);
    expect(matches("a\\*", "ab", { escapes: "all" })).toBe(false);
    expect(matches("a\\b", "ab", { escapes: "all" })).toBe(true);
    expect(matches("a\\", "a\\", { escapes: "all" })).toBe(true);
    expect(matches("ls \\*.log", "ls *.log", { escapes: "glob" })).toBe(true);
    expect(matches("ls \\*.log", "ls api.log", { escapes: "glob" })).toBe(false);
    expect(matches("grep 'a\\|b' *", "grep 'a\\|b' file", { escapes: "glob" })).toBe(true);
    expect(matches("a\\\\", "a\\", { escapes: "glob" })).toBe(true);
    expect(matches("a\\*", "a\\xyz")).toBe(true);
    expect(matches("a\\*", "a*")).toBe(false);
    expect(matches("a\\?", "ab")).toBe(false);
  });

  test("ignoreCase folds both the pattern and the text", () => {
    expect(matches("WEB-*.Example.COM", "web-1.example.com", { ignoreCase: true })).toBe(true);
    expect(matches("web-*", "WEB-1", { ignoreCase: true })).toBe(true);
    expect(matches("web-*", "WEB-1")).toBe(false);
  });

  test("many stars against a long text stay fast", () => {
    const started = performance.now();
    expect(matches("*a*a*a*a*a*a*a*a*a*b", "a".repeat(5000))).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  test("runs of stars are one token", () => {
    expect(globTokens("a**b")).toEqual([{ kind: "char", char: "a" }, { kind: "star" }, { kind: "char", char: "b" }]);
  });
});

describe("tokensOverlap", () => {
  const overlap = (a: string, b: string) => tokensOverlap(globTokens(a), globTokens(b));
  test("two globs overlap when some text matches both", () => {
    expect(overlap("psql *", "*DROP TABLE*")).toBe(true);
    expect(overlap("*", "rm -rf *")).toBe(true);
    expect(overlap("systemctl restart shop", "rm -rf *")).toBe(false);
    expect(overlap("https://*", "http://*")).toBe(false);
    expect(overlap("a?c", "*b*")).toBe(true);
  });
});

describe("compilePatternList", () => {
  test("some pattern matches and no negated one does, as OpenSSH reads a pattern list", () => {
    const list = compilePatternList(["web-*", "!web-2", "db"]);
    expect(list.test("web-1")).toBe(true);
    expect(list.test("web-2")).toBe(false);
    expect(list.test("DB")).toBe(true);
    expect(list.test("cache")).toBe(false);
    expect(compilePatternList(["!web-2"]).test("web-1")).toBe(false);
  });

  test("a pattern may have its own matcher (a hashed known_hosts name)", () => {
    const list = compilePatternList(["secret", "*.lab"], (pattern) => (pattern === "secret" ? { test: (name) => name === "hidden" } : compileGlob(pattern)));
    expect(list.test("hidden")).toBe(true);
    expect(list.test("secret")).toBe(false);
    expect(list.test("a.lab")).toBe(true);
  });
});

// ---------------------------------------------------------------------------
// Against real oracles: bash's [[ text == pattern ]], `ssh -G`, `ssh-keygen -F`.

const runs = { numRuns: 150 };
const shellChars = ["a", "b", " ", "/", "é", "😀", "*", "?", "\\", "."];

function bashMatches(pattern: string, text: string): boolean {
  const script = 'if [[ $2 == $1 ]]; then echo 1; else echo 0; fi';
  const result = Bun.spawnSync(["bash", "-c", script, "bash", pattern, text], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C.UTF-8" } });
  return result.stdout.toString().trim() === "1";
}

/** Renders tokens in bash's pattern syntax: every literal backslash-escaped. */
const bashPattern = (tokens: readonly GlobToken[]) => tokens.map((t) => (t.kind === "star" ? "*" : t.kind === "one" ? "?" : `\\${t.char}`)).join("");

/** Renders tokens in one of our syntaxes, choosing freely where the syntax allows two spellings. */
function ourPattern(tokens: readonly GlobToken[], escapes: NonNullable<GlobOptions["escapes"]>, loose: readonly boolean[]): string {
  return tokens
    .map((t, i) => {
      if (t.kind === "star") return "*";
      if (t.kind === "one") return "?";
      const next = tokens[i + 1];
      if (escapes === "none") return t.char;
      if (escapes === "all") return /[*?\\]/.test(t.char) || loose[i] ? `\\${t.char}` : t.char;
      if (t.char === "*" || t.char === "?") return `\\${t.char}`;
      // "glob": a backslash is itself unless it would escape what follows.
      if (t.char === "\\") return loose[i] || !next || next.kind === "star" || next.kind === "one" || next.char === "*" || next.char === "?" || next.char === "\\" ? "\\\\" : "\\";
      return t.char;
    })
    .join("");
}

const literal = fc.constantFrom(...shellChars.filter((c) => c !== "*" && c !== "?" && c !== "\\"), "*", "?", "\\");
const token: fc.Arbitrary<GlobToken> = fc.oneof(fc.constant({ kind: "star" } as const), fc.constant({ kind: "one" } as const), literal.map((char) => ({ kind: "char", char }) as const));
const shellText = fc.array(fc.constantFrom(...shellChars), { maxLength: 8 }).map((chars) => chars.join(""));
/** Tokens with a text that is often one of their matches (each star and ? filled in), else any text. */
const withText = (tokens: GlobToken[]) => {
  const filled = fc.tuple(...tokens.map((t) => (t.kind === "star" ? fc.array(fc.constantFrom(...shellChars), { maxLength: 2 }).map((c) => c.join("")) : t.kind === "one" ? fc.constantFrom(...shellChars) : fc.constant(t.char))));
  return fc.tuple(fc.constant(tokens), fc.oneof(filled.map((parts) => parts.join("")), shellText));
};

describe("against bash's pattern matching", () => {
  test("a raw pattern with every backslash an escape matches as bash matches it", () => {
    const raw = fc.array(fc.constantFrom(...shellChars), { maxLength: 6 }).map((chars) => chars.join(""));
    fc.assert(
      fc.property(raw, shellText, (pattern, text) => matches(pattern, text, { escapes: "all" }) === bashMatches(pattern, text)),
      runs,
    );
  });

  test("the same tokens written in each escape syntax match as bash matches them", () => {
    const escapes = fc.constantFrom("all" as const, "glob" as const, "none" as const);
    fc.assert(
      fc.property(fc.array(token, { maxLength: 5 }).chain(withText), fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }), escapes, ([tokens, text], loose, mode) => {
        // Without escapes a literal * or ? cannot be written.
        fc.pre(mode !== "none" || tokens.every((t) => t.kind !== "char" || (t.char !== "*" && t.char !== "?")));
        const ours = ourPattern(tokens, mode, loose);
        return matches(ours, text, { escapes: mode }) === bashMatches(bashPattern(tokens), text);
      }),
      runs,
    );
  });

  test("a text that matches a pattern built from it always matches", () => {
    // Replace parts of the text by stars and characters by ?: the pattern must still match it.
    fc.assert(
      fc.property(shellText, fc.array(fc.nat(3), { minLength: 8, maxLength: 8 }), (text, choices) => {
        const tokens: GlobToken[] = Array.from(text).map((char, i) => (choices[i] === 0 ? { kind: "one" } : choices[i] === 1 ? { kind: "star" } : { kind: "char", char }));
        return compileGlob(ourPattern(tokens, "all", []), { escapes: "all" }).test(text);
      }),
    );
  });
});

describe("tokensOverlap against every short text", () => {
  test("two globs overlap exactly when some text over their letters and one other matches both", () => {
    const alphabet = ["a", "b", "z"];
    const texts = [""];
    for (let length = 1; length <= 6; length++) for (const text of texts.filter((t) => t.length === length - 1)) for (const c of alphabet) texts.push(text + c);
    const small = fc.array(fc.constantFrom("a", "b", "*", "?"), { maxLength: 3 }).map((chars) => chars.join(""));
    fc.assert(
      fc.property(small, small, (a, b) => {
        const [x, y] = [compileGlob(a), compileGlob(b)];
        return tokensOverlap(x.tokens, y.tokens) === texts.some((text) => x.test(text) && y.test(text));
      }),
      { numRuns: 300 },
    );
  });
});

describe("against OpenSSH", () => {
  const dir = mkdtempSync(join(tmpdir(), "opskit-glob-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const hostChars = ["a", "b", "1", "-", "."];
  const name = fc.array(fc.constantFrom(...hostChars), { maxLength: 5 }).map((chars) => `h${chars.join("")}`);
  const pattern = fc
    .tuple(fc.boolean(), fc.array(fc.constantFrom(...hostChars, "*", "?", "h"), { minLength: 1, maxLength: 5 }))
    .map(([negated, chars]) => `${negated ? "!" : ""}${chars.join("")}`);
  const patterns = fc.array(pattern, { minLength: 1, maxLength: 3 });

  test("an ssh_config Host line matches the names `ssh -G` applies it to", () => {
    // ssh matches Host patterns case-sensitively against the name as typed; opskit ignores case (see the report): compared in lower case.
    const config = join(dir, "config");
    fc.assert(
      fc.property(patterns, name, (list, host) => {
        writeFileSync(config, `Host ${list.join(" ")}\n  User matched\n`);
        const ssh = Bun.spawnSync(["ssh", "-G", "-F", config, host], { stderr: "ignore" });
        return compilePatternList(list).test(host) === /^user matched$/m.test(ssh.stdout.toString());
      }),
      { numRuns: 60 },
    );
  });

  test("a known_hosts line matches the names `ssh-keygen -F` finds it for, in either case", () => {
    const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    const file = join(dir, "known_hosts");
    const mixed = name.chain((host) => fc.constantFrom(host, host.toUpperCase()));
    fc.assert(
      fc.property(patterns, mixed, (list, host) => {
        writeFileSync(file, `${list.join(",")} ${key}\n`);
        const found = Bun.spawnSync(["ssh-keygen", "-F", host, "-f", file], { stderr: "ignore" });
        return compilePatternList(list).test(host) === found.stdout.toString().includes("ssh-ed25519");
      }),
      { numRuns: 60 },
    );
  });
});
