/*
 * Where each {{ }} of a shell command template sits, so that its value can
 * travel as a shell variable that the command only references. A value that
 * reaches the shell as the result of a parameter expansion is never parsed
 * as code, whatever it holds; what this scanner decides is only how the
 * reference is written (quoted or not) and which places must be refused
 * because something there parses the expansion again: arithmetic, a quoted
 * here-document, ${...} operators, eval and friends, `sh -c` scripts,
 * commands that send their arguments to another shell (ssh, su -c, watch),
 * and interpreters' program arguments (awk, sed, python -c, ...).
 * POSIX grammar: https://pubs.opengroup.org/onlinepubs/9799919799/utilities/V3_chap02.html
 */

import { commandWordAt, hints, programArguments, reparsedArguments, stdinProgramReader, type CommandWord } from "./shell-commands.ts";

/** How a reference is written where the value sits: `"$V"`, `$V` inside "..." or a here-document, `'"$V"'` inside '...'. */
export type ShellContext = "word" | "double" | "single" | "heredoc";

export interface ShellRefusal {
  /** Index of the {{ }} among the template's interpolations. */
  index: number;
  reason: string;
  hint: string;
}

export interface ShellPlacement {
  contexts: ShellContext[];
  refusals: ShellRefusal[];
  /** Interpolations in the word that names the command to run (`{{ vars.tool }} --version`, `sudo {{ vars.cmd }}`): the value picks the program. */
  commandNames: number[];
  /** Interpolations a command hands to a program of its own (`psql -c {{ vars.sql }}`): data to the shell, code to it. */
  programArguments: number[];
}

/** Template text as characters, with each {{ }} replaced by its index. */
export type ShellItem = string | number;

interface Heredoc {
  delimiter: string;
  quoted: boolean;
  stripTabs: boolean;
  /** The shell that runs its body as a script (`sh <<EOF`, `cat <<EOF | bash`), once the pipeline is known. */
  runBy?: string;
}

/** One command of a pipeline: its words and the here-documents it reads. */
interface Stage {
  words: CommandWord[];
  heredocs: Heredoc[];
}

const metaChars = new Set([" ", "\t", "\n", ";", "&", "|", "(", ")", "<", ">"]);

/** Decides, for each interpolation of a shell command template, how its reference is written, or why it cannot be. */
export function placeShellValues(items: readonly ShellItem[], count: number): ShellPlacement {
  const scanner = new ShellScanner(items, count);
  scanner.command(undefined);
  const contexts = scanner.contexts.map((context) => context ?? "word");
  const refusals = [...scanner.refusals.values()].sort((a, b) => a.index - b.index);
  const sorted = (set: Set<number>) => [...set].sort((a, b) => a - b);
  return { contexts, refusals, commandNames: sorted(scanner.commandNames), programArguments: sorted(scanner.programArguments) };
}

class ShellScanner {
  i = 0;
  readonly contexts: (ShellContext | undefined)[];
  readonly refusals = new Map<number, ShellRefusal>();
  readonly commandNames = new Set<number>();
  readonly programArguments = new Set<number>();
  private pending: Heredoc[] = [];
  /** Variables declared integer (declare -i): an assignment to one is arithmetic. */
  private readonly integers = new Set<string>();

  constructor(
    private readonly items: readonly ShellItem[],
    count: number,
  ) {
    this.contexts = new Array(count).fill(undefined);
  }

  private ch(offset = 0): string {
    const item = this.items[this.i + offset];
    return typeof item === "string" ? item : "";
  }

  private placeholder(offset = 0): number | undefined {
    const item = this.items[this.i + offset];
    return typeof item === "number" ? item : undefined;
  }

  private get done(): boolean {
    return this.i >= this.items.length;
  }

  private refuse(index: number, reason: string, hint: string): void {
    if (!this.refusals.has(index)) this.refusals.set(index, { index, reason, hint });
  }

  /** An interpolation found in `word` where `context` holds. */
  private place(word: CommandWord, index: number, context: ShellContext): void {
    this.contexts[index] ??= context;
    word.placeholders.push(index);
    word.text += "\0";
  }

  /** Refuses every interpolation from `start` to the current position. */
  private refuseSince(start: number, reason: string, hint: string): void {
    for (let k = start; k < this.i && k < this.items.length; k++) {
      const item = this.items[k];
      if (typeof item === "number") this.refuse(item, reason, hint);
    }
  }

  /** Commands until `close` (")" of $(...), "`") or the end; the closing character is consumed. */
  command(close: ")" | "`" | undefined): void {
    let words: CommandWord[] = [];
    let word: CommandWord | undefined;
    let cases = 0;
    let pattern = false;
    const start = () => (word ??= { text: "", placeholders: [] });
    const endWord = () => {
      if (!word) return;
      words.push(word);
      word = undefined;
      const first = words[0]!.text;
      if (first === "case" && words.length === 3 && words[2]!.text === "in") {
        cases++;
        pattern = true;
        words = [];
      } else if (words.length === 1 && first === "esac" && cases > 0) {
        cases--;
        pattern = false;
        words = [];
      }
    };
    let pipeline: Stage[] = [];
    let heredocs: Heredoc[] = [];
    /** `pipe`: the command's output goes on to the next one (`|`), so the pipeline is not complete. */
    const endCommand = (pipe = false) => {
      endWord();
      if (!pattern) this.analyze(words);
      if (words.length > 0 || heredocs.length > 0) {
        pipeline.push({ words, heredocs });
        if (!pipe) {
          this.analyzePipeline(pipeline);
          pipeline = [];
        }
      }
      words = [];
      heredocs = [];
    };
    const inTest = () => words[0]?.text === "[[" && !words.some((w) => w.text === "]]");
    while (!this.done) {
      const index = this.placeholder();
      if (index !== undefined) {
        this.place(start(), index, "word");
        this.i++;
        continue;
      }
      const c = this.ch();
      if (c === close && !(close === ")" && pattern)) {
        endCommand();
        this.i++;
        return;
      }
      switch (c) {
        case " ":
        case "\t":
          endWord();
          this.i++;
          break;
        case "\n":
          endCommand();
          this.i++;
          this.heredocBodies();
          break;
        case "#":
          if (word) {
            word.text += c;
            this.i++;
          } else {
            while (!this.done && this.ch() !== "\n") this.i++;
          }
          break;
        case "\\": {
          const next = this.placeholder(1);
          if (next !== undefined) this.refuse(next, "it follows a backslash", hints.afterBackslash);
          if (this.ch(1) !== "\n") start().text += this.ch(1);
          this.i += 2;
          break;
        }
        case "'":
          this.single(start());
          break;
        case '"':
          this.i++;
          this.expandable("double", start());
          break;
        case "$":
          this.dollar(start(), "word");
          break;
        case "`":
          start().text += "`";
          this.i++;
          this.command("`");
          break;
        case "(":
          if (!word && words.length === 0 && this.ch(1) === "(") {
            const from = this.i;
            this.i += 2;
            this.skipArithmetic(2);
            this.refuseSince(from, "it is inside (( )) arithmetic", hints.arithmetic);
          } else if (pattern) {
            this.i++;
          } else if (word && /=$/.test(word.text)) {
            // An array assignment a=(x y): its elements are words of this command.
            word.text += "(";
            this.i++;
          } else {
            endCommand();
            this.i++;
          }
          break;
        case ")":
          if (pattern) {
            endWord();
            words = [];
            pattern = false;
          } else if (word && word.text.includes("=(")) {
            word.text += ")";
          } else {
            endCommand();
          }
          this.i++;
          break;
        case ";":
        case "&":
        case "|":
          if (inTest() && (c === "&" || c === "|")) {
            endWord();
            this.i++;
            break;
          }
          endCommand(c === "|" && this.ch(1) !== "|");
          if (c === ";" && this.ch(1) === ";") {
            this.i++;
            if (this.ch(1) === "&") this.i++;
            pattern = cases > 0;
          } else if (c === ";" && this.ch(1) === "&") {
            this.i++;
            pattern = cases > 0;
          }
          this.i++;
          break;
        case "<":
        case ">":
          endWord();
          if (this.ch(1) === "(") {
            this.i += 2;
            this.command(")");
          } else if (c === "<" && this.ch(1) === "<" && this.ch(2) !== "<") {
            this.i += 2;
            heredocs.push(this.heredocOperator());
          } else if (c === "<" && this.ch(1) === "<") {
            this.i += 3;
          } else {
            this.i++;
          }
          break;
        default:
          start().text += c;
          this.i++;
      }
    }
    endCommand();
  }

  /** '...': everything literal up to the next quote. */
  private single(word: CommandWord): void {
    this.i++;
    while (!this.done && this.ch() !== "'") {
      const index = this.placeholder();
      if (index !== undefined) {
        this.place(word, index, "single");
      } else {
        word.text += this.ch();
      }
      this.i++;
    }
    this.i++;
  }

  /** The inside of "..." (ends at the closing quote) or of an unquoted here-document body (ends at `end`). */
  private expandable(context: "double" | "heredoc", word: CommandWord, end = Infinity): void {
    while (!this.done && this.i < end) {
      const index = this.placeholder();
      if (index !== undefined) {
        this.place(word, index, context);
        this.i++;
        continue;
      }
      const c = this.ch();
      if (c === '"' && context === "double") {
        this.i++;
        return;
      }
      if (c === "\\") {
        const next = this.placeholder(1);
        if (next !== undefined) this.refuse(next, "it follows a backslash", hints.afterBackslash);
        word.text += this.ch(1);
        this.i += 2;
      } else if (c === "$") {
        this.dollar(word, context);
      } else if (c === "`") {
        const from = this.i;
        this.i++;
        while (!this.done && this.i < end && this.ch() !== "`") this.i += this.ch() === "\\" ? 2 : 1;
        this.i++;
        this.refuseSince(from, `it is inside backticks within ${context === "double" ? '"..."' : "a here-document"}`, hints.backtickInDouble);
      } else {
        word.text += c;
        this.i++;
      }
    }
  }

  /** What follows a $: a substitution, an expansion, arithmetic, $'...', or a plain $name. */
  private dollar(word: CommandWord, context: ShellContext): void {
    const from = this.i;
    const next = this.ch(1);
    const after = this.placeholder(1);
    if (after !== undefined) {
      this.refuse(after, "it follows a $", hints.afterDollar);
      word.text += "$";
      this.i++;
    } else if (next === "(" && this.ch(2) === "(") {
      this.i += 3;
      this.skipArithmetic(2);
      this.refuseSince(from, "it is inside $(( )) arithmetic", hints.arithmetic);
    } else if (next === "(") {
      this.i += 2;
      this.command(")");
    } else if (next === "[") {
      this.i += 2;
      this.skipUntil("]");
      this.refuseSince(from, "it is inside $[ ] arithmetic", hints.arithmetic);
    } else if (next === "{") {
      this.i += 2;
      this.skipBraces();
      this.refuseSince(from, "it is inside a ${...} expansion", hints.parameter);
    } else if (next === "'" && context === "word") {
      this.i += 2;
      while (!this.done && this.ch() !== "'") this.i += this.ch() === "\\" ? 2 : 1;
      this.i++;
      this.refuseSince(from, "it is inside $'...'", hints.ansiC);
    } else {
      word.text += "$";
      this.i++;
    }
  }

  /** Past the `depth` closing parentheses of arithmetic, counting the ones opened inside. */
  private skipArithmetic(depth: number): void {
    while (!this.done && depth > 0) {
      const c = this.ch();
      if (c === "(") depth++;
      else if (c === ")") depth--;
      this.i++;
    }
  }

  private skipUntil(close: string): void {
    while (!this.done && this.ch() !== close) this.i++;
    this.i++;
  }

  /** Past the } that closes a ${, with nested ${...} and quotes inside. */
  private skipBraces(): void {
    let depth = 1;
    while (!this.done && depth > 0) {
      const c = this.ch();
      if (c === "\\") this.i++;
      else if (c === "'") {
        this.i++;
        while (!this.done && this.ch() !== "'") this.i++;
      } else if (c === "{") depth++;
      else if (c === "}") depth--;
      this.i++;
    }
  }

  /** After `<<`: an optional `-` and the delimiter word; its body starts after the next newline. */
  private heredocOperator(): Heredoc {
    const stripTabs = this.ch() === "-";
    if (stripTabs) this.i++;
    while (this.ch() === " " || this.ch() === "\t") this.i++;
    let delimiter = "";
    let quoted = false;
    while (!this.done) {
      const index = this.placeholder();
      if (index !== undefined) {
        this.refuse(index, "it is a here-document delimiter", hints.delimiter);
        this.i++;
        continue;
      }
      const c = this.ch();
      if (metaChars.has(c)) break;
      if (c === "'" || c === '"' || c === "\\") {
        quoted = true;
        if (c === "\\") {
          delimiter += this.ch(1);
          this.i += 2;
          continue;
        }
      } else {
        delimiter += c;
      }
      this.i++;
    }
    const heredoc: Heredoc = { delimiter, quoted, stripTabs };
    this.pending.push(heredoc);
    return heredoc;
  }

  /** The bodies of the here-documents opened on the line that just ended, in order. */
  private heredocBodies(): void {
    const pending = this.pending;
    this.pending = [];
    for (const heredoc of pending) {
      const start = this.i;
      let end = this.items.length;
      let next = this.items.length;
      for (let lineStart = start; lineStart < this.items.length; ) {
        let lineEnd = lineStart;
        while (lineEnd < this.items.length && this.items[lineEnd] !== "\n") lineEnd++;
        const line = this.items.slice(lineStart, lineEnd);
        const text = line.every((item) => typeof item === "string") ? line.join("") : undefined;
        if (text !== undefined && (heredoc.stripTabs ? text.replace(/^\t+/, "") : text) === heredoc.delimiter) {
          end = lineStart;
          next = Math.min(lineEnd + 1, this.items.length);
          break;
        }
        lineStart = lineEnd + 1;
      }
      if (heredoc.quoted) {
        this.i = end;
        this.refuseSince(start, "it is inside a quoted here-document", hints.quotedHeredoc);
      } else {
        this.expandable("heredoc", { text: "", placeholders: [] }, end);
        if (heredoc.runBy) this.refuseSince(start, `it is inside a here-document that ${heredoc.runBy} runs as a script`, hints.stdinProgram);
      }
      this.i = next;
    }
  }

  /**
   * A pipeline whose later command is a shell reading its script from
   * standard input (`echo {{ }} | sh`, `cat <<EOF | bash`, `sh <<EOF`): what
   * the commands before it print, and their here-documents, are its script.
   */
  private analyzePipeline(stages: readonly Stage[]): void {
    stages.forEach((stage, i) => {
      const reader = stdinProgramReader(stage.words);
      if (!reader) return;
      for (const earlier of stages.slice(0, i)) {
        for (const index of earlier.words.flatMap((w) => w.placeholders)) this.refuse(index, `its output is piped into ${reader}, which runs it as a script`, hints.stdinProgram);
      }
      for (const feeding of stages.slice(0, i + 1)) for (const heredoc of feeding.heredocs) heredoc.runBy ??= reader;
    });
  }

  /** One simple command's words: refuses interpolations that a command would parse again. */
  private analyze(words: readonly CommandWord[]): void {
    for (const index of words[commandWordAt(words)]?.placeholders ?? []) this.commandNames.add(index);
    for (const index of programArguments(words)) this.programArguments.add(index);
    for (const refusal of reparsedArguments(words, this.integers)) for (const index of refusal.placeholders) this.refuse(index, refusal.reason, refusal.hint);
  }
}
