/*
 * Just enough of the POSIX shell grammar for the audit's rules: words with
 * their quoting intact, simple commands, pipelines, `&&`/`||` lists, loops,
 * comments, here-documents (whose bodies are data, not commands, except the
 * substitutions in an unquoted one) and command substitutions, wherever they
 * run: in words, in `${X:-$(...)}` and `$(( $(...) ))`, in an unquoted
 * here-document (parsed as commands of their own). It never fails: text it
 * does not understand ends up as words, which the rules ignore.
 * https://pubs.opengroup.org/onlinepubs/9799919799/utilities/V3_chap02.html
 */

export interface Word {
  /** The word as written, quotes and all (a backslash-newline removed). */
  raw: string;
  /** Offset of its first character in the file. */
  start: number;
}

export interface SimpleCommand {
  /** Words before the operator that ends the command; redirections are apart. */
  words: Word[];
  /** Targets of its redirections (`> file`, `2>/dev/null`). */
  redirects: Word[];
  /** Commands joined by `|` share a pipeline number; `position` orders them. */
  pipeline: number;
  position: number;
  /** The operators before and after it: "|", "&&", "||", ";", "&", newline or "" at the start/end. */
  before: string;
  after: string;
  /** Inside a for/while/until/select body (or a while/until condition). */
  inLoop: boolean;
  /** Inside `$( )`, backticks or `<( )`. */
  substituted: boolean;
  /**
   * The branches it sits in, outermost first, as "/id.branch/...": a case
   * item, an if/elif/else arm, a loop body, a function body. A command runs
   * whenever another does if that one's branch is a prefix of its own and it
   * comes first: what a guard like `: "${DIR:?}"` needs to protect a later rm.
   */
  branch: string;
}

export interface ShellScript {
  commands: SimpleCommand[];
  /** [start, end) of each comment, `#` included. */
  comments: [number, number][];
  /** [start, end) of each here-document body. */
  heredocs: [number, number][];
}

const reserved = new Set(["if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "in", "select", "case", "esac", "{", "}", "!", "function", "[[", "]]"]);
const metaChars = new Set([" ", "\t", "\n", ";", "&", "|", "(", ")", "<", ">"]);

interface Pending {
  delimiter: string;
  stripTabs: boolean;
  /** An unquoted delimiter (`<<EOF`, not `<<'EOF'`): the body's $( ), ${ } and backticks run. */
  expands: boolean;
}

interface LoopFrame {
  active: boolean;
}

/** An open compound command whose parts do not all run: if, case, a loop, a function body; or a plain { } group. */
interface BranchFrame {
  kind: "if" | "case" | "loop" | "function" | "group";
  id: number;
  /** The arm being read; -1 while none (an if's first condition runs whenever the if does). */
  arm: number;
}

/** Parses a shell script into simple commands; substitutions are parsed as commands too. */
export function parseShell(text: string): ShellScript {
  const script: ShellScript = { commands: [], comments: [], heredocs: [] };
  new Lexer(text, 0, text.length, script, false, false, { next: 0 }, "/").run();
  return script;
}

class Lexer {
  private at: number;
  private words: Word[] = [];
  private redirects: Word[] = [];
  private wordStart = -1;
  private redirectNext = false;
  private pending: Pending[] = [];
  private pipeline: number;
  private position = 0;
  private before = "";
  private loops: LoopFrame[] = [];
  /** One entry per open `case`: true while the next thing read is a pattern. */
  private cases: boolean[] = [];
  /** [start, end, inside a loop, branch] of each $( ), backtick and <( ) seen. */
  private substitutions: [number, number, boolean, string][] = [];
  private branches: BranchFrame[] = [];
  /** The last command was a function's name (`name()`, `function name`): the next { opens its body. */
  private functionHeader = false;
  private lastWasElif = false;

  constructor(
    private readonly text: string,
    start: number,
    /** Where reading stops; narrowed to a here-document's body while its substitutions are read. */
    private end: number,
    private readonly script: ShellScript,
    private readonly inLoop: boolean,
    private readonly substituted: boolean,
    private readonly counter: { next: number },
    private readonly basePath: string,
  ) {
    this.at = start;
    this.pipeline = counter.next++;
  }

  run(): void {
    const { text } = this;
    while (this.at < this.end) {
      // A here-document still to read comes first: a `;;` on its command's line does not make its body a pattern.
      if (this.cases.length > 0 && this.cases[this.cases.length - 1] && this.words.length === 0 && this.wordStart < 0 && this.pending.length === 0) {
        if (this.skipCasePattern()) continue;
      }
      const c = text[this.at]!;
      if (c === "\\" && text[this.at + 1] === "\n") {
        this.at += 2;
        continue;
      }
      if (c === " " || c === "\t" || c === "\r") {
        this.endWord();
        this.at++;
        continue;
      }
      if (c === "#" && this.wordStart < 0) {
        const stop = text.indexOf("\n", this.at);
        const close = stop < 0 || stop > this.end ? this.end : stop;
        this.script.comments.push([this.at, close]);
        this.at = close;
        continue;
      }
      if (c === "\n") {
        this.endCommand("\n");
        this.at++;
        this.readHeredocs();
        continue;
      }
      if (c === ";" || c === "&" || c === "|") {
        this.operator();
        continue;
      }
      if (c === "(" || c === ")") {
        this.endCommand(c);
        this.at++;
        continue;
      }
      if (c === "<" || c === ">") {
        this.redirection();
        continue;
      }
      if (this.wordStart < 0) this.wordStart = this.at;
      this.at = this.wordPart(this.at);
    }
    this.endCommand("");
    for (const [start, close, inLoop, branch] of this.substitutions) {
      new Lexer(this.text, start, close, this.script, inLoop, true, this.counter, branch).run();
    }
  }

  /** Reads one unit of a word (a quoted string, an expansion or a character); returns where it ends. */
  private wordPart(i: number): number {
    const { text } = this;
    const c = text[i]!;
    if (c === "\\") return Math.min(i + 2, this.end);
    if (c === "'") {
      const close = text.indexOf("'", i + 1);
      return close < 0 || close >= this.end ? this.end : close + 1;
    }
    if (c === '"') return this.doubleQuoted(i + 1);
    if (c === "`") return this.backticks(i);
    if (c === "$") {
      const next = text[i + 1];
      if (next === "(") return text[i + 2] === "(" ? this.balanced(i + 1, "(", ")", true) : this.substitution(i + 1, ")");
      if (next === "{") return this.balanced(i + 1, "{", "}", true);
      if (next === "'") {
        // $'...' (ANSI-C quoting): backslash escapes a quote.
        let j = i + 2;
        while (j < this.end && text[j] !== "'") j += text[j] === "\\" ? 2 : 1;
        return Math.min(j + 1, this.end);
      }
    }
    return i + 1;
  }

  private doubleQuoted(i: number): number {
    const { text } = this;
    while (i < this.end) {
      const c = text[i]!;
      if (c === '"') return i + 1;
      if (c === "\\") i += 2;
      else if (c === "$" && (text[i + 1] === "(" || text[i + 1] === "{")) i = this.wordPart(i);
      else if (c === "`") i = this.backticks(i);
      else i++;
    }
    return this.end;
  }

  private backticks(i: number): number {
    const { text } = this;
    let j = i + 1;
    while (j < this.end && text[j] !== "`") j += text[j] === "\\" ? 2 : 1;
    this.substitutions.push([i + 1, Math.min(j, this.end), this.loopNow(), this.branchNow()]);
    return Math.min(j + 1, this.end);
  }

  /** `$(` or `<(` at `open`: records the inside as a substitution, returns the offset after `)`. */
  private substitution(open: number, close: string): number {
    const after = this.balanced(open, "(", close);
    this.substitutions.push([open + 1, after - 1, this.loopNow(), this.branchNow()]);
    return after;
  }

  /**
   * From an opening bracket to just past its match, skipping quoted text.
   * `record`: the text is an expansion of this lexer's own (`${X:-$(cmd)}`,
   * `$(( $(cmd) + 1 ))`), so the command substitutions in it are recorded;
   * not for a substitution's inside, which its own lexer reads.
   */
  private balanced(open: number, left: string, right: string, record = false): number {
    const { text } = this;
    let depth = 0;
    let i = open;
    while (i < this.end) {
      const c = text[i]!;
      if (c === "\\") i += 2;
      else if (c === "'" && left === "(") i = this.wordPart(i);
      else if (c === '"') i = record ? this.doubleQuoted(i + 1) : this.doubleQuotedNoRecord(i + 1);
      else if (c === "`") i = record ? this.backticks(i) : this.skipBackticks(i);
      else if (record && c === "$" && (text[i + 1] === "(" || text[i + 1] === "{")) i = this.wordPart(i);
      else {
        if (c === left) depth++;
        else if (c === right && --depth === 0) return i + 1;
        i++;
      }
    }
    return this.end;
  }

  /** Like doubleQuoted, but inside a substitution that is itself parsed later. */
  private doubleQuotedNoRecord(i: number): number {
    const { text } = this;
    while (i < this.end) {
      const c = text[i]!;
      if (c === '"') return i + 1;
      if (c === "\\") i += 2;
      else if (c === "$" && (text[i + 1] === "(" || text[i + 1] === "{")) i = this.balanced(i + 1, text[i + 1]!, text[i + 1] === "(" ? ")" : "}");
      else i++;
    }
    return this.end;
  }

  private skipBackticks(i: number): number {
    let j = i + 1;
    while (j < this.end && this.text[j] !== "`") j += this.text[j] === "\\" ? 2 : 1;
    return Math.min(j + 1, this.end);
  }

  /** Whether the text being read runs on every pass of a loop (`do x=$(...)` and `while $(...)` included). */
  private loopNow(): boolean {
    if (this.inLoop || this.loops.some((l) => l.active)) return true;
    for (const word of this.words) {
      if (!reserved.has(word.raw)) break;
      if (word.raw === "do" || word.raw === "while" || word.raw === "until") return true;
    }
    return false;
  }

  private endWord(): void {
    if (this.wordStart < 0) return;
    const raw = this.text.slice(this.wordStart, this.at).replaceAll("\\\n", "");
    const word = { raw, start: this.wordStart };
    this.wordStart = -1;
    if (this.redirectNext) {
      this.redirects.push(word);
      this.redirectNext = false;
      return;
    }
    this.words.push(word);
    if (raw === "esac" && this.words.length === 1 && this.cases.length > 0) {
      this.cases.pop();
      this.closeBranch("case");
    }
    // `case WORD in` opens the pattern list, also behind reserved words (`do case`, `if case`, `then case`).
    if (raw === "in" && this.words.length >= 3 && this.words.at(-3)!.raw === "case" && this.words.slice(0, -3).every((w) => reserved.has(w.raw))) {
      this.endCommand(";");
      this.cases.push(true);
      this.branches.push({ kind: "case", id: this.counter.next++, arm: -1 });
    }
  }

  private operator(): void {
    const { text } = this;
    const c = text[this.at]!;
    const two = text.slice(this.at, this.at + 2);
    const three = text.slice(this.at, this.at + 3);
    let op: string = c;
    if (three === ";;&") op = three;
    else if (two === "&&" || two === "||" || two === ";;" || two === ";&" || two === "|&") op = two;
    else if (c === "&" && text[this.at + 1] === ">") {
      // &> and &>> redirect both streams.
      this.redirection();
      return;
    }
    this.endCommand(op);
    this.at += op.length;
    if ((op === ";;" || op === ";&" || op === ";;&") && this.cases.length > 0) this.cases[this.cases.length - 1] = true;
  }

  private redirection(): void {
    const { text } = this;
    if (text[this.at + 1] === "(") {
      // <(cmd) and >(cmd): process substitution, part of a word.
      this.endWord();
      this.wordStart = this.at;
      this.at = this.substitution(this.at + 1, ")");
      return;
    }
    // A word of digits right before < or > is a file descriptor, not an argument.
    if (this.wordStart >= 0 && /^\d+$/.test(text.slice(this.wordStart, this.at))) this.wordStart = -1;
    else this.endWord();
    let i = this.at;
    if (text[i] === "&") i++;
    const heredoc = /^<<(-?)/.exec(text.slice(i, i + 3));
    if (heredoc && text[i + 2] !== "<") {
      i += 2 + heredoc[1]!.length;
      while (text[i] === " " || text[i] === "\t") i++;
      const start = i;
      while (i < this.end && !metaChars.has(text[i]!)) i = this.wordPart(i);
      const written = text.slice(start, i);
      const delimiter = written.replace(/["'\\]/g, "");
      if (delimiter) this.pending.push({ delimiter, stripTabs: heredoc[1] === "-", expands: delimiter === written });
      this.at = i;
      return;
    }
    while (i < this.end && /[<>&|]/.test(text[i]!) && i - this.at < 3) i++;
    // >&2, 2>&1: the descriptor is part of the operator.
    if (text[i - 1] === "&") while (i < this.end && /[\d-]/.test(text[i]!)) i++;
    else this.redirectNext = true;
    this.at = i;
  }

  private readHeredocs(): void {
    const { text } = this;
    while (this.pending.length > 0) {
      const { delimiter, stripTabs, expands } = this.pending.shift()!;
      const start = this.at;
      let body: [number, number] | undefined;
      while (this.at < this.end) {
        const stop = text.indexOf("\n", this.at);
        const close = stop < 0 || stop > this.end ? this.end : stop;
        let line = text.slice(this.at, close);
        if (stripTabs) line = line.replace(/^\t+/, "");
        if (line.replace(/\r$/, "") === delimiter) {
          body = [start, this.at];
          this.at = Math.min(close + 1, this.end);
          break;
        }
        this.at = close + 1;
        if (this.at >= this.end) body = [start, this.end];
      }
      if (!body) continue;
      this.script.heredocs.push(body);
      if (expands) this.heredocSubstitutions(body[0], body[1]);
    }
  }

  /**
   * An unquoted here-document's body is expanded when its command runs: its
   * $( ), backticks and ${ } run (POSIX 2.7.4); quotes there are plain
   * characters, a backslash escapes $, ` and \. Read within the body only.
   */
  private heredocSubstitutions(start: number, end: number): void {
    const { text } = this;
    const outer = this.end;
    this.end = end;
    let i = start;
    while (i < end) {
      const c = text[i]!;
      if (c === "\\") i += 2;
      else if (c === "`") i = this.backticks(i);
      else if (c === "$" && (text[i + 1] === "(" || text[i + 1] === "{")) i = this.wordPart(i);
      else i++;
    }
    this.end = outer;
  }

  /** Skips a case pattern up to its `)`; returns false when the case ends instead. */
  private skipCasePattern(): boolean {
    const { text } = this;
    let i = this.at;
    while (i < this.end && /[\s;]/.test(text[i]!)) i++;
    if (text[i] === "#") return false;
    if (/^esac(?=[\s;|&)]|$)/.test(text.slice(i, i + 5))) {
      this.cases.pop();
      this.closeBranch("case");
      this.at = i + 4;
      this.before = "";
      return true;
    }
    if (i >= this.end) return false;
    // `(a|b)`: POSIX allows a ( before the pattern; a ( inside it is bash's extended glob, `@(a|b)`.
    if (text[i] === "(") i++;
    let depth = 0;
    while (i < this.end && (text[i] !== ")" || depth > 0)) {
      if (text[i] === "(") depth++;
      else if (text[i] === ")") depth--;
      i = text[i] === "'" || text[i] === '"' || text[i] === "\\" || text[i] === "$" || text[i] === "`" ? this.wordPart(i) : i + 1;
    }
    if (text[i] !== ")") {
      this.at = i;
      return true;
    }
    this.cases[this.cases.length - 1] = false;
    const frame = this.branches.findLast((b) => b.kind === "case");
    if (frame) frame.arm = this.counter.next++;
    this.at = i + 1;
    this.before = ";";
    return true;
  }

  private endCommand(op: string): void {
    this.endWord();
    this.redirectNext = false;
    if (this.words.length > 0) {
      this.trackLoops(this.words);
      this.trackBranches(this.words, op);
      this.script.commands.push({
        words: this.words,
        redirects: this.redirects,
        pipeline: this.pipeline,
        position: this.position,
        before: this.before,
        after: op,
        inLoop: this.inLoop || this.loops.some((l) => l.active),
        substituted: this.substituted,
        branch: this.branchNow(),
      });
      this.closeTrailing(this.words);
      this.words = [];
      this.redirects = [];
      if (op === "|" || op === "|&") this.position++;
      else {
        this.pipeline = this.counter.next++;
        this.position = 0;
      }
    } else if (op !== "|" && op !== "|&" && op !== "") {
      this.pipeline = this.counter.next++;
      this.position = 0;
    }
    this.before = op;
  }

  private branchNow(): string {
    let path = this.basePath;
    for (const frame of this.branches) if (frame.arm >= 0) path += `${frame.id}.${frame.arm}/`;
    return path;
  }

  private closeBranch(kind: BranchFrame["kind"]): void {
    const at = this.branches.findLastIndex((b) => b.kind === kind);
    if (at >= 0) this.branches.length = at;
  }

  /**
   * The reserved words that open a command's branch, read before it is
   * recorded (`then rm ...` is inside the if's arm): an if's condition runs
   * whenever the if does; each then/elif/else, a loop's body after `do`, a
   * function's body are arms of their own.
   */
  private trackBranches(words: Word[], op: string): void {
    const header = this.functionHeader;
    this.functionHeader = false;
    for (const word of words) {
      const w = word.raw;
      if (!reserved.has(w)) break;
      if (w === "if") this.branches.push({ kind: "if", id: this.counter.next++, arm: -1 });
      else if (w === "then" || w === "elif" || w === "else") {
        const frame = this.branches.findLast((b) => b.kind === "if");
        if (frame && !(w === "then" && frame.arm >= 0 && this.lastWasElif)) frame.arm = this.counter.next++;
        this.lastWasElif = w === "elif";
      } else if (w === "do") this.branches.push({ kind: "loop", id: this.counter.next++, arm: 0 });
      else if (w === "{") this.branches.push(header ? { kind: "function", id: this.counter.next++, arm: 0 } : { kind: "group", id: -1, arm: -1 });
    }
    const first = words[0]!.raw;
    // `name()` or `function name`: the next { is its body.
    if ((op === "(" && words.length === 1 && !first.includes("=") && !reserved.has(first)) || (first === "function" && words.length >= 2)) this.functionHeader = true;
    if (first === "function" && words.at(-1)?.raw === "{") {
      this.functionHeader = false;
      this.branches.push({ kind: "function", id: this.counter.next++, arm: 0 });
    }
  }

  /** fi, done and } close their frames after the command that holds them. */
  private closeTrailing(words: Word[]): void {
    for (const word of words) {
      const w = word.raw;
      if (w === "fi") this.closeBranch("if");
      else if (w === "done") this.closeBranch("loop");
      else if (w === "}") {
        const last = this.branches.findLastIndex((b) => b.kind === "group" || b.kind === "function");
        if (last >= 0) this.branches.length = last;
      } else if (!reserved.has(w)) break;
    }
  }

  /**
   * A while/until condition runs on every pass, so it counts as inside the
   * loop; a for/select word list runs once, so its loop starts at `do`.
   */
  private trackLoops(words: Word[]): void {
    for (const word of words) {
      const w = word.raw;
      if (!reserved.has(w)) break;
      if (w === "while" || w === "until") this.loops.push({ active: true });
      else if (w === "for" || w === "select") this.loops.push({ active: false });
      else if (w === "do") {
        const top = this.loops[this.loops.length - 1];
        if (top) top.active = true;
      } else if (w === "done") this.loops.pop();
    }
  }
}

/** Whether a command in branch `inner` runs whenever one in branch `outer` has run before it (outer encloses inner). */
export function branchEncloses(outer: string, inner: string): boolean {
  return inner.startsWith(outer);
}

/** Whether a word is one of the shell's reserved words (`do`, `fi`, `}`...). */
export function isReserved(word: string): boolean {
  return reserved.has(word);
}
