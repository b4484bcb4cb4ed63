import { closingBracket, maskChar, parsePython, splitArguments, stringAt, type PySource } from "../python-syntax.ts";
import { lineStarts, positionOf } from "../position.ts";
import type { Hit, Rule, RuleSet, SourceFile } from "../types.ts";
import { classifySecret, scanSecretPatterns, secretRules } from "./secrets.ts";

/*
 * Risky ops patterns in Python scripts, matched on code with strings and
 * comments masked, so the same words in a docstring or a comment are not
 * reported.
 */

export const rules: readonly Rule[] = [
  {
    id: "OPS-PY-001",
    severity: "error",
    title: "shell command built from data",
    why: "With shell=True (or os.system) the string is parsed by /bin/sh: a host name, label or file name holding ; $( ) or ` runs commands.",
    fix: "Pass a list without shell=True: subprocess.run([\"systemctl\", \"restart\", unit], check=True); if a shell is needed, shlex.quote() each value.",
  },
  {
    id: "OPS-PY-002",
    severity: "error",
    title: "TLS verification disabled",
    why: "verify=False accepts any certificate, so anyone on the path can read and change the traffic, credentials included.",
    fix: "Keep verification on; for a private CA pass verify=\"/path/to/ca.pem\" (or set REQUESTS_CA_BUNDLE).",
  },
  {
    id: "OPS-PY-003",
    severity: "error",
    title: "yaml.load without a safe loader",
    why: "yaml.load with the default, Full or unsafe loader builds Python objects named in the document: a crafted YAML file runs code.",
    fix: "Use yaml.safe_load(f), or yaml.load(f, Loader=yaml.SafeLoader).",
  },
  ...secretRules,
];

interface Imports {
  /** Names bound to the subprocess, os and yaml modules (`import subprocess as sp`). */
  modules: Record<"subprocess" | "os" | "yaml", Set<string>>;
  /** Functions imported by name (`from subprocess import run`), by the local name. */
  functions: Map<string, string>;
}

const shellCalls = new Set(["subprocess.run", "subprocess.call", "subprocess.check_call", "subprocess.check_output", "subprocess.Popen", "subprocess.getoutput", "subprocess.getstatusoutput", "os.system", "os.popen"]);
const alwaysShell = new Set(["subprocess.getoutput", "subprocess.getstatusoutput", "os.system", "os.popen"]);

function check(file: SourceFile): Hit[] {
  const source = parsePython(file.text);
  const starts = lineStarts(file.text);
  const hits: Hit[] = [];
  const at = (offset: number, rule: string, message: string, redact?: { offset: number; length: number }) => {
    const found: Hit = { rule, ...positionOf(starts, offset), message };
    if (redact) found.redact = { column: positionOf(starts, redact.offset).column, length: redact.length };
    hits.push(found);
  };
  const imports = readImports(source);
  const { masked } = source;
  for (const match of masked.matchAll(/\b([A-Za-z_][\w.]*?)\s*\(/g)) {
    const callee = qualify(match[1]!.replace(/\s+/g, ""), imports);
    if (callee === undefined) continue;
    const open = match.index + match[0].length - 1;
    if (shellCalls.has(callee)) checkShellCall(source, callee, match.index, open, at);
    else if (callee === "yaml.load" || callee === "yaml.load_all") checkYamlLoad(source, callee, match.index, open, at);
    else if (callee === "yaml.unsafe_load" || callee === "yaml.unsafe_load_all") at(match.index, "OPS-PY-003", `${callee} builds arbitrary Python objects from the document`);
  }
  for (const match of masked.matchAll(/\bverify\s*=\s*False\b/g)) at(match.index, "OPS-PY-002", "verify=False turns off TLS certificate verification");
  checkSecrets(source, at);
  hits.push(...scanSecretPatterns(file.text.split("\n")));
  return hits;
}

type Report = (offset: number, rule: string, message: string, redact?: { offset: number; length: number }) => void;

/** `subprocess.run` (or an alias) as a qualified name, or undefined when it is none of the modules watched. */
function qualify(name: string, imports: Imports): string | undefined {
  const dot = name.lastIndexOf(".");
  if (dot < 0) return imports.functions.get(name);
  const head = name.slice(0, dot);
  const tail = name.slice(dot + 1);
  for (const module of ["subprocess", "os", "yaml"] as const) if (imports.modules[module].has(head)) return `${module}.${tail}`;
  return undefined;
}

function readImports(source: PySource): Imports {
  const imports: Imports = { modules: { subprocess: new Set(["subprocess"]), os: new Set(["os"]), yaml: new Set(["yaml"]) }, functions: new Map() };
  for (const match of source.masked.matchAll(/^[ \t]*import[ \t]+([^\n;]+)/gm)) {
    for (const part of match[1]!.split(",")) {
      const [module, alias] = part.trim().split(/\s+as\s+/);
      if (module === "subprocess" || module === "os" || module === "yaml") imports.modules[module].add((alias ?? module).trim());
    }
  }
  for (const match of source.masked.matchAll(/^[ \t]*from[ \t]+(subprocess|os|yaml)[ \t]+import[ \t]+\(?([^)\n;]+)/gm)) {
    for (const part of match[2]!.split(",")) {
      const [name, alias] = part.trim().split(/\s+as\s+/);
      if (name) imports.functions.set((alias ?? name).trim(), `${match[1]}.${name.trim()}`);
    }
  }
  return imports;
}

function checkShellCall(source: PySource, callee: string, at: number, open: number, report: Report): void {
  const { masked } = source;
  const close = closingBracket(masked, open);
  const args = splitArguments(masked, open, close);
  const keyword = (name: string) => args.find(([s, e]) => new RegExp(`^\\s*${name}\\s*=`).test(masked.slice(s, e)));
  if (!alwaysShell.has(callee)) {
    const shell = keyword("shell");
    if (!shell || !/=\s*True\s*$/.test(masked.slice(shell[0], shell[1]))) return;
  }
  const command = keyword("args") ?? keyword("cmd") ?? args.find(([s, e]) => !/^\s*\w+\s*=[^=]/.test(masked.slice(s, e)));
  if (!command) return;
  const [s, e] = command;
  const text = masked.slice(s, e).replace(/^\s*(args|cmd)\s*=/, "");
  const how = describeNonLiteral(source, s, e, text);
  if (how) report(at, "OPS-PY-001", `${callee}${alwaysShell.has(callee) ? "" : "(shell=True)"} runs a command built from ${how}`);
}

/** Why an argument is not a plain literal, or undefined when it is one (strings, or a list of them). */
function describeNonLiteral(source: PySource, start: number, end: number, text: string): string | undefined {
  let plain = true;
  let formatted = false;
  for (let i = start; i < end; i++) {
    const c = source.masked[i]!;
    if (/\s|[[\](),]/.test(c)) continue;
    const literal = stringAt(source, i);
    if (literal) {
      if (literal.prefix.includes("f") && literal.value.includes("{")) formatted = true;
      i = literal.end - 1;
      continue;
    }
    plain = false;
    break;
  }
  if (formatted) return "an f-string";
  if (plain) return undefined;
  if (/\.\s*format\s*\(/.test(text)) return "str.format()";
  if (/["']\s*%/.test(text) || /%\s*\(/.test(text)) return "%-formatting";
  if (text.includes("+")) return "string concatenation";
  return `a variable or expression (${text.replace(new RegExp(maskChar, "g"), "…").trim().slice(0, 40)})`;
}

function checkYamlLoad(source: PySource, callee: string, at: number, open: number, report: Report): void {
  const { masked } = source;
  const close = closingBracket(masked, open);
  const args = splitArguments(masked, open, close).map(([s, e]) => masked.slice(s, e).trim());
  const loader = args.find((a) => /^Loader\s*=/.test(a)) ?? (args[1] !== undefined && !/^\w+\s*=/.test(args[1]) ? args[1] : undefined);
  if (loader && /\bC?(Safe|Base)Loader\s*$/.test(loader)) return;
  const which = loader ? loader.replace(/^Loader\s*=\s*/, "") : "the default loader";
  report(at, "OPS-PY-003", `${callee} with ${which} can build arbitrary Python objects from the document`);
}

/** `password = "..."`, `token="..."` (keyword), `"api_key": "..."` (dict entry). */
function checkSecrets(source: PySource, report: Report): void {
  const { masked } = source;
  for (const literal of source.strings) {
    if (literal.prefix.includes("f") || literal.prefix.includes("b")) continue;
    const before = masked.slice(Math.max(0, literal.start - 120), literal.start);
    let name: string | undefined;
    let nameAt = 0;
    const assigned = /([A-Za-z_]\w*)\s*(?::\s*[\w[\], .|]+)?(?<![=!<>])=\s*$/.exec(before);
    if (assigned) {
      name = assigned[1];
      nameAt = literal.start - before.length + assigned.index;
    } else {
      const key = /(["'])\x01*\1\s*:\s*$/.exec(before);
      const keyString = key ? stringAt(source, literal.start - before.length + key.index) : undefined;
      if (keyString) {
        name = keyString.value;
        nameAt = keyString.start;
      }
    }
    if (!name) continue;
    const secret = classifySecret(name, literal.value);
    if (secret) report(nameAt, secret.rule, secret.message, { offset: literal.end - 1 - literal.value.length, length: literal.value.length });
  }
}

export const pythonRules: RuleSet = { language: "python", rules, check };
