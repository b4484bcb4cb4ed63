import { ExitCode, OpsError } from "../errors.ts";
import type { SilenceMatcher, SilenceRecord } from "../journal/index.ts";
import { RE2JS, RE2JSException } from "re2js";

/**
 * Silences as Alertmanager has them: amtool's matcher syntax (parsed as
 * Alertmanager 0.25's pkg/labels/parse.go does), its validation (a label
 * name, a regular expression that compiles, at least one matcher that does
 * not match the empty string), and its matching: every matcher must hold on
 * the alert's labels, a missing label reads as the empty string, and a
 * regular expression matches the whole value (^(?:re)$).
 *
 * Regular expressions come only from silence authors; label values, which
 * they are matched against, are untrusted. They are Go's RE2 syntax, run by
 * re2js (a port of RE2) in time linear in the value's length: JavaScript's
 * own engine backtracks, 410 ms for a*a*a*c on a 2,000-character value and
 * growing with the cube of its length, exponential on (a+)+, and one such
 * value would hold the server's event loop. At most MAX_REGEX_CHARS long.
 */

export const MAX_REGEX_CHARS = 1024;
const LABEL_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const MATCHER = /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*([\s\S]*?)\s*$/;

function invalid(message: string, hint = 'write matchers as amtool does: name=value, name!=value, name=~regex, name!~regex; quote values with spaces or commas: service="a, b"'): OpsError {
  return new OpsError({ code: "E_SILENCE_MATCHER", message, hint, exitCode: ExitCode.usage });
}

const operators: Record<string, Pick<SilenceMatcher, "isRegex" | "isEqual">> = {
  "=": { isRegex: false, isEqual: true },
  "!=": { isRegex: false, isEqual: false },
  "=~": { isRegex: true, isEqual: true },
  "!~": { isRegex: true, isEqual: false },
};

/** How a matcher is written back: amtool's form, the value always quoted, with the only escapes its parser reads (\", \\, \n). */
export function formatMatcher(m: SilenceMatcher): string {
  const op = m.isRegex ? (m.isEqual ? "=~" : "!~") : m.isEqual ? "=" : "!=";
  return `${m.name}${op}"${m.value.replace(/[\\"]/g, "\\$&").replace(/\n/g, "\\n")}"`;
}

export const formatMatchers = (matchers: readonly SilenceMatcher[]): string => `{${matchers.map(formatMatcher).join(", ")}}`;

/** One matcher, `name=value` with the value bare or quoted (\", \\ and \n escaped), as Alertmanager's ParseMatcher. */
export function parseMatcher(text: string): SilenceMatcher {
  const found = MATCHER.exec(text);
  if (!found) throw invalid(`bad matcher format: ${text}`);
  const [, name, op, raw] = found as unknown as [string, string, string, string];
  let rawValue = raw;
  let expectQuote = false;
  if (rawValue.startsWith('"')) {
    rawValue = rawValue.slice(1);
    expectQuote = true;
  }
  let value = "";
  let escaped = false;
  const chars = [...rawValue];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (escaped) {
      escaped = false;
      if (c === "n") value += "\n";
      else if (c === '"' || c === "\\") value += c;
      // A spurious escape keeps its backslash.
      else value += `\\${c}`;
      continue;
    }
    if (c === "\\") {
      if (i < chars.length - 1) escaped = true;
      else value += "\\";
    } else if (c === '"') {
      if (!expectQuote || i < chars.length - 1) throw invalid(`matcher value contains unescaped double quote: ${raw}`);
      expectQuote = false;
    } else value += c;
  }
  if (expectQuote) throw invalid(`matcher value contains unescaped double quote: ${raw}`);
  const matcher = { name, value, ...operators[op]! };
  if (matcher.isRegex) compileRegex(value);
  return matcher;
}

/** A list of matchers, `{a="1", b=~"x,y"}` or without braces, split on commas outside quotes, as Alertmanager's ParseMatchers. */
export function parseMatchers(text: string): SilenceMatcher[] {
  let s = text.trim();
  if (s.startsWith("{")) s = s.slice(1);
  if (s.endsWith("}")) s = s.slice(0, -1);
  const tokens: string[] = [];
  let token = "";
  let quoted = false;
  let escaped = false;
  for (const c of s) {
    if (c === "," && !quoted) {
      tokens.push(token);
      token = "";
      continue;
    }
    if (c === '"') {
      if (!escaped) quoted = !quoted;
      else escaped = false;
    } else if (c === "\\") escaped = !escaped;
    else escaped = false;
    token += c;
  }
  if (token.trim() !== "") tokens.push(token.trim());
  return tokens.map(parseMatcher);
}

/**
 * Matchers from a command line, as `amtool silence add` takes them: one
 * matcher an argument (a value may hold commas), `{...}` a group of them,
 * and a first argument with no operator is the alertname.
 */
export function matchersFromArgs(args: readonly string[]): SilenceMatcher[] {
  const out: SilenceMatcher[] = [];
  args.forEach((arg, i) => {
    if (arg.trim().startsWith("{")) out.push(...parseMatchers(arg));
    else if (i === 0 && !MATCHER.test(arg)) out.push({ name: "alertname", value: arg, isRegex: false, isEqual: true });
    else out.push(parseMatcher(arg));
  });
  return out;
}

/** A compiled pattern; `test` is a full match (^(?:re)$, as Alertmanager anchors it). */
interface FullMatch {
  test(value: string): boolean;
}

const compiled = new Map<string, FullMatch>();

/** The compiled RE2 pattern (matched whole, as Alertmanager anchors it), or an OpsError that says why it is refused. */
export function compileRegex(pattern: string): FullMatch {
  const cached = compiled.get(pattern);
  if (cached) return cached;
  if (pattern.length > MAX_REGEX_CHARS) throw invalid(`a silence's regular expression is at most ${MAX_REGEX_CHARS} characters (this one has ${pattern.length})`, "match on fewer values, or on another label");
  let regex: FullMatch;
  try {
    const re2 = RE2JS.compile(pattern);
    regex = { test: (value) => re2.matches(value) };
  } catch (error) {
    if (!(error instanceof RE2JSException)) throw error;
    throw invalid(`regular expression ${JSON.stringify(pattern)}: ${error.message}`, "write it in Go's RE2 syntax, as Alertmanager takes it (no backreferences or lookaround)");
  }
  if (compiled.size > 1000) compiled.clear();
  compiled.set(pattern, regex);
  return regex;
}

/** Whether one matcher holds for a label value (a missing label is ""). */
export function matcherHolds(m: SilenceMatcher, value: string): boolean {
  const equal = m.isRegex ? compileRegex(m.value).test(value) : value === m.value;
  return m.isEqual ? equal : !equal;
}

/** Whether every matcher holds on these labels. */
export function silenceMatches(matchers: readonly SilenceMatcher[], labels: Readonly<Record<string, string>>): boolean {
  return matchers.every((m) => matcherHolds(m, Object.hasOwn(labels, m.name) ? labels[m.name]! : ""));
}

/**
 * Alertmanager's rule for a silence's matchers: each a valid label name and,
 * for a regular expression, one that compiles; at least one that does not
 * match the empty string (`name=""` and `name=~".*"` alone would silence
 * everything). As in Alertmanager, != and !~ count as not matching it.
 */
export function validateMatchers(matchers: readonly SilenceMatcher[]): void {
  if (matchers.length === 0) throw invalid("a silence needs at least one matcher", "e.g. opskit silence add alertname=ApiDown --for 2h --comment \"...\"");
  for (const m of matchers) {
    if (!LABEL_NAME.test(m.name)) throw invalid(`invalid label name ${JSON.stringify(m.name)}`);
    if (m.isRegex) compileRegex(m.value);
  }
  const matchesEmpty = (m: SilenceMatcher) => m.isEqual && (m.isRegex ? compileRegex(m.value).test("") : m.value === "");
  if (matchers.every(matchesEmpty)) throw invalid("at least one matcher must not match the empty string: these would silence every alert", 'add a matcher such as alertname=ApiDown, or service=~"api.+"');
}

export type SilenceState = "active" | "pending" | "expired";

export function silenceState(silence: Pick<SilenceRecord, "startsAt" | "endsAt">, now: number): SilenceState {
  if (silence.endsAt <= now) return "expired";
  return silence.startsAt > now ? "pending" : "active";
}

/** The first active silence among these whose matchers hold on the labels. */
export function silencing(silences: readonly SilenceRecord[], labels: Readonly<Record<string, string>>, now: number): SilenceRecord | undefined {
  return silences.find((s) => silenceState(s, now) === "active" && silenceMatches(s.matchers, labels));
}

export interface SilenceInput {
  matchers: SilenceMatcher[];
  /** Default now; a start in the past is now. */
  startsAt?: number;
  endsAt: number;
  createdBy: string;
  comment: string;
}

/** A new silence from what its author gave, checked by Alertmanager's rules (matchers, an end after its start and in the future). */
export function newSilence(input: SilenceInput, now = Date.now()): SilenceRecord {
  validateMatchers(input.matchers);
  if (input.createdBy.trim() === "") throw new OpsError({ code: "E_SILENCE_AUTHOR", message: "a silence needs its author (createdBy)", hint: "pass --as NAME", exitCode: ExitCode.usage });
  const startsAt = Math.max(now, input.startsAt ?? now);
  if (!Number.isFinite(input.endsAt) || input.endsAt <= startsAt) {
    throw new OpsError({ code: "E_SILENCE_TIME", message: "a silence must end after it starts, and in the future", hint: "give --for 2h, or an --end after --start", exitCode: ExitCode.usage });
  }
  return { id: crypto.randomUUID(), matchers: input.matchers, startsAt, endsAt: input.endsAt, createdBy: input.createdBy, comment: input.comment, createdAt: now, updatedAt: now };
}

/**
 * Alertmanager's filter on a list of silences: one is listed when every
 * filter matcher holds on the labels its equality matchers name.
 */
export function silenceListed(silence: SilenceRecord, filter: readonly SilenceMatcher[]): boolean {
  const labels: Record<string, string> = {};
  for (const m of silence.matchers) if (m.isEqual && !m.isRegex) labels[m.name] = m.value;
  return silenceMatches(filter, labels);
}
