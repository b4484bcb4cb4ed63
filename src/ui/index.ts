// Terminal output: colour only on a TTY and never when NO_COLOR is set;
// colour never carries meaning alone (verdict words are always printed).

export { formatMs } from "./duration.ts";
export { foldHostNames } from "./hostset.ts";
export { LineWriter } from "./writer.ts";
export { eventJsonLine, jsonLine, jsonLinesSink, roundMs } from "./json.ts";

export interface Palette {
  green(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

const plain: Palette = {
  green: (t) => t,
  red: (t) => t,
  yellow: (t) => t,
  dim: (t) => t,
  bold: (t) => t,
};

const sgr = (open: number, close: number) => (t: string) => `\x1b[${open}m${t}\x1b[${close}m`;

const ansi: Palette = {
  green: sgr(32, 39),
  red: sgr(31, 39),
  yellow: sgr(33, 39),
  dim: sgr(2, 22),
  bold: sgr(1, 22),
};

/**
 * Whether stdout is a terminal, as Bun worked it out at startup (it also
 * honours NO_COLOR). process.stdout.isTTY would cost milliseconds of startup,
 * and a stat of stdout a thread-pool thread.
 */
export function stdoutIsTerminal(): boolean {
  return Bun.enableANSIColors;
}

/** Colour is used when the stream is a TTY, NO_COLOR is unset and TERM is not "dumb". */
export function paletteFor(stream: { isTTY?: boolean }, env = process.env): Palette {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return plain;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0") return ansi;
  if (!stream.isTTY || env.TERM === "dumb") return plain;
  return ansi;
}
