import { OpsError } from "../errors.ts";

/*
 * Host patterns as ClusterShell's nodeset folds them, and as pssh and
 * ClusterShell users type them: items separated by commas, each a name with
 * bracket groups of numbers (`web[01-40]`, `n[1,3,5-7]`, `n[1-10/2]`;
 * several groups in one name give every combination, the last varying
 * fastest). A range keeps the zero padding it is written with, and a padded
 * bound must be as long as the other (ClusterShell's RangeSet rule, so
 * `[1-010]` is refused as nodeset refuses it). opskit adds `user@` before and
 * `:port` after each host, and IPv6 literals in brackets (`[::1]:2222`,
 * `root@[2001:db8::7]`): a bracket holding a colon is an address, never a
 * range. Expansions are counted before they are made, so a typo such as
 * `[1-1000000]` is refused rather than filling memory.
 */

/** The most hosts one pattern (or file) may expand to. */
export const MAX_EXPANDED_HOSTS = 100_000;

/** One host of an expanded pattern: its name as written (`root@web01:2222`), and its parts. */
export interface HostPatternEntry {
  name: string;
  host: string;
  user?: string;
  port?: number;
}

/** Where a pattern comes from, for errors: `-H`, `hosts.txt:3`; and the error kind (usage for a flag, config for a file). */
export interface PatternOrigin {
  where: string;
  fail(code: string, message: string, hint?: string): OpsError;
}

type Segment = { text: string } | { values: string[] };

/** Characters a host name, a user or a port may hold outside brackets. */
const plain = /[A-Za-z0-9._\-@:]/;
const ipv6 = /^[0-9A-Fa-f:.]+$/;

class PatternReader {
  /** Hosts counted so far across items, against MAX_EXPANDED_HOSTS. */
  count = 0;

  constructor(
    private readonly pattern: string,
    private readonly origin: PatternOrigin,
    /** Column of the pattern's first character in what the user wrote (1 for -H, more for an indented file line). */
    private readonly firstColumn: number,
  ) {}

  error(index: number, message: string, hint: string): OpsError {
    const column = this.firstColumn + index;
    const shown = JSON.stringify(this.pattern);
    return this.origin.fail("E_HOST_PATTERN", `${this.origin.where}: column ${column} of ${shown}: ${message}`, hint);
  }

  /** Items at the top level, split on commas outside brackets, each with the index it starts at. */
  items(): Array<{ text: string; at: number }> {
    const items: Array<{ text: string; at: number }> = [];
    let depth = 0;
    let start = 0;
    for (let i = 0; i <= this.pattern.length; i++) {
      const c = this.pattern[i];
      if (c === "[") depth++;
      else if (c === "]") depth = Math.max(0, depth - 1);
      else if ((c === "," && depth === 0) || c === undefined) {
        if (i === start) throw this.error(i, c === undefined && start > 0 ? "a comma with no host after it" : "an empty host", "write hosts separated by single commas, e.g. web1,web2 or web[1-2]");
        items.push({ text: this.pattern.slice(start, i), at: start });
        start = i + 1;
      }
    }
    return items;
  }

  /** An item's literal text and bracket groups, in order. */
  segments(item: string, at: number): Segment[] {
    const segments: Segment[] = [];
    let literal = "";
    for (let i = 0; i < item.length; i++) {
      const c = item[i]!;
      if (c === "]") throw this.error(at + i, `"]" closes no "["`, "open the range with [, e.g. web[1-3]");
      if (c !== "[") {
        // ClusterShell's rule: x[1-9/2]0 would read as a range of its own; nodeset refuses it too.
        if (c >= "0" && c <= "9" && literal === "" && item[i - 1] === "]" && item.slice(item.lastIndexOf("[", i), i).includes("/")) {
          throw this.error(at + i, "digits right after a range with a step", "put a separator after the range, e.g. web[1-9/2]-0, or write the numbers into the range");
        }
        if (!plain.test(c)) throw this.error(at + i, `${JSON.stringify(c)} cannot be part of a host`, "a host is [user@]name[:port] with letters, digits, '.', '-' and '_'; ranges go in brackets, e.g. web[01-40]");
        literal += c;
        continue;
      }
      if (item[i - 1] === "]" && literal === "" && segments.length > 0) {
        throw this.error(at + i, "a range right after another", `put a separator between them, e.g. ${item.slice(0, i)}-${item.slice(i)}`);
      }
      const close = item.indexOf("]", i + 1);
      const reopen = item.indexOf("[", i + 1);
      if (close < 0) throw this.error(at + i, `"[" is not closed`, `close the range with ], e.g. ${item.slice(0, i)}[1-3]`);
      if (reopen >= 0 && reopen < close) throw this.error(at + reopen, `"[" inside a range`, "ranges do not nest: write web[1-3]-[1-2] for every combination");
      const content = item.slice(i + 1, close);
      if (content.includes(":")) {
        if (!ipv6.test(content)) throw this.error(at + i + 1, `"${content}" is not an IPv6 address`, "write an IPv6 address in brackets, e.g. [2001:db8::7]:2222");
        literal += `[${content}]`;
      } else {
        if (literal) segments.push({ text: literal });
        literal = "";
        segments.push({ values: this.range(content, at + i + 1) });
      }
      i = close;
    }
    if (literal) segments.push({ text: literal });
    return segments;
  }

  /** `1-3,5,07-10/2` as ClusterShell's RangeSet reads it: numbers in order written, each once, padding kept. */
  range(content: string, at: number): string[] {
    if (content === "") throw this.error(at - 1, "an empty range", "put numbers in the brackets, e.g. web[1-3] or web[1,4]");
    const values: string[] = [];
    let offset = 0;
    for (const part of content.split(",")) {
      const where = at + offset;
      offset += part.length + 1;
      const example = "e.g. [1-3], [01-40], [1,3,5-7] or [1-10/2]";
      const match = /^(\d+)(?:-(\d+))?(?:\/(\d+))?$/.exec(part);
      if (!match || (match[2] === undefined && match[3] !== undefined && Number(match[3]) !== 1)) {
        const why = part === "" ? "an empty item in a range" : match ? `a step needs a range: "${part}"` : `"${part}" is not a number or a range`;
        throw this.error(where, why, `write numbers, ranges and steps in brackets, ${example}`);
      }
      const [, begin, end = begin!, stepText = "1"] = match;
      // RangeSet: a bound with leading zeros is padded; an upper bound of only zeros is not.
      const padBegin = begin!.length > 1 && begin!.startsWith("0");
      const padEnd = end.length > 1 && end.startsWith("0") && Number(end) !== 0;
      if ((padBegin || padEnd) && begin!.length !== end.length) {
        throw this.error(where, `"${part}": a zero-padded bound must be as long as the other`, `pad both bounds to the same width, e.g. [${begin!.padStart(end.length, "0")}-${end}]`);
      }
      const start = Number(begin);
      const stop = Number(end);
      const step = Number(stepText);
      if (step < 1 || start > stop) throw this.error(where, `"${part}" is an empty range`, `write the lower bound first and a step of 1 or more, ${example}`);
      const size = Math.floor((stop - start) / step) + 1;
      if (!Number.isSafeInteger(stop) || size > MAX_EXPANDED_HOSTS) throw this.tooMany(where);
      const width = padBegin ? begin!.length : 0;
      for (let n = start; n <= stop; n += step) values.push(String(n).padStart(width, "0"));
      if (values.length > MAX_EXPANDED_HOSTS) throw this.tooMany(where);
    }
    return [...new Set(values)];
  }

  tooMany(index: number): OpsError {
    return this.error(index, `expands to more than ${MAX_EXPANDED_HOSTS.toLocaleString("en")} hosts`, "narrow the ranges, or split the work into several runs");
  }
}

/** Every combination of an item's groups, the last group varying fastest (as nodeset prints them). */
function combine(segments: Segment[]): string[] {
  let names = [""];
  for (const segment of segments) {
    if ("text" in segment) names = names.map((name) => name + segment.text);
    else names = names.flatMap((name) => segment.values.map((value) => name + value));
  }
  return names;
}

/**
 * A pattern's names, as `nodeset -e` prints them (as a set: nodeset sorts,
 * this keeps the order written), each once. `firstColumn` is where the
 * pattern starts in the line the user wrote.
 */
export function expandHostPattern(pattern: string, origin: PatternOrigin, firstColumn = 1): string[] {
  return expandItems(new PatternReader(pattern, origin, firstColumn)).map(({ name }) => name);
}

function expandItems(reader: PatternReader): Array<{ name: string; at: number }> {
  const expanded: Array<{ name: string; at: number }> = [];
  for (const { text, at } of reader.items()) {
    const segments = reader.segments(text, at);
    const size = segments.reduce((n, segment) => n * ("values" in segment ? segment.values.length : 1), 1);
    reader.count += size;
    if (reader.count > MAX_EXPANDED_HOSTS) throw reader.tooMany(at);
    for (const name of combine(segments)) expanded.push({ name, at });
  }
  return expanded;
}

const entry = /^(?:([^@:[\]]+)@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(\d+))?$/;

/**
 * A pattern's hosts, each `[user@]host[:port]` split in its parts, each name
 * once (the first occurrence kept). Errors point at the column of the item
 * they are found in and say how to write it.
 */
export function parseHostPattern(pattern: string, origin: PatternOrigin, firstColumn = 1): HostPatternEntry[] {
  const reader = new PatternReader(pattern, origin, firstColumn);
  const seen = new Set<string>();
  const hosts: HostPatternEntry[] = [];
  for (const { name, at } of expandItems(reader)) {
    if (seen.has(name)) continue;
    seen.add(name);
    const match = entry.exec(name);
    if (!match) throw reader.error(at, `cannot read "${name}" as a host`, "write [user@]host[:port], e.g. deploy@web-1.example.com:2222 or root@[::1]:2222");
    const [, user, host, portText] = match;
    const port = portText === undefined ? undefined : Number(portText);
    if (port !== undefined && (port < 1 || port > 65535)) throw reader.error(at, `port ${portText} of "${name}" is out of range`, "use a port from 1 to 65535");
    hosts.push({ name, host: host!.replace(/^\[(.*)\]$/, "$1"), ...(user ? { user } : {}), ...(port !== undefined ? { port } : {}) });
  }
  return hosts;
}

/**
 * A file of host patterns, one a line, `#` comments and blank lines skipped:
 * a `hosts:` list or `-H @file`. Each host once, with the file:line it is
 * written at; errors name file:line and the column.
 */
export function parseHostPatternLines(text: string, display: string, fail: PatternOrigin["fail"]): Array<HostPatternEntry & { where: string }> {
  const hosts: Array<HostPatternEntry & { where: string }> = [];
  const seen = new Set<string>();
  text.split("\n").forEach((raw, index) => {
    const line = raw.replace(/(^|\s)#.*$/, "").trimEnd();
    const pattern = line.trimStart();
    if (!pattern) return;
    const where = `${display}:${index + 1}`;
    for (const host of parseHostPattern(pattern, { where, fail }, line.length - pattern.length + 1)) {
      if (seen.has(host.name)) continue;
      seen.add(host.name);
      if (hosts.length >= MAX_EXPANDED_HOSTS) throw fail("E_HOST_PATTERN", `${where}: ${display} expands to more than ${MAX_EXPANDED_HOSTS.toLocaleString("en")} hosts`, "narrow the ranges, or split the list");
      hosts.push({ ...host, where });
    }
  });
  return hosts;
}
