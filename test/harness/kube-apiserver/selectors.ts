/** Label and field selectors of list and watch requests (the forms kubectl and client-go send). */
import { badRequest } from "./status.ts";

export type Selector = (object: any) => boolean;

const all: Selector = () => true;

/** Splits on commas outside parentheses: `a in (x,y),b!=c`. */
function terms(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      out.push(current.trim());
      current = "";
    } else current += ch;
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

export function labelSelector(text: string | undefined): Selector {
  if (!text) return all;
  const tests = terms(text).map((term): Selector => {
    let m: RegExpMatchArray | null;
    const labels = (o: any): Record<string, string> => o?.metadata?.labels ?? {};
    if ((m = term.match(/^([\w./-]+)\s*(!=|==|=)\s*([\w.-]*)$/))) {
      const [, key, op, value] = m as unknown as [string, string, string, string];
      return op === "!=" ? (o) => labels(o)[key] !== value : (o) => labels(o)[key] === value;
    }
    if ((m = term.match(/^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/))) {
      const [, key, op, list] = m as unknown as [string, string, string, string];
      const values = list.split(",").map((v) => v.trim());
      return op === "in" ? (o) => values.includes(labels(o)[key] as string) : (o) => !values.includes(labels(o)[key] as string);
    }
    if ((m = term.match(/^!([\w./-]+)$/))) return (o) => !(m![1]! in labels(o));
    if ((m = term.match(/^([\w./-]+)$/))) return (o) => m![1]! in labels(o);
    throw badRequest(`unable to parse requirement: invalid label selector ${JSON.stringify(term)}`);
  });
  return (o) => tests.every((t) => t(o));
}

/** metadata.name and metadata.namespace, the fields every resource supports. */
export function fieldSelector(text: string | undefined): Selector {
  if (!text) return all;
  const tests = terms(text).map((term): Selector => {
    const m = term.match(/^(metadata\.name|metadata\.namespace)\s*(!=|==|=)\s*(.*)$/);
    if (!m) throw badRequest(`field label not supported: ${term.split(/[=!]/)[0]}`);
    const [, field, op, value] = m as unknown as [string, string, string, string];
    const read = (o: any) => (field === "metadata.name" ? o?.metadata?.name : o?.metadata?.namespace ?? "");
    return op === "!=" ? (o) => read(o) !== value : (o) => read(o) === value;
  });
  return (o) => tests.every((t) => t(o));
}
