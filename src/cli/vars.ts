import { usageError } from "../errors.ts";
import { defineOptions, type OptionValues } from "./options.ts";

/**
 * Vars from the command line. `--var k=v` is always text: a version 1.10
 * or a mode 0755 reaches the run exactly as typed. `--var-json k=JSON` is
 * for typed values (numbers, booleans, lists, objects, null). Every command
 * that takes vars reads them here.
 */
export const varOptions = defineOptions({
  var: { kind: "list", value: "k=v", description: "set a var to this text, exactly as written (repeatable), e.g. --var version=1.10" },
  varJson: {
    kind: "list",
    value: "k=json",
    description: "set a var to a JSON value: number, boolean, list, object (repeatable), e.g. --var-json replicas=3 --var-json 'zones=[\"a\",\"b\"]'",
  },
});

/** --var and --var-json as read; absent for a command that takes none (the vars are then none). */
export type VarOptions = Partial<OptionValues<typeof varOptions>>;

/** The vars that --var and --var-json set, in that order of precedence: a name set by both is a usage error. */
export function parseVarOptions(options: VarOptions): Record<string, unknown> {
  const vars: Record<string, unknown> = {};
  const from = new Map<string, string>();
  const set = (flag: string, pair: string, value: (raw: string, at: number) => unknown) => {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw usageError("E_USAGE_VAR", `invalid ${flag} "${pair}"`, `write it as name=value, e.g. ${flag === "--var" ? "--var version=1.4.3" : "--var-json replicas=3"}`);
    const name = pair.slice(0, eq);
    const earlier = from.get(name);
    if (earlier !== undefined && earlier !== flag) throw usageError("E_USAGE_VAR", `var "${name}" is set by both --var and --var-json`, "give it once: --var for text, --var-json for a typed value");
    from.set(name, flag);
    vars[name] = value(pair.slice(eq + 1), eq + 1);
  };
  for (const pair of options.var ?? []) set("--var", pair, (raw) => raw);
  for (const pair of options.varJson ?? []) set("--var-json", pair, (raw, at) => parseJsonValue(raw, pair, at));
  return vars;
}

function parseJsonValue(raw: string, pair: string, at: number): unknown {
  const offset = jsonErrorOffset(raw);
  if (offset < 0) return JSON.parse(raw);
  const found = offset < raw.length ? `unexpected ${JSON.stringify(raw[offset])}` : "unexpected end";
  const bareWord = /^[A-Za-z_][\w.-]*$/.test(raw) && !["true", "false", "null"].includes(raw);
  throw usageError(
    "E_USAGE_VAR_JSON",
    `invalid JSON in --var-json ${pair}: ${found} at position ${offset + 1} of the value\n  ${pair}\n  ${" ".repeat(at + offset)}^`,
    bareWord
      ? `for text use --var ${pair}, or quote it as JSON: --var-json '${pair.slice(0, at)}"${raw}"'`
      : `the value is JSON: a number (3), true/false, null, "text", a list ([1,2]) or an object ({"k":1}); quote it for the shell`,
  );
}

/**
 * Offset of the first character that makes `text` not one JSON value
 * (RFC 8259), or -1 when it is one. JSON.parse says what is wrong but, in
 * this runtime, not where.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const stop = new Error("json");
  const fail = (): never => {
    throw stop;
  };
  const space = () => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++;
  };
  const string = () => {
    i++;
    for (;;) {
      const c = text[i];
      if (c === undefined || c < " ") fail();
      if (c === '"') return void i++;
      if (c !== "\\") {
        i++;
        continue;
      }
      i++;
      if (text[i] !== undefined && '"\\/bfnrt'.includes(text[i]!)) {
        i++;
        continue;
      }
      if (text[i] !== "u") fail();
      i++;
      for (let n = 0; n < 4; n++, i++) if (!/[0-9a-fA-F]/.test(text[i] ?? "")) fail();
    }
  };
  const number = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const sequence = (close: string, item: () => void) => {
    i++;
    space();
    if (text[i] === close) return void i++;
    for (;;) {
      item();
      space();
      if (text[i] === ",") {
        i++;
        continue;
      }
      if (text[i] === close) return void i++;
      fail();
    }
  };
  const value = (): void => {
    space();
    const c = text[i];
    if (c === "{") {
      return sequence("}", () => {
        space();
        if (text[i] !== '"') fail();
        string();
        space();
        if (text[i] !== ":") fail();
        i++;
        value();
      });
    }
    if (c === "[") return sequence("]", value);
    if (c === '"') return string();
    for (const word of ["true", "false", "null"]) {
      if (text.startsWith(word, i)) return void (i += word.length);
    }
    number.lastIndex = i;
    const match = number.exec(text);
    if (!match) fail();
    i += match![0].length;
  };
  try {
    value();
    space();
    return i === text.length ? -1 : i;
  } catch (error) {
    if (error !== stop) throw error;
    return Math.min(i, text.length);
  }
}
