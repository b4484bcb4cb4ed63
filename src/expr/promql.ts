// Values in PromQL text. A value is data only inside a string literal, and
// only once escaped for it: PromQL's lexer reads Go's escapes in "..." and
// '...' (prometheus/promql/parser/lex.go, lexString and lexEscape) and its
// parser unquotes them with Go's rules (util/strutil.Unquote), so a quote,
// a backslash or a line break in a value would otherwise end the string and
// turn the rest of the value into query code.

/** Where the text scanned so far leaves the next character. */
export interface PromqlScan {
  /** The quote of the string literal it is inside, if any. */
  quote: '"' | "'" | "`" | undefined;
  /** Inside a string, right after a backslash: the next character is escaped. */
  escaping: boolean;
  /** In a # comment, which runs to the end of the line. */
  comment: boolean;
  /** The string is a regular-expression matcher's value (after =~ or !~). */
  regex: boolean;
  /** The last two characters outside strings, comments and whitespace: "=~" or "!~" before a quote opens a regex. */
  recent: string;
}

export const promqlStart: PromqlScan = { quote: undefined, escaping: false, comment: false, regex: false, recent: "" };

/** The state after `text`, from `state`. */
export function scanPromql(text: string, state: PromqlScan): PromqlScan {
  let { quote, escaping, comment, regex, recent } = state;
  for (const c of text) {
    if (comment) {
      if (c === "\n") comment = false;
    } else if (quote !== undefined) {
      if (escaping) escaping = false;
      else if (c === "\\" && quote !== "`") escaping = true;
      else if (c === quote) {
        quote = undefined;
        regex = false;
        recent = "";
      }
    } else if (c === "#") comment = true;
    else if (c === '"' || c === "'" || c === "`") {
      quote = c;
      regex = recent === "=~" || recent === "!~";
    } else if (!/\s/.test(c)) recent = (recent + c).slice(-2);
  }
  return { quote, escaping, comment, regex, recent };
}

/** Why a value cannot sit at `state`, with what to do instead; undefined where it can. */
export function promqlPlaceProblem(state: PromqlScan): { reason: string; hint: string } | undefined {
  const example = 'put it inside a double-quoted string, e.g. rate(http_errors_total{service="{{ alert.labels.service }}"}[5m])';
  if (state.comment) return { reason: "it sits in a # comment, which a line break in the value would end", hint: example };
  if (state.quote === undefined) return { reason: "it sits outside a string literal, where the value would be read as PromQL", hint: example };
  if (state.quote === "`") return { reason: "it sits in a `raw string`, which has no escapes: a backquote in the value would end it", hint: example };
  if (state.escaping) return { reason: "it follows a backslash, which would escape the value's first character", hint: "remove the backslash before {{" };
  return undefined;
}

/** RE2 metacharacters, as Go's regexp.QuoteMeta escapes them. */
const REGEX_SPECIAL = /[\\.+*?()|[\]{}^$]/g;

/**
 * A value as the content of a PromQL string literal opened by `quote`: a
 * backslash, that quote and every control character escaped, so the string
 * holds exactly the value. In a regex matcher's value (`{job=~"..."}`) the
 * value's regex metacharacters are escaped first, so it matches only itself.
 */
export function escapePromqlString(value: string, quote: '"' | "'", regex: boolean): string {
  const text = regex ? value.replace(REGEX_SPECIAL, "\\$&") : value;
  let out = "";
  for (const c of text) {
    if (c === "\\") out += "\\\\";
    else if (c === quote) out += `\\${c}`;
    else if (c === "\n") out += "\\n";
    else if (c === "\r") out += "\\r";
    else if (c === "\t") out += "\\t";
    else if (c < " " || c === "\x7f") out += `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
    else out += c;
  }
  return out;
}

/** Whether the text holds a UTF-16 surrogate without its pair, which no UTF-8 request can carry as it is. */
export function hasLoneSurrogate(text: string): boolean {
  return /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}
