// Regular expressions as Alertmanager runs them: Go's RE2 syntax, matched in
// time linear in the value's length. A silence's regex comes from its author,
// but what it is matched against (alert label values) does not: JavaScript's
// backtracking engine takes cubic time on a*a*a*c and exponential on (a+)+
// over a long value, and one such match would hold the server's event loop.
// This is a Thompson NFA run as a Pike VM (the construction RE2 itself uses):
// every state is visited at most once per character of the value.
//
// Syntax (Go's regexp/syntax, Perl flavour): literals and escapes (\t \n \r
// \f \v \a, \x7F, \x{10FFFF}, octal \0nn, \Q…\E, punctuation), . \d \D \s \S
// \w \W \pL \p{Greek} \PL, classes with ranges and [:alpha:], groups ((),
// (?:), (?P<n>), (?<n>)), alternation, * + ? {n} {n,} {n,m} (lazy forms too),
// ^ $ \A \z \b \B, and the flags i, m, s, U as (?ims) or (?i:…). What RE2 has
// not (backreferences, lookaround) is refused, as Alertmanager refuses it.

/** RE2's limit on a counted repetition. */
const MAX_REPEAT = 1000;
/** The most instructions a pattern compiles to (its repetitions expanded): beyond, refused. */
export const MAX_PROGRAM = 20_000;

export class Re2SyntaxError extends Error {}

type Test = ((cp: number) => boolean) & { code?: number };
/** A test for one character, which a class range can take as its end. */
const literal = (code: number): Test => Object.assign((cp: number) => cp === code, { code });
type Node =
  | { t: "char"; test: Test }
  | { t: "assert"; kind: "bol" | "eol" | "bot" | "eot" | "word" | "nonword" }
  | { t: "cat"; items: Node[] }
  | { t: "alt"; items: Node[] }
  | { t: "rep"; node: Node; min: number; max: number };

interface Flags {
  i: boolean;
  m: boolean;
  s: boolean;
}

const isWordChar = (cp: number) => (cp >= 48 && cp <= 57) || (cp >= 65 && cp <= 90) || (cp >= 97 && cp <= 122) || cp === 95;
const ranges = (...pairs: number[]): Test => (cp) => {
  for (let i = 0; i < pairs.length; i += 2) if (cp >= pairs[i]! && cp <= pairs[i + 1]!) return true;
  return false;
};
const not = (test: Test): Test => (cp) => !test(cp);
const c = (s: string) => s.codePointAt(0)!;

const perl: Record<string, Test> = {
  d: ranges(48, 57),
  s: ranges(9, 10, 12, 13, 32, 32),
  w: ranges(48, 57, 65, 90, 97, 122, 95, 95),
};
const posix: Record<string, Test> = {
  alnum: ranges(48, 57, 65, 90, 97, 122),
  alpha: ranges(65, 90, 97, 122),
  ascii: ranges(0, 127),
  blank: ranges(9, 9, 32, 32),
  cntrl: ranges(0, 31, 127, 127),
  digit: ranges(48, 57),
  graph: ranges(33, 126),
  lower: ranges(97, 122),
  print: ranges(32, 126),
  punct: ranges(33, 47, 58, 64, 91, 96, 123, 126),
  space: ranges(9, 13, 32, 32),
  upper: ranges(65, 90),
  word: ranges(48, 57, 65, 90, 97, 122, 95, 95),
  xdigit: ranges(48, 57, 65, 70, 97, 102),
};

/** \pL, \p{Lu}, \p{Greek}: Go's names are Unicode's general categories and scripts, which JavaScript knows as such or as Script=. */
function unicodeClass(name: string): Test {
  for (const property of [name, `Script=${name}`]) {
    if (!/^[A-Za-z_=]+$/.test(property)) break;
    try {
      const regex = new RegExp(`^\\p{${property}}$`, "u");
      return (cp) => regex.test(String.fromCodePoint(cp));
    } catch {
      // Not under this name.
    }
  }
  throw new Re2SyntaxError(`invalid character class range: \\p{${name}}`);
}

function folded(test: Test): Test {
  return (cp) => {
    if (test(cp)) return true;
    const s = String.fromCodePoint(cp);
    const lower = s.toLowerCase();
    const upper = s.toUpperCase();
    return (lower.length === s.length && test(c(lower))) || (upper.length === s.length && test(c(upper)));
  };
}

class Parser {
  readonly cps: number[];
  pos = 0;
  constructor(pattern: string) {
    this.cps = Array.from(pattern, (ch) => c(ch));
  }
  peek(offset = 0): number | undefined {
    return this.cps[this.pos + offset];
  }
  eat(ch: string): boolean {
    if (this.peek() === c(ch)) {
      this.pos++;
      return true;
    }
    return false;
  }
  fail(message: string): never {
    throw new Re2SyntaxError(message);
  }

  alternation(flags: Flags): Node {
    const items = [this.concatenation(flags)];
    while (this.eat("|")) items.push(this.concatenation(flags));
    return items.length === 1 ? items[0]! : { t: "alt", items };
  }

  concatenation(flags: Flags): Node {
    const items: Node[] = [];
    for (;;) {
      const ch = this.peek();
      if (ch === undefined || ch === c("|") || ch === c(")")) break;
      // (?flags) changes the flags for the rest of this group.
      if (ch === c("(") && this.peek(1) === c("?") && this.setsFlags()) {
        this.pos += 2;
        this.flags(flags, ")");
        continue;
      }
      let atom = this.atom(flags);
      atom = this.repetitions(atom);
      items.push(atom);
    }
    return items.length === 1 ? items[0]! : { t: "cat", items };
  }

  /** Whether the (? here is (?flags) rather than (?flags:…), (?:…) or (?P<…>. */
  setsFlags(): boolean {
    for (let i = this.pos + 2; i < this.cps.length; i++) {
      const ch = this.cps[i]!;
      if (ch === c(")")) return i > this.pos + 2;
      if (!"imsU-".includes(String.fromCodePoint(ch))) return false;
    }
    return false;
  }

  /** Reads flags up to `end` (")" or ":"), into `flags`. */
  flags(flags: Flags, end: string): void {
    let on = true;
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) this.fail("missing closing )");
      this.pos++;
      const s = String.fromCodePoint(ch);
      if (s === end) return;
      if (s === "-") on = false;
      else if (s === "i" || s === "m" || s === "s") flags[s] = on;
      else if (s !== "U") this.fail(`invalid or unsupported Perl syntax: (?${s}`);
    }
  }

  repetitions(atom: Node): Node {
    let repeated = false;
    for (;;) {
      const ch = this.peek();
      let min: number;
      let max: number;
      if (ch === c("*")) [min, max] = [0, Infinity];
      else if (ch === c("+")) [min, max] = [1, Infinity];
      else if (ch === c("?")) [min, max] = [0, 1];
      else if (ch === c("{")) {
        const counted = this.counted();
        if (!counted) return atom;
        [min, max] = counted;
      } else return atom;
      if (ch !== c("{")) this.pos++;
      if (repeated) this.fail("invalid nested repetition operator");
      repeated = true;
      this.eat("?"); // lazy: the same set of matches
      atom = { t: "rep", node: atom, min, max };
    }
  }

  /** {n}, {n,} or {n,m} here (consumed), or undefined when the brace is a literal. */
  counted(): [number, number] | undefined {
    const text = String.fromCodePoint(...this.cps.slice(this.pos, this.pos + 24));
    const found = /^\{(\d+)(,(\d*))?\}/.exec(text);
    if (!found) return undefined;
    const min = Number(found[1]);
    const max = found[2] === undefined ? min : found[3] === "" ? Infinity : Number(found[3]);
    if (min > MAX_REPEAT || (max !== Infinity && max > MAX_REPEAT) || max < min) this.fail(`invalid repeat count: ${found[0]}`);
    this.pos += found[0].length;
    return [min, max];
  }

  atom(flags: Flags): Node {
    const ch = this.peek()!;
    const char = (test: Test): Node => ({ t: "char", test: flags.i ? folded(test) : test });
    this.pos++;
    switch (String.fromCodePoint(ch)) {
      case "(":
        return this.group(flags);
      case "[":
        return char(this.charClass());
      case ".":
        return { t: "char", test: flags.s ? () => true : (cp) => cp !== 10 };
      case "^":
        return { t: "assert", kind: flags.m ? "bol" : "bot" };
      case "$":
        return { t: "assert", kind: flags.m ? "eol" : "eot" };
      case "*":
      case "+":
      case "?":
        return this.fail(`missing argument to repetition operator: ${String.fromCodePoint(ch)}`);
      case "\\":
        return this.escapeAtom(flags, char);
      default:
        return char((cp) => cp === ch);
    }
  }

  group(flags: Flags): Node {
    const inner: Flags = { ...flags };
    if (this.eat("?")) {
      if (this.eat("P") || this.peek() === c("<")) {
        if (!this.eat("<")) this.fail("invalid named capture");
        if (this.peek() === c("=") || this.peek() === c("!")) this.fail("invalid or unsupported Perl syntax: lookbehind");
        while (this.peek() !== undefined && this.peek() !== c(">")) this.pos++;
        if (!this.eat(">")) this.fail("invalid named capture");
      } else if (this.peek() === c("=") || this.peek() === c("!")) {
        this.fail("invalid or unsupported Perl syntax: lookahead");
      } else this.flags(inner, ":");
    }
    const node = this.alternation(inner);
    if (!this.eat(")")) this.fail("missing closing )");
    return node;
  }

  escapeAtom(flags: Flags, char: (test: Test) => Node): Node {
    const ch = this.peek();
    if (ch === undefined) this.fail("trailing backslash at end of expression");
    const s = String.fromCodePoint(ch);
    if (s === "b" || s === "B" || s === "A" || s === "z") {
      this.pos++;
      return { t: "assert", kind: s === "b" ? "word" : s === "B" ? "nonword" : s === "A" ? "bot" : "eot" };
    }
    if (s === "Q") {
      this.pos++;
      const items: Node[] = [];
      while (this.peek() !== undefined && !(this.peek() === c("\\") && this.peek(1) === c("E"))) {
        const lit = this.cps[this.pos++]!;
        items.push(char((cp) => cp === lit));
      }
      if (this.peek() !== undefined) this.pos += 2;
      return { t: "cat", items };
    }
    return char(this.escape());
  }

  /** One escape (after its backslash) as a character test: a literal or a class. */
  escape(): Test {
    const ch = this.cps[this.pos++]!;
    const s = String.fromCodePoint(ch);
    const lower = s.toLowerCase();
    if (lower in perl && "dswDSW".includes(s)) return s === lower ? perl[lower]! : not(perl[lower]!);
    if (s === "p" || s === "P") {
      let name: string;
      if (this.eat("{")) {
        const start = this.pos;
        while (this.peek() !== undefined && this.peek() !== c("}")) this.pos++;
        name = String.fromCodePoint(...this.cps.slice(start, this.pos));
        if (!this.eat("}")) this.fail("invalid character class range");
      } else {
        const next = this.cps[this.pos++];
        if (next === undefined) this.fail("invalid character class range");
        name = String.fromCodePoint(next);
      }
      const negated = name.startsWith("^");
      const test = unicodeClass(negated ? name.slice(1) : name);
      return negated !== (s === "P") ? not(test) : test;
    }
    const controls: Record<string, number> = { a: 7, f: 12, t: 9, n: 10, r: 13, v: 11 };
    if (s in controls) return literal(controls[s]!);
    if (s === "x") {
      let hex: string;
      if (this.eat("{")) {
        const start = this.pos;
        while (this.peek() !== undefined && this.peek() !== c("}")) this.pos++;
        hex = String.fromCodePoint(...this.cps.slice(start, this.pos));
        if (!this.eat("}")) this.fail("invalid escape sequence: \\x{");
      } else {
        hex = String.fromCodePoint(...this.cps.slice(this.pos, this.pos + 2));
        this.pos += 2;
      }
      const code = /^[0-9a-fA-F]{1,8}$/.test(hex) ? parseInt(hex, 16) : Number.NaN;
      if (!(code <= 0x10ffff)) this.fail(`invalid escape sequence: \\x${hex}`);
      return literal(code);
    }
    // Octal: \0 and up to two more digits, or two or three digits from \1 (a single \1 is a backreference, refused).
    const isOctal = (cp: number | undefined) => cp !== undefined && cp >= c("0") && cp <= c("7");
    if (s === "0" || (s >= "1" && s <= "7" && isOctal(this.peek()))) {
      let octal = s === "0" ? "" : s;
      while (octal.length < (s === "0" ? 2 : 3) && isOctal(this.peek())) octal += String.fromCodePoint(this.cps[this.pos++]!);
      return literal(octal === "" ? 0 : parseInt(octal, 8));
    }
    // Punctuation escapes itself; a letter or digit with no meaning (\1, \k, \y) is an error, as in Go.
    if (ch < 128 && !/[0-9A-Za-z_]/.test(s)) return literal(ch);
    return this.fail(`invalid escape sequence: \\${s}`);
  }

  charClass(): Test {
    const negated = this.eat("^");
    const parts: Test[] = [];
    let first = true;
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) this.fail("missing closing ]");
      if (ch === c("]") && !first) {
        this.pos++;
        break;
      }
      first = false;
      if (ch === c("[") && this.peek(1) === c(":")) {
        const rest = String.fromCodePoint(...this.cps.slice(this.pos, this.pos + 12));
        const found = /^\[:(\^?)([a-z]+):\]/.exec(rest);
        if (found) {
          const test = posix[found[2]!];
          if (!test) this.fail(`invalid character class range: ${found[0]}`);
          parts.push(found[1] ? not(test) : test);
          this.pos += found[0].length;
          continue;
        }
      }
      const low = this.classChar();
      if (typeof low === "function") {
        parts.push(low);
        continue;
      }
      if (this.peek() === c("-") && this.peek(1) !== undefined && this.peek(1) !== c("]")) {
        this.pos++;
        const high = this.classChar();
        if (typeof high === "function" || high < low) this.fail("invalid character class range");
        parts.push((cp) => cp >= low && cp <= high);
      } else parts.push((cp) => cp === low);
    }
    const test: Test = (cp) => parts.some((part) => part(cp));
    return negated ? not(test) : test;
  }

  /** One character of a class (a code point), or a class escape (\d, \pL) as a test. */
  classChar(): number | Test {
    const ch = this.cps[this.pos++]!;
    if (ch !== c("\\")) return ch;
    if (this.peek() === undefined) this.fail("missing closing ]");
    const test = this.escape();
    return test.code ?? test;
  }
}

type Inst =
  | { op: "char"; test: Test }
  | { op: "split"; a: number; b: number }
  | { op: "jmp"; to: number }
  | { op: "assert"; kind: Extract<Node, { t: "assert" }>["kind"] }
  | { op: "match" };

function compileProgram(node: Node): Inst[] {
  const prog: Inst[] = [];
  const push = (inst: Inst) => {
    if (prog.length >= MAX_PROGRAM) throw new Re2SyntaxError(`expression too large: over ${MAX_PROGRAM} states once its repetitions are expanded`);
    prog.push(inst);
    return prog.length - 1;
  };
  const emit = (n: Node): void => {
    switch (n.t) {
      case "char":
        push({ op: "char", test: n.test });
        return;
      case "assert":
        push({ op: "assert", kind: n.kind });
        return;
      case "cat":
        for (const item of n.items) emit(item);
        return;
      case "alt": {
        const jumps: number[] = [];
        n.items.forEach((item, i) => {
          if (i < n.items.length - 1) {
            const split = push({ op: "split", a: 0, b: 0 });
            (prog[split] as { a: number }).a = prog.length;
            emit(item);
            jumps.push(push({ op: "jmp", to: 0 }));
            (prog[split] as { b: number }).b = prog.length;
          } else emit(item);
        });
        for (const j of jumps) (prog[j] as { to: number }).to = prog.length;
        return;
      }
      case "rep": {
        for (let i = 0; i < n.min; i++) emit(n.node);
        if (n.max === Infinity) {
          const split = push({ op: "split", a: 0, b: 0 });
          (prog[split] as { a: number }).a = prog.length;
          emit(n.node);
          push({ op: "jmp", to: split });
          (prog[split] as { b: number }).b = prog.length;
          return;
        }
        const splits: number[] = [];
        for (let i = n.min; i < n.max; i++) {
          const split = push({ op: "split", a: 0, b: 0 });
          (prog[split] as { a: number }).a = prog.length;
          splits.push(split);
          emit(n.node);
        }
        for (const s of splits) (prog[s] as { b: number }).b = prog.length;
        return;
      }
    }
  };
  emit(node);
  push({ op: "match" });
  return prog;
}

/** A compiled RE2 pattern; `test` is a full match (as Alertmanager anchors: ^(?:re)$). */
export interface Re2 {
  test(value: string): boolean;
}

/** Compiles RE2 syntax, or throws Re2SyntaxError with Go's reason. */
export function compileRe2(pattern: string): Re2 {
  const parser = new Parser(pattern);
  const flags: Flags = { i: false, m: false, s: false };
  const node = parser.alternation(flags);
  if (parser.pos < parser.cps.length) parser.fail("unexpected )");
  const prog = compileProgram(node);
  return { test: (value) => fullMatch(prog, Array.from(value, (ch) => c(ch))) };
}

/** The Pike VM: the set of live states advances one character at a time; each state is entered at most once per position. */
function fullMatch(prog: Inst[], cps: number[]): boolean {
  const n = cps.length;
  const seen = new Int32Array(prog.length).fill(-1);
  let current: number[] = [];
  let matched = false;
  const stack: number[] = [];
  const add = (list: number[], start: number, pos: number) => {
    stack.push(start);
    while (stack.length > 0) {
      const pc = stack.pop()!;
      if (seen[pc] === pos) continue;
      seen[pc] = pos;
      const inst = prog[pc]!;
      switch (inst.op) {
        case "char":
          list.push(pc);
          break;
        case "jmp":
          stack.push(inst.to);
          break;
        case "split":
          stack.push(inst.b, inst.a);
          break;
        case "match":
          if (pos === n) matched = true;
          break;
        case "assert":
          if (holds(inst.kind, cps, pos)) stack.push(pc + 1);
          break;
      }
    }
  };
  add(current, 0, 0);
  for (let pos = 0; pos < n && current.length > 0; pos++) {
    const next: number[] = [];
    const cp = cps[pos]!;
    for (const pc of current) if ((prog[pc] as { test: Test }).test(cp)) add(next, pc + 1, pos + 1);
    current = next;
  }
  return matched;
}

function holds(kind: Extract<Inst, { op: "assert" }>["kind"], cps: number[], pos: number): boolean {
  switch (kind) {
    case "bot":
      return pos === 0;
    case "eot":
      return pos === cps.length;
    case "bol":
      return pos === 0 || cps[pos - 1] === 10;
    case "eol":
      return pos === cps.length || cps[pos] === 10;
    case "word":
    case "nonword": {
      const boundary = (pos > 0 && isWordChar(cps[pos - 1]!)) !== (pos < cps.length && isWordChar(cps[pos]!));
      return kind === "word" ? boundary : !boundary;
    }
  }
}
